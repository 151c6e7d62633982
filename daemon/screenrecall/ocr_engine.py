"""Reads text off a frame: RapidOCR's PP-OCR models (shipped in its wheel) run on OpenVINO.

The only module that imports rapidocr. Lines come back with axis-aligned boxes in frame pixels.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from screenrecall.frames import Pixels

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    box: Box
    score: float = 1.0


class OcrEngine:
    """Not thread-safe (one OCR thread owns it); `threads` caps its CPU use below the CLIP path's."""

    def __init__(self, *, min_score: float = 0.5, threads: int = 1) -> None:
        from rapidocr import EngineType, RapidOCR  # heavy: loaded only when OCR is on
        from rapidocr.utils.output import RapidOCROutput

        self._output_type = RapidOCROutput

        params: dict[str, Any] = {
            "Global.text_score": min_score,
            "Global.use_cls": False,  # screen text is upright; the angle classifier only costs time
            "Global.log_level": "error",
            # Never upscale: the default (min side to 736) blows a small region up 10x, which splits
            # lines into words and costs time. Screens are read at their own resolution.
            "Det.limit_type": "max",
            "Det.limit_side_len": 2048,
        }
        for stage in ("Det", "Cls", "Rec"):
            params[f"{stage}.engine_type"] = EngineType.OPENVINO
        params["EngineConfig.openvino.inference_num_threads"] = threads
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()

    def read(self, pixels: Pixels, origin: tuple[int, int] = (0, 0)) -> list[Line]:
        """Text lines in reading order; boxes are shifted by origin (for crops of a larger frame)."""
        if pixels.shape[0] < 8 or pixels.shape[1] < 8:
            return []
        with self._lock:
            result = self._engine(np.ascontiguousarray(pixels))
        if not isinstance(result, self._output_type):
            raise TypeError(f"RapidOCR returned {type(result).__name__}, expected a full OCR result")
        texts, boxes, scores = result.txts, result.boxes, result.scores
        if not texts or boxes is None or scores is None:
            return []
        lines = [
            Line(text, _axis_box(points, origin), float(score))
            for text, points, score in zip(texts, boxes, scores, strict=True)
            if text.strip()
        ]
        return sorted(lines, key=lambda line: (line.box[1] // 8, line.box[0]))


def _axis_box(points: Any, origin: tuple[int, int]) -> Box:
    xs, ys = np.asarray(points)[:, 0], np.asarray(points)[:, 1]
    ox, oy = origin
    return int(xs.min()) + ox, int(ys.min()) + oy, int(np.ceil(xs.max())) + ox, int(np.ceil(ys.max())) + oy


def text_of(lines: list[Line]) -> str:
    return "\n".join(line.text for line in lines)
