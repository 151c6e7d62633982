"""The OCR reader child process: holds RapidOCR's models only while there is text to read.

Reading a dense screen makes OpenVINO's CPU plugin grow per-shape kernels, caches and arenas that it
never gives back (hundreds of MB, measured by bench/memory.py). Reading in a child that exits when
idle (and after a number of reads) hands all of that back to the system; a read that crashes or is
killed by the OOM killer costs one frame's text, not the daemon.

Run as `python -m screenrecall.ocr.worker FD MIN_SCORE THREADS IDLE_S`, FD one end of a socketpair.
Requests: ("read", pixels) -> ("ok", [(text, [[x, y] x4], score), ...]) | ("error", message).
"""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from screenrecall.ocr.bands import bands, bucket_width
from screenrecall.ocr.lines import split_wide
from screenrecall.system import resident

RawLine = tuple[str, list[list[float]], float]


def build_engine(min_score: float, threads: int) -> Any:
    from rapidocr import EngineType, RapidOCR

    params: dict[str, Any] = {
        "Global.text_score": min_score,
        "Global.use_cls": False,  # screen text is upright; the angle classifier only costs time
        "Global.log_level": "error",
        # Never upscale: the default (min side to 736) blows a small region up 10x, which splits
        # lines into words and costs time. Screens are read at their own resolution.
        "Det.limit_type": "max",
        "Det.limit_side_len": 2048,
        # One text line per recogniser call: a batch of 6 is padded to its widest line, and the
        # activations for that are most of the reader's peak (measured: 791 -> 587 MB on a dense
        # crop, same time).
        "Rec.rec_batch_num": 1,
    }
    for stage in ("Det", "Cls", "Rec"):
        params[f"{stage}.engine_type"] = EngineType.OPENVINO
    params["EngineConfig.openvino.inference_num_threads"] = threads
    _bucket_recogniser_widths()
    _split_wide_lines()
    return RapidOCR(params=params)


def _bucket_recogniser_widths() -> None:
    """RapidOCR pads each line to its own width, so every line length is a new input shape for the
    recogniser (and the CPU plugin keeps buffers per shape): pad to the next multiple of PAD_STEP
    instead. Only in this process, which exists to run RapidOCR."""
    from rapidocr.ch_ppocr_rec.main import TextRecognizer

    original = TextRecognizer.resize_norm_img
    if getattr(original, "bucketed", False):
        return

    def resize_norm_img(self: Any, img: Any, max_wh_ratio: float) -> Any:
        height = int(self.rec_image_shape[1])
        width = bucket_width(height * max_wh_ratio)
        return original(self, img, (width + 0.5) / height)  # +0.5: int() in there must not round down

    resize_norm_img.bucketed = True  # type: ignore[attr-defined]
    TextRecognizer.resize_norm_img = resize_norm_img  # type: ignore[method-assign]


def _split_wide_lines() -> None:
    """Very wide lines go to the recogniser in pieces cut between words (ocr/lines.py), and their
    texts are joined again: the recogniser's buffers stay sized for ~1,150-px inputs, not ~4,000."""
    from rapidocr.ch_ppocr_rec.main import TextRecognizer
    from rapidocr.ch_ppocr_rec.typings import TextRecInput, TextRecOutput

    original = TextRecognizer.__call__
    if getattr(original, "splits", False):
        return

    def call(self: Any, args: Any) -> Any:
        lines = [args.img] if isinstance(args.img, np.ndarray) else list(args.img)
        if args.return_word_box:  # word boxes would come back per piece: read as given
            return original(self, args)
        pieces, owners = [], []
        for index, line in enumerate(lines):
            for piece in split_wide(line):
                pieces.append(piece)
                owners.append(index)
        if len(pieces) == len(lines):
            return original(self, args)
        read: Any = original(self, TextRecInput(img=pieces, return_word_box=False))
        texts: list[list[str]] = [[] for _ in lines]
        scores: list[list[float]] = [[] for _ in lines]
        for owner, text, score in zip(owners, read.txts, read.scores, strict=True):
            if text.strip():
                texts[owner].append(text.strip())
            scores[owner].append(float(score))
        joined: Any = tuple(" ".join(parts) for parts in texts)
        # A line's score: its pieces' mean (RapidOCR drops lines under text_score by it).
        means = [float(np.mean(line_scores)) for line_scores in scores]
        no_word_boxes: Any = tuple(None for _ in lines)  # as RapidOCR gives when none are asked for
        return TextRecOutput(lines, joined, means, no_word_boxes, read.elapse, read.viser)

    call.splits = True  # type: ignore[attr-defined]
    TextRecognizer.__call__ = call  # type: ignore[method-assign]


def read_lines(engine: Any, pixels: np.ndarray[Any, np.dtype[np.uint8]]) -> list[RawLine]:
    """The frame's lines, read band by band (ocr/bands.py); each line from the band that holds it whole."""
    lines: list[RawLine] = []
    for band in bands(np.ascontiguousarray(pixels)):
        for text, points, score in _read_band(engine, band.pixels):
            ys = [y for _, y in points]
            centre = band.top + (min(ys) + max(ys)) / 2
            if band.keep_from <= centre < band.keep_to:
                lines.append((text, [[x, y + band.top] for x, y in points], score))
    return lines


def _read_band(engine: Any, pixels: np.ndarray[Any, np.dtype[np.uint8]]) -> list[RawLine]:
    from rapidocr.utils.output import RapidOCROutput

    result = engine(pixels)
    if not isinstance(result, RapidOCROutput):
        raise TypeError(f"RapidOCR returned {type(result).__name__}, expected a full OCR result")
    texts, boxes, scores = result.txts, result.boxes, result.scores
    if not texts or boxes is None or scores is None:
        return []
    return [
        (str(text), np.asarray(points, dtype=float).tolist(), float(score))
        for text, points, score in zip(texts, boxes, scores, strict=True)
    ]


def serve(conn: Connection, min_score: float, threads: int, idle_s: float) -> None:
    engine = build_engine(min_score, threads)
    conn.send(("ready", None))
    while conn.poll(idle_s):
        try:
            request, pixels = conn.recv()
        except EOFError:
            return  # the daemon is gone
        if request != "read":
            return
        try:
            conn.send(("ok", read_lines(engine, pixels)))
        except Exception as exc:  # reported to the daemon, which counts the frame as failed
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        resident.trim_heap()  # a read's buffers, given back while the reader waits for the next
    # Idle: exit, and with us every buffer the models grew.


def main(argv: list[str]) -> int:
    fd, min_score, threads, idle_s = int(argv[0]), float(argv[1]), int(argv[2]), float(argv[3])
    # Below the CLIP path and the desktop, whatever thread started us.
    os.nice(max(0, 19 - os.nice(0)))
    resident.limit_malloc_arenas()  # before OpenVINO starts its threads
    # The first thing the OOM killer takes: a read that blows up costs one frame's text, not the daemon.
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass
    conn = Connection(fd)
    try:
        serve(conn, min_score, threads, idle_s)
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
