"""Capture pauses while the session is locked: a private dbus-daemon with a fake logind and screensaver."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from screenrecall.capture.gate import ChangeGate
from screenrecall.capture.privacy import ExclusionFilter, PauseSwitch
from screenrecall.capture.sampler import ScreenSampler
from screenrecall.capture.screen import ScreenGrabber
from screenrecall.capture.window import WindowProbe
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.system.session_lock import SessionLock
from screenrecall.system.status import Status
from tests.capture.test_sampler import queued
from tests.support.fake_dbus import SESSION_PATH, FakeDesktop, PrivateBus
from tests.support.xvfb import Xvfb


@pytest.fixture
def bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateBus]:
    # Short path: a Unix socket path must fit in 108 bytes, pytest's tmp_path may not.
    directory = Path(tempfile.mkdtemp(prefix="sr-bus-"))
    try:
        with PrivateBus(directory) as private:
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", private.address)
            monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", private.address)
            monkeypatch.delenv("XDG_SESSION_ID", raising=False)
            yield private
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def lock() -> Iterator[SessionLock]:
    session_lock = SessionLock()
    yield session_lock
    session_lock.close()


def test_follows_loginds_locked_hint_on_the_users_display_session(bus: PrivateBus, lock: SessionLock) -> None:
    with FakeDesktop(bus.address, screensaver=False) as desktop:
        assert not lock.locked() and lock.state == "unlocked"
        desktop.locked = True
        assert lock.locked() and lock.state == "locked"
        desktop.locked = False
        assert not lock.locked()
    assert f"{SESSION_PATH} Get" in desktop.calls  # found through GetUser -> User.Display


def test_uses_xdg_session_id_when_running_inside_the_session(bus: PrivateBus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_SESSION_ID", "c1")
    with FakeDesktop(bus.address, screensaver=False) as desktop:
        desktop.locked = True
        lock = SessionLock()
        try:
            assert lock.locked()
        finally:
            lock.close()
    assert any(call.endswith("GetSession") for call in desktop.calls)
    assert not any(call.endswith("GetUser") for call in desktop.calls)


def test_an_active_screensaver_counts_as_locked(bus: PrivateBus, lock: SessionLock) -> None:
    with FakeDesktop(bus.address, logind=False) as desktop:
        assert not lock.locked()
        desktop.screensaver_active = True
        assert lock.locked()


def test_without_any_bus_the_state_is_unknown_and_capture_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/none")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/none")
    lock = SessionLock()
    assert not lock.locked()
    assert lock.state == "unknown"
    lock.close()


@pytest.mark.display
def test_the_sampler_pauses_while_locked_and_resumes_on_unlock(
    bus: PrivateBus, lock: SessionLock, xvfb: Xvfb, tmp_path: Path
) -> None:
    xvfb.fill((0, 90, 180))
    inbox = EncodeInbox(max_frames=4, max_files=1)
    now = [1000.0]
    sampler = ScreenSampler(
        ScreenGrabber([], WindowProbe()),
        ChangeGate(1, settle_s=0),
        ExclusionFilter([], []),
        PauseSwitch(tmp_path / "pause.json"),
        inbox,
        session_locked=lock.locked,
        clock=lambda: now[0],
    )
    try:
        with FakeDesktop(bus.address) as desktop:
            desktop.locked = True
            sampler.tick()
            assert queued(inbox) == [] and sampler.stats.locked
            assert "locked" in Status(running=True, locked=sampler.stats.locked).summary()
            desktop.locked = False
            now[0] += 2
            sampler.tick()
            assert len(queued(inbox)) == 1 and not sampler.stats.locked
    finally:
        sampler.close()
