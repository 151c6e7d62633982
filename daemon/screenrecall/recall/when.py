"""Times and durations as people type them: 90s, 15m, 2h, 3d; ISO dates; today, yesterday."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

from screenrecall.errors import ScreenrecallError

DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw]?)$")
# A time "ago" needs its unit: a bare number could be an ISO date (20261128) or a year.
AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds in '90s', '15m', '2h', '1d', '1w' (a bare number is seconds)."""
    match = DURATION.match(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ScreenrecallError(f"bad duration {text!r}: use e.g. 90s, 15m, 2h or 1d")
    return float(match.group(1)) * UNIT_S[match.group(2)]


def parse_when(text: str, now: float | None = None) -> int:
    """Epoch ms for '2h' (ago), 'today', 'yesterday', or an ISO 8601 date/time (local when no zone)."""
    now = time.time() if now is None else now
    word = text.strip().lower()
    midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "now":
        return int(now * 1000)
    if word == "today":
        return int(midnight.timestamp() * 1000)
    if word == "yesterday":
        return int((midnight - timedelta(days=1)).timestamp() * 1000)
    if AGO.match(word):
        return int((now - parse_duration(word)) * 1000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScreenrecallError(
            f"bad time {text!r}: use a duration ago (2h, 3d), today, yesterday, or ISO 8601 (2026-11-28T14:00)"
        ) from None
    return int(moment.timestamp() * 1000)  # naive = local time, as the user meant it


def ago(ms: int, now: float | None = None) -> str:
    seconds = max(0, int((time.time() if now is None else now) - ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
