"""The benchmarks' model: a random-weight CLIP checkpoint and its FP16 / INT8 bundles, made once and cached.

No real CLIP weights can be downloaded here. Speed does not depend on the weight values, so the
full-size ViT-B/32 architecture with random weights times like the real model. A --smoke run uses
the tests' tiny CLIP instead (under <cache>/tiny/): seconds to make, its figures meaningless.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.checkpoints import make_full_size_checkpoint, make_tiny_checkpoint
from tests.support.screens.desktop import screen_frames

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "bench" / ".cache"
CALIBRATION_FRAMES = 32
# Calibration frames use other seeds than the measured frames, so INT8 is not scored on what it saw.
CALIBRATION_SEED = 1_000_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCache:
    """One cache dir: the checkpoint, the bundles exported from it with our exporter, compiled models."""

    root: Path
    tiny: bool = False

    @classmethod
    def of(cls, args: argparse.Namespace) -> ModelCache:
        """The cache a benchmark's --cache and --smoke options name."""
        return cls(args.cache / "tiny", tiny=True) if args.smoke else cls(args.cache)

    @property
    def xdg_cache(self) -> Path:
        """Kept between runs, as a user's ~/.cache is: compiling the full-size model costs ~10 s of CPU."""
        return self.root / "xdg-cache"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / ("clip-tiny-random" if self.tiny else "clip-vit-b32-random")

    def checkpoint(self) -> Path:
        out = self.checkpoint_dir
        if (out / "config.json").is_file() and (out / "tokenizer.json").is_file():
            return out
        make: Callable[[Path], Path] = make_tiny_checkpoint if self.tiny else make_full_size_checkpoint
        logger.info("building a random-weight CLIP checkpoint in %s (one time)", out)
        staging = out.with_name(f".{out.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        make(staging)
        staging.rename(out)
        return out

    @property
    def fp16_dir(self) -> Path:
        return self.root / "bundle-fp16"

    @property
    def int8_dir(self) -> Path:
        return self.root / "bundle-int8"

    def fp16(self) -> Path:
        return self._bundle(self.fp16_dir, int8=False)

    def int8(self) -> Path:
        """NNCF quantization, calibrated on synthetic screens (other seeds than the measured frames)."""
        return self._bundle(self.int8_dir, int8=True)

    def int8_weights(self) -> Path:
        """Exported as `models export` does by default: weight-only INT8."""
        return self._bundle(self.root / "bundle-int8w", int8=False, int8_weights=True)

    def _bundle(self, out: Path, *, int8: bool, int8_weights: bool = False) -> Path:
        if (out / "manifest.json").is_file() and not _older_exporter(out):
            return out
        from screenrecall.encode.export import ExportRequest, export  # torch: only when a bundle is made

        frames = 4 if self.tiny else CALIBRATION_FRAMES
        calibration = screen_frames(frames, CALIBRATION_SEED) if int8 else []
        kind = "INT8" if int8 else "INT8-weights" if int8_weights else "FP16"
        logger.info("exporting %s bundle to %s (one time)", kind, out)
        checkpoint = self.checkpoint()
        export(ExportRequest(from_dir=checkpoint, int8=int8, calibration=calibration, int8_weights=int8_weights), out)
        return out


def _older_exporter(bundle: Path) -> bool:
    """A bundle cached before `models export` made text models of any length (2026-12-03): made again,
    so the benchmarks measure what the exporter makes now."""
    import openvino as ov

    return not ov.Core().read_model(bundle / "text.xml").input(0).get_partial_shape()[1].is_dynamic
