"""Times and durations as typed on the command line: 2h, today, yesterday, ISO 8601."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from screenrecall.errors import ScreenrecallError
from screenrecall.recall.when import ago, parse_duration, parse_when

# 2026-11-28 14:30:00 in Kolkata (UTC+05:30 all year: no DST to blur the expectations).
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def kolkata() -> Iterator[None]:
    """Local time is a zone far from UTC, so local and UTC readings cannot agree by accident."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        yield
    time.tzset()


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("1.5h", 5400)],
)
def test_durations_in_every_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_when(text, now=NOW) == int((NOW - seconds) * 1000)


def test_a_bare_number_is_seconds_for_a_duration_but_not_a_time_ago() -> None:
    # `pause --for 45` is 45 s; `--since 2026` or `--since 20261128` must not mean seconds ago.
    assert parse_duration("45") == 45
    with pytest.raises(ScreenrecallError, match="bad time"):
        parse_when("2026", now=NOW)


def test_durations_ignore_case_and_surrounding_space() -> None:
    assert parse_duration(" 2H ") == 7200
    assert parse_duration("10 m") == 600


@pytest.mark.parametrize("text", ["0s", "0", "-2h", "2y", "h", "", "2h30m", "1e3s"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ScreenrecallError, match=r"bad duration .*use e\.g\. 90s, 15m, 2h or 1d"):
        parse_duration(text)


def test_now_today_and_yesterday_are_local_midnights() -> None:
    local_midnight = datetime(2026, 11, 28, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert parse_when("now", now=NOW) == int(NOW * 1000)
    assert parse_when("today", now=NOW) == ms(local_midnight)
    assert parse_when(" Yesterday ", now=NOW) == ms(local_midnight - timedelta(days=1))


def test_today_follows_the_local_date_not_the_utc_date() -> None:
    # 20:00 UTC on the 28th is already 01:30 on the 29th in Kolkata.
    late = datetime(2026, 11, 28, 20, 0, tzinfo=UTC).timestamp()
    assert parse_when("today", now=late) == ms(datetime(2026, 11, 28, 18, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T14:00+02:00", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("2026-11-28T12:00:00Z", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("2026-11-28T12:00:00.250+00:00", datetime(2026, 11, 28, 12, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-28 14:00:00-05:00", datetime(2026, 11, 28, 19, 0, tzinfo=UTC)),
    ],
)
def test_iso_times_with_a_zone_mean_exactly_that_instant(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == ms(expected)


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("2026-11-28T14:00", datetime(2026, 11, 28, 8, 30, tzinfo=UTC)),
        ("2026-11-28 14:00:30", datetime(2026, 11, 28, 8, 30, 30, tzinfo=UTC)),
        ("2026-11-28", datetime(2026, 11, 27, 18, 30, tzinfo=UTC)),
    ],
)
def test_iso_times_without_a_zone_are_local_time(text: str, expected_utc: datetime) -> None:
    assert parse_when(text, now=NOW) == ms(expected_utc)


@pytest.mark.parametrize("text", ["last tuesday", "2026-13-01", "28/11/2026", "tomorrowish", "2h ago", ""])
def test_bad_times_name_the_input_and_every_accepted_form(text: str) -> None:
    with pytest.raises(ScreenrecallError) as caught:
        parse_when(text, now=NOW)
    message = str(caught.value)
    assert repr(text) in message
    for form in ("2h", "today", "yesterday", "ISO 8601"):
        assert form in message


def test_parse_when_defaults_to_the_current_time() -> None:
    before = int(time.time() * 1000)
    assert before - 3_600_000 <= parse_when("1h") <= int(time.time() * 1000) - 3_600_000


@pytest.mark.parametrize(
    ("age_s", "expected"),
    [(0, "0s ago"), (59, "59s ago"), (60, "1m ago"), (3599, "59m ago"), (7200, "2h ago"), (3 * 86400 + 5, "3d ago")],
)
def test_ago_says_the_largest_whole_unit(age_s: int, expected: str) -> None:
    assert ago(int((NOW - age_s) * 1000), now=NOW) == expected


def test_ago_of_a_future_time_is_zero_seconds() -> None:
    assert ago(int((NOW + 30) * 1000), now=NOW) == "0s ago"
