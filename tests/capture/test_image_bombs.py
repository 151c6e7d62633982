"""Image bombs: huge files refused unopened, huge pictures decoded small, and a file that killed us not read again."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from PIL import Image

from screenrecall.capture.reading_journal import ReadingJournal
from screenrecall.capture.rejects import RejectLedger
from screenrecall.capture.untrusted_image import MAX_FILE_BYTES, MAX_SIDE, BadImage, load_image, pillow_formats
from screenrecall.config import Config
from tests.support.daemon import REPO

FORMATS = pillow_formats(["png", "jpg", "tif"])


def test_a_file_over_the_size_cap_is_refused_before_pillow_opens_it(tmp_path: Path) -> None:
    bomb = tmp_path / "huge.tif"
    with bomb.open("wb") as handle:
        handle.write(b"II*\x00\x08\x00\x00\x00")  # a TIFF header ...
        handle.truncate(MAX_FILE_BYTES + 1)  # ... and a sparse tail: no disk used, a 64 MB file
    try:
        load_image(bomb, max_pixels=10**9, formats=FORMATS)
    except BadImage as exc:
        assert "too large a file" in str(exc)
    else:
        raise AssertionError("the oversized file was read")


def _peak_rss_mb_decoding(path: Path) -> tuple[float, tuple[int, ...]]:
    """Decodes in a fresh interpreter so its peak RSS is the decode's own."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        from screenrecall.capture.untrusted_image import load_image, pillow_formats
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pixels = load_image(Path({str(path)!r}), max_pixels=89_478_485, formats=pillow_formats(["png", "jpg"]))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, *pixels.shape)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return int(out[0]) / 1024, tuple(int(x) for x in out[1:])


def test_a_palette_png_bomb_under_the_pixel_cap_decodes_small_and_cheaply(tmp_path: Path) -> None:
    bomb = tmp_path / "palette.png"
    image = Image.new("P", (9000, 9000), 0)  # 81 Mpx, under the 89 Mpx cap; a ~80 KB file
    image.putpalette([0, 0, 0, 255, 255, 255] * 128)
    image.info["transparency"] = 0
    image.save(bomb, optimize=True)
    del image
    assert bomb.stat().st_size < 200_000
    grown_mb, shape = _peak_rss_mb_decoding(bomb)
    assert max(shape[:2]) <= MAX_SIDE
    assert grown_mb < 300, f"decoding grew the process by {grown_mb:.0f} MB (it was ~1 GB)"


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (9000, 6000), (200, 120, 40)).save(photo, quality=80)
    grown_mb, shape = _peak_rss_mb_decoding(photo)
    assert shape == (1500, 2250, 3)  # JPEG's own 1/2 scale, then halved: never the full 162 MB picture
    assert grown_mb < 150, f"decoding grew the process by {grown_mb:.0f} MB"


def test_tiff_is_not_taken_by_default() -> None:
    assert not {"tif", "tiff"} & set(Config().watch.extensions)


def test_a_file_whose_read_killed_the_process_is_rejected_at_the_next_start(tmp_path: Path) -> None:
    journal_dir, key = tmp_path / "reading", "/pictures/bomb.png|77000|1790000000000000000"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from screenrecall.capture.reading_journal import ReadingJournal
        with ReadingJournal(Path({str(journal_dir)!r})).reading({key!r}):
            os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does mid-decode
        """
    )
    died = subprocess.run([sys.executable, "-c", script], env={"PYTHONPATH": str(REPO / "daemon")}, check=False)
    assert died.returncode == -9
    ledger = RejectLedger(tmp_path / "rejected-files.txt")
    assert ReadingJournal(journal_dir).reject_leftovers(ledger) == [key]
    assert key in ledger.load()
    assert ReadingJournal(journal_dir).reject_leftovers(ledger) == []  # once only


def test_a_read_that_ends_leaves_no_note(tmp_path: Path) -> None:
    journal = ReadingJournal(tmp_path / "reading")
    with journal.reading("a|1|2"):
        assert len(list((tmp_path / "reading").iterdir())) == 1
    try:
        with journal.reading("b|1|2"):
            raise BadImage("corrupt")
    except BadImage:
        pass
    assert list((tmp_path / "reading").iterdir()) == []


def test_the_reject_ledger_keeps_only_the_newest_keys(tmp_path: Path) -> None:
    ledger = RejectLedger(tmp_path / "rejected-files.txt", max_keys=100)
    for i in range(1200):
        ledger.add(f"/junk/{i}.png|1|{i}")  # trimmed every 500 additions
    ledger.bound()
    kept = ledger.load()
    assert len(kept) == 100 and "/junk/1199.png|1|1199" in kept and "/junk/0.png|1|0" not in kept
