"""The active-window probe against a real Xvfb, where the test plays the window manager."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from screenrecall.capture.window import UNKNOWN_WINDOW, WindowProbe, is_known
from screenrecall.pipeline.messages import Window
from tests.support.xvfb import Xvfb

BLUE = (0, 0, 255)


@pytest.fixture
def probe(xvfb: Xvfb) -> Iterator[WindowProbe]:
    window_probe = WindowProbe()
    yield window_probe
    window_probe.close()


@pytest.mark.display
def test_reads_utf8_title_and_class_of_the_active_window(xvfb: Xvfb, probe: WindowProbe) -> None:
    window_id = xvfb.show_window(BLUE, 0, 0, 50, 50, title="Résumé — draft ✓", app="LibreOffice")
    xvfb.set_active(window_id)

    assert probe.current() == Window(title="Résumé — draft ✓", app="LibreOffice")


@pytest.mark.display
def test_falls_back_to_wm_name_without_net_wm_name(xvfb: Xvfb, probe: WindowProbe) -> None:
    window_id = xvfb.show_window(BLUE, 0, 0, 50, 50, title="old xterm", app="XTerm", legacy_title=True)
    xvfb.set_active(window_id)

    assert probe.current() == Window(title="old xterm", app="XTerm")


@pytest.mark.display
def test_follows_the_active_window_as_it_changes(xvfb: Xvfb, probe: WindowProbe) -> None:
    first = xvfb.show_window(BLUE, 0, 0, 50, 50, title="one", app="A")
    second = xvfb.show_window(BLUE, 60, 0, 50, 50, title="two", app="B")

    xvfb.set_active(first)
    assert probe.current() == Window(title="one", app="A")
    xvfb.set_active(second)
    assert probe.current() == Window(title="two", app="B")


@pytest.mark.display
def test_window_without_title_or_class_is_known_but_empty(xvfb: Xvfb, probe: WindowProbe) -> None:
    xvfb.set_active(xvfb.show_window(BLUE, 0, 0, 50, 50))

    window = probe.current()

    assert window == Window()
    assert window is not None and is_known(window)


@pytest.mark.display
def test_is_unknown_without_a_window_manager(xvfb: Xvfb, probe: WindowProbe) -> None:
    xvfb.show_window(BLUE, 0, 0, 50, 50, title="mapped but nobody says it is active")

    assert probe.current() is None


@pytest.mark.display
def test_no_active_window_is_an_empty_known_window(xvfb: Xvfb, probe: WindowProbe) -> None:
    xvfb.set_active(0)  # EWMH: None when no window has the focus

    assert probe.current() == Window()


@pytest.mark.display
def test_is_unknown_when_the_active_window_vanished(xvfb: Xvfb, probe: WindowProbe) -> None:
    window_id = xvfb.show_window(BLUE, 0, 0, 50, 50, title="closing")
    xvfb.set_active(window_id)
    xvfb.destroy_window(window_id)

    assert probe.current() is None


@pytest.mark.display
def test_is_unknown_when_the_server_is_gone_and_recovers_on_a_new_one(
    xvfb: Xvfb, probe: WindowProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    xvfb.set_active(0)
    assert probe.current() == Window()

    xvfb.kill()
    assert probe.current() is None
    assert probe.current() is None

    with Xvfb() as replacement:
        monkeypatch.setenv("DISPLAY", replacement.display)
        replacement.set_active(replacement.show_window(BLUE, 0, 0, 9, 9, title="back", app="B"))
        assert probe.current() == Window(title="back", app="B")
        probe.close()


def test_is_unknown_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    probe = WindowProbe()

    assert probe.current() is None
    probe.close()


@pytest.mark.display
def test_never_logs_window_titles(xvfb: Xvfb, probe: WindowProbe, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    window_id = xvfb.show_window(BLUE, 0, 0, 50, 50, title="bank statement 1234", app="Evince")
    xvfb.set_active(window_id)
    probe.current()
    xvfb.destroy_window(window_id)
    probe.current()

    assert caplog.records, "the probe is expected to log something at debug"
    assert "bank statement" not in caplog.text


def test_unknown_window_never_equals_a_real_empty_window() -> None:
    assert Window() != UNKNOWN_WINDOW
    assert not is_known(UNKNOWN_WINDOW)
    assert is_known(Window())
    assert is_known(Window(title="t", app="a"))
