"""Wayland capture through the xdg-desktop-portal ScreenCast interface: one long-lived cast of every
monitor, consent kept across restarts with a restore token on disk, recovered when it breaks.

grab() never waits for a frame: each monitor's newest frame is whatever its stream last delivered
(a cast sends frames only when the screen changes), so a silent stream reads as an unchanged
screen and the gate's heartbeat still re-confirms it. A closed session (revoked, portal restart),
a dead stream (PipeWire restart) or a failed start raise DisplayUnavailable: the sampler logs it
once, shows it in status and retries with back-off, and the next grab opens a fresh cast with the
saved token, so the user is asked again only if the token no longer works.
"""

from __future__ import annotations

import logging
import os
import select
from collections.abc import Sequence
from pathlib import Path

from screenrecall import paths
from screenrecall.capture.pipewire_stream import StreamReader
from screenrecall.capture.portal_session import Cast, ConsentRefused, PortalError, PortalSession
from screenrecall.capture.screen import DisplayUnavailable
from screenrecall.capture.shots import Shot, grab_round
from screenrecall.capture.sway import SwayProbe
from screenrecall.capture.window import UNKNOWN_WINDOW
from screenrecall.pipeline.messages import Frame, Window, geometry_of

logger = logging.getLogger(__name__)

TOKEN_FILE = "portal-restore-token"


class RestoreToken:
    """The portal's restore token in a 0600 file in our data dir ("" when there is none yet)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> RestoreToken:
        return cls(paths.data_dir() / TOKEN_FILE)

    def load(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("restore token %s unreadable (%s); the portal will ask for consent again", self.path, exc)
            return ""

    def save(self, token: str) -> None:
        paths.ensure_private_dir(self.path.parent)
        partial = self.path.with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token)
        partial.replace(self.path)


class PortalGrabber:
    """Same contract as ScreenGrabber: grab(now_ms) -> frames, close(). Used from one thread.

    probe: the focused window (Sway IPC), or None where the desktop cannot say; frames are then
    tagged unknown (exclusions drop them), or empty-known with unknown_windows = "capture".
    """

    def __init__(
        self,
        monitors: Sequence[int] = (),
        probe: SwayProbe | None = None,
        token: RestoreToken | None = None,
        *,
        unknown_windows: str = "pause",
        bus_address: str = "",
    ) -> None:
        self._selected = tuple(monitors)
        self._probe = probe
        self._token = token or RestoreToken.default()
        self._unknown = UNKNOWN_WINDOW if unknown_windows != "capture" else Window()
        self._session = PortalSession(bus_address)
        self._cast: Cast | None = None
        self._readers: list[StreamReader] = []
        self._places: list[str] = []  # each reader's monitor on the desktop
        self._refused = ""
        self.opened = 0  # casts started (1 + recoveries)
        self.token_reused = False

    def grab(self, now_ms: int) -> list[Frame]:
        """One Frame per selected monitor whose stream has delivered a frame; all-black ones skipped."""
        self._ensure_cast()
        return grab_round(self._latest, self._window, self._unknown, self._selected, now_ms)

    def _latest(self) -> list[Shot]:
        # None for a cast monitor that has delivered nothing yet: a new cast sends its first frame on damage.
        places = enumerate(zip(self._readers, self._places, strict=True), 1)
        return [(number, reader.latest()[0], place) for number, (reader, place) in places]

    def _window(self) -> Window | None:
        return self._probe.current() if self._probe is not None else None

    def close(self) -> None:
        self._teardown()
        if self._probe is not None:
            self._probe.close()

    @property
    def readers(self) -> tuple[StreamReader, ...]:
        """The open streams, one per cast monitor in monitor order (for status and benchmarks)."""
        return tuple(self._readers)

    @property
    def has_window_source(self) -> bool:
        return self._probe is not None

    def _ensure_cast(self) -> None:
        if self._refused:
            raise DisplayUnavailable(self._refused)
        if self._cast is not None:
            problem = self._health()
            if not problem:
                return
            self._teardown()
            raise DisplayUnavailable(f"{problem}; opening a new screen cast")
        saved = self._token.load()
        try:
            cast = self._session.open(saved)
        except ConsentRefused as exc:
            self._session.close()
            # Asking again on every retry would put the dialog back every minute: ask at the
            # next start instead.
            self._refused = f"{exc}; nothing is captured until the daemon is restarted (then it asks again)"
            raise DisplayUnavailable(self._refused) from exc
        except PortalError as exc:
            self._session.close()
            raise DisplayUnavailable(f"the screen-cast portal is not usable: {exc}") from exc
        self._cast = cast
        self.opened += 1
        self._note_token(saved, cast.restore_token)
        ordered = sorted(cast.streams, key=lambda s: (s.x, s.y))
        self._places = [geometry_of(s.x, s.y, s.width, s.height) for s in ordered]
        try:
            self._readers = [
                StreamReader(cast.pipewire_fd, s.node_id, f"monitor {n}") for n, s in enumerate(ordered, 1)
            ]
        except OSError as exc:
            self._teardown()
            raise DisplayUnavailable(f"cannot start gst-launch-1.0 for the PipeWire stream: {exc}") from exc
        described = ", ".join(f"{n}: {place}" for n, place in enumerate(self._places, 1))
        logger.info("screen cast started through the portal: %d monitor(s) (%s)", len(ordered), described)

    def _note_token(self, saved: str, granted: str) -> None:
        self.token_reused = bool(saved) and granted == saved
        if self.token_reused:
            logger.info("reusing the saved screen-cast permission: no new consent was asked")
        if saved and granted != saved:
            logger.warning(
                "the saved screen-cast permission was not accepted (revoked or expired); a new one was granted"
            )
        if not granted:
            logger.warning("the portal gave no restore token: it will ask for consent again after a restart")
        elif granted != saved:
            self._token.save(granted)

    def _health(self) -> str:
        if self._session.poll_closed():
            return "the portal closed the screen-cast session (permission revoked, or the portal restarted)"
        if self._cast is not None and _hung_up(self._cast.pipewire_fd):
            return "PipeWire went away (it exited or restarted)"
        for reader in self._readers:
            problem = reader.problem()
            if problem:
                return problem
        return ""

    def _teardown(self) -> None:
        readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        cast, self._cast = self._cast, None
        if cast is not None:
            os.close(cast.pipewire_fd)
        self._session.close()


def _hung_up(fd: int) -> bool:
    """True when the other end of our PipeWire connection is gone: the daemon exited or restarted.

    pipewiresrc itself does not notice (its child keeps running and silently delivers nothing),
    so this check on our own copy of the portal's fd is what detects a PipeWire restart.
    """
    poller = select.poll()
    poller.register(fd, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return any(events & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
