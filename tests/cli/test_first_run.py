"""`screenrecall run` with no model yet: it exports the default one in a child process, or says how."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_first_run_exports_in_a_child_and_explains_a_failed_download(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "HF_HUB_OFFLINE": "1",  # this machine has no route to the hub: fail at once, as offline users do
        "PYTHONPROFILEIMPORTTIME": "1",  # both processes list what they import, on stderr
    }
    done = run_cli("run", env=env, timeout=600)
    assert done.returncode == 1
    assert "first run: exporting the default CLIP model" in done.stderr
    assert "could not make the default model bundle" in done.stderr
    assert "screenrecall models export --out DIR" in done.stderr
    bundles = tmp_path / "data" / "screenrecall" / "models"
    assert not any(bundles.rglob("manifest.json"))  # nothing half-made left behind
    # Two processes started the CLI; torch was imported once, by the second (the export child).
    lines = done.stderr.splitlines()
    starts = [n for n, line in enumerate(lines) if re.search(r"\|\s+screenrecall\.cli$", line)]
    torch_imports = [n for n, line in enumerate(lines) if re.search(r"\|\s+torch$", line)]
    assert len(starts) == 2
    assert len(torch_imports) == 1
    assert torch_imports[0] > starts[1]
