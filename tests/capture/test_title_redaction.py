"""Window titles are redacted once, in the sampler, before any stage sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from screenrecall.capture.gate import ChangeGate
from screenrecall.capture.privacy import ExclusionFilter, PauseSwitch, title_redactor
from screenrecall.capture.sampler import ScreenSampler
from screenrecall.capture.screen import ScreenGrabber
from screenrecall.capture.window import WindowProbe
from screenrecall.config import Config
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import Window
from tests.capture.test_sampler import queued
from tests.support.xvfb import Xvfb


@pytest.mark.display
def test_a_password_in_a_terminal_title_never_leaves_the_sampler(xvfb: Xvfb, tmp_path: Path) -> None:
    xvfb.fill((90, 90, 90))
    terminal = xvfb.show_window(
        (20, 20, 20), 0, 0, 640, 480, title="root@db: mysql -u root -pHunter2 shop", app="XTerm"
    )
    xvfb.set_active(terminal)
    exclusions = ExclusionFilter([], [], defaults=True)
    inbox = EncodeInbox(max_frames=4, max_files=1)
    sampler = ScreenSampler(
        ScreenGrabber([], WindowProbe(), excluded=exclusions.matches),
        ChangeGate(60, settle_s=0),
        exclusions,
        PauseSwitch(tmp_path / "pause.json"),
        inbox,
        redact_title=title_redactor(Config().redaction.kinds),
    )
    try:
        sampler.tick()
    finally:
        sampler.close()

    (frame,) = queued(inbox)
    assert frame.window == Window("root@db: mysql -u root -p[redacted:password] shop", "XTerm")


def test_browser_titles_lose_e_mail_addresses_and_keep_the_rest() -> None:
    redact = title_redactor(["email", "token"])
    assert redact is not None
    assert redact("Inbox (3) - jane.doe@example.com - Mail - Mozilla Firefox") == (
        "Inbox (3) - [redacted:email] - Mail - Mozilla Firefox"
    )
    assert redact("notes.md - Code") == "notes.md - Code"
    assert title_redactor([]) is None
