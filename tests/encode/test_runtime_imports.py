"""The runtime path never imports PyTorch or transformers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_embedding_text_and_images_imports_neither_torch_nor_transformers(tiny_bundle: Path, tmp_path: Path) -> None:
    script = f"""
import sys
import numpy as np
from screenrecall.config import ModelConfig
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import load_runtime, self_test
import screenrecall.cli
runtime = load_runtime(ModelConfig(cache=False), __import__("pathlib").Path({str(tiny_bundle)!r}))
self_test(runtime)
runtime.text_encoder.encode("hello")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
print("LEAKED", leaked)
sys.exit(1 if leaked else 0)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
