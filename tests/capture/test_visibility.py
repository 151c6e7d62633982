"""Exclusions follow what is visible, not the focus: a real window manager (openbox), real xterms."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from Xlib import Xatom
from Xlib import display as xdisplay

from screenrecall.capture.gate import ChangeGate
from screenrecall.capture.privacy import ExclusionFilter, PauseSwitch
from screenrecall.capture.sampler import ScreenSampler
from screenrecall.capture.screen import ScreenGrabber
from screenrecall.capture.window import WindowProbe, is_known
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import Frame, Pixels, Window
from tests.capture.test_sampler import queued
from tests.support.desktop import Desktop
from tests.support.xvfb import Xvfb

pytestmark = pytest.mark.display

GREY = (90, 90, 90)
VAULT = Window(title="Passwords.kdbx - KeePassXC", app="KeePassXC")
NOTES = Window(title="notes.md", app="Code")


@pytest.fixture
def desktop(xvfb: Xvfb) -> Iterator[Desktop]:
    xvfb.fill(GREY)
    with Desktop(xvfb.display) as desk:
        yield desk


@pytest.fixture
def dual(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Xvfb, Desktop]]:
    with Xvfb(640, 480, monitors=2) as server:
        monkeypatch.setenv("DISPLAY", server.display)
        server.fill(GREY)
        with Desktop(server.display) as desk:
            yield server, desk


def grabber(exclusions: ExclusionFilter | None = None) -> ScreenGrabber:
    exclusions = exclusions or ExclusionFilter([], [], defaults=True)
    return ScreenGrabber([], WindowProbe(), excluded=exclusions.matches)


def grab(exclusions: ExclusionFilter | None = None) -> list[Frame]:
    screen = grabber(exclusions)
    try:
        return screen.grab(0)
    finally:
        screen.close()


def green_pixels(pixels: Pixels) -> int:
    return int(((pixels[..., 1] > 200) & (pixels[..., 0] < 60) & (pixels[..., 2] < 60)).sum())


def test_a_visible_password_manager_is_blacked_out_while_another_window_has_the_focus(desktop: Desktop) -> None:
    # The everyday case: copy the password, click into the browser; the vault stays in view.
    desktop.xterm(VAULT.title, VAULT.app, "#00ff00", (10, 10, 280, 200))
    notes = desktop.xterm(NOTES.title, NOTES.app, "#0000ff", (320, 10, 300, 300))
    desktop.activate(notes)

    (frame,) = grab()

    assert green_pixels(frame.pixels) == 0
    # The vault's whole frame, title bar included, is black; the focused window is untouched.
    assert frame.pixels[10:210, 10:290].max() == 0
    assert tuple(frame.pixels[200, 470]) == (0, 0, 255)
    assert frame.window == NOTES


def test_an_excluded_window_covered_by_another_hides_nothing_of_it(desktop: Desktop) -> None:
    desktop.xterm(VAULT.title, VAULT.app, "#00ff00", (0, 0, 400, 300))
    notes = desktop.xterm(NOTES.title, NOTES.app, "#0000ff", (0, 0, 400, 300))
    desktop.activate(notes)

    (frame,) = grab()

    assert tuple(frame.pixels[150, 200]) == (0, 0, 255)  # the editor on top is kept as it is
    assert frame.window == NOTES


def test_a_moved_excluded_window_is_hidden_where_it_now_is(desktop: Desktop) -> None:
    vault = desktop.xterm(VAULT.title, VAULT.app, "#00ff00", (0, 0, 200, 150))
    desktop.activate(desktop.xterm(NOTES.title, NOTES.app, "#0000ff", (300, 200, 300, 250)))
    desktop.move(vault, 380, 10)

    (frame,) = grab()

    assert green_pixels(frame.pixels) == 0
    assert tuple(frame.pixels[100, 100]) == GREY  # where it was is shown again


def test_each_monitor_is_labelled_with_its_own_window(dual: tuple[Xvfb, Desktop]) -> None:
    _, desktop = dual
    left = desktop.xterm("Inbox - Mail", "Thunderbird", "#0000ff", (20, 20, 400, 300))
    desktop.xterm("build log", "XTerm", "#ffff00", (700, 20, 400, 300))
    desktop.activate(left)

    frames = {frame.monitor: frame for frame in grab()}

    assert frames[1].window == Window("Inbox - Mail", "Thunderbird")
    assert frames[2].window == Window("build log", "XTerm")


def test_an_excluded_window_on_the_second_monitor_is_hidden_there_only(dual: tuple[Xvfb, Desktop]) -> None:
    _, desktop = dual
    editor = desktop.xterm(NOTES.title, NOTES.app, "#0000ff", (20, 20, 400, 300))
    desktop.xterm("Bitwarden", "Bitwarden", "#00ff00", (660, 20, 300, 200))
    desktop.activate(editor)

    frames = {frame.monitor: frame for frame in grab()}

    assert frames[1].window == NOTES and tuple(frames[1].pixels[200, 200]) == (0, 0, 255)
    assert green_pixels(frames[2].pixels) == 0
    assert frames[2].window == Window("Bitwarden", "Bitwarden")  # its own window: the sampler drops it


def test_the_sampler_drops_a_monitor_whose_own_window_is_excluded_and_keeps_the_other(
    dual: tuple[Xvfb, Desktop], tmp_path: Path
) -> None:
    _, desktop = dual
    editor = desktop.xterm(NOTES.title, NOTES.app, "#0000ff", (20, 20, 600, 440))
    desktop.xterm(VAULT.title, VAULT.app, "#00ff00", (660, 20, 600, 440))
    desktop.activate(editor)
    exclusions = ExclusionFilter([], [], defaults=True)
    inbox = EncodeInbox(max_frames=8, max_files=1)
    pause = PauseSwitch(tmp_path / "pause.json")
    sampler = ScreenSampler(grabber(exclusions), ChangeGate(60, settle_s=0), exclusions, pause, inbox)
    try:
        sampler.tick()
    finally:
        sampler.close()

    (kept,) = queued(inbox)
    assert kept.monitor == 1 and kept.window == NOTES
    assert sampler.stats.excluded == 1


def test_fails_closed_when_the_window_list_cannot_be_read(desktop: Desktop, xvfb: Xvfb) -> None:
    desktop.activate(desktop.xterm(NOTES.title, NOTES.app, "#0000ff", (0, 0, 300, 200)))
    blind = ScreenGrabber([], WindowProbe(display=":65000"), excluded=ExclusionFilter([], [], defaults=True).matches)
    try:
        (frame,) = blind.grab(0)
    finally:
        blind.close()

    assert not is_known(frame.window)
    assert ExclusionFilter([], [], defaults=True).blocks(frame.window)


def test_without_a_window_manager_the_x_tree_tells_what_is_visible(xvfb: Xvfb) -> None:
    xvfb.fill(GREY)
    xvfb.show_window((0, 255, 0), 0, 0, 100, 100, title=VAULT.title, app=VAULT.app)
    xvfb.set_active(xvfb.show_window((0, 0, 255), 200, 0, 100, 100, title=NOTES.title, app=NOTES.app))
    assert "DISPLAY" in os.environ

    (frame,) = grab()

    assert green_pixels(frame.pixels) == 0
    assert frame.window == NOTES and is_known(frame.window)


@pytest.mark.parametrize(
    ("title", "app"),
    [
        ("Example Domain — Mozilla Firefox Private Browsing", "firefox"),
        ("Example Domain - Mozilla Firefox (Private Browsing)", "Navigator"),
        ("New Tab - Google Chrome (Incognito)", "Google-chrome"),
        ("New Incognito tab - Chromium", "Chromium"),
        ("New Private Tab - Brave", "Brave-browser"),
        ("New InPrivate tab - [InPrivate] - Microsoft Edge", "Microsoft-edge"),
        ("Passwords.kdbx [Locked] - KeePassXC", "KeePassXC"),
        ("All items", "1Password"),
        ("My vault", "Bitwarden"),
        ("Vault", "org.keepassxc.KeePassXC"),
    ],
)
def test_private_browsing_and_password_managers_are_excluded_by_default(title: str, app: str) -> None:
    assert ExclusionFilter([], [], defaults=True).matches(Window(title, app))
    assert not ExclusionFilter([], [], defaults=False).matches(Window(title, app))


@pytest.mark.parametrize(
    ("title", "app"),
    [
        ("Example Domain — Mozilla Firefox", "firefox"),
        ("How private browsing works - Google Chrome", "Google-chrome"),  # a page about it is not it
        ("New Tab - Brave", "Brave-browser"),
        ("keepassxc.md — Code", "Code"),
        ("1password-cli docs - Mozilla Firefox", "firefox"),
    ],
)
def test_ordinary_browser_and_editor_windows_are_not_excluded_by_default(title: str, app: str) -> None:
    assert not ExclusionFilter([], [], defaults=True).matches(Window(title, app))


def test_a_monitor_showing_only_an_excluded_window_is_dropped_and_counted(desktop: Desktop, tmp_path: Path) -> None:
    desktop.activate(desktop.xterm(VAULT.title, VAULT.app, "#00ff00", (0, 0, 640, 440)))
    exclusions = ExclusionFilter([], [], defaults=True)
    inbox = EncodeInbox(max_frames=8, max_files=1)
    gate, pause = ChangeGate(60, settle_s=0), PauseSwitch(tmp_path / "p")
    sampler = ScreenSampler(grabber(exclusions), gate, exclusions, pause, inbox)
    try:
        sampler.tick()
    finally:
        sampler.close()

    assert queued(inbox) == []
    assert sampler.stats.excluded == 1


def test_a_window_closed_while_the_list_is_read_is_skipped_not_a_failure(xvfb: Xvfb) -> None:
    xvfb.fill(GREY)
    vault = xvfb.show_window((0, 255, 0), 0, 0, 100, 100, title=VAULT.title, app=VAULT.app)
    notes = xvfb.show_window((0, 0, 255), 200, 0, 100, 100, title=NOTES.title, app=NOTES.app)
    xvfb.destroy_window(vault)
    # Play a window manager whose list still names the closed window.
    conn = xdisplay.Display(xvfb.display)
    try:
        root = conn.screen().root
        root.change_property(conn.intern_atom("_NET_CLIENT_LIST_STACKING"), Xatom.WINDOW, 32, [vault, notes])
        conn.sync()
        probe = WindowProbe()
        layout = probe.layout()
        probe.close()
    finally:
        conn.close()

    assert layout is not None
    assert [seen.window for seen in layout] == [NOTES]


def test_an_unreadable_window_list_is_said_once_not_every_tick(caplog: pytest.LogCaptureFixture) -> None:
    probe = WindowProbe(display=":65000")
    with caplog.at_level(logging.WARNING, logger="screenrecall.capture.window"):
        assert probe.layout() is None
        assert probe.layout() is None
    probe.close()
    assert [r.getMessage() for r in caplog.records].count(
        "the window list cannot be read (DisplayConnectionError); screen frames are dropped"
    ) == 1
