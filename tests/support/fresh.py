"""A script in a fresh interpreter that sees only the package: what a module imports at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def run_fresh(script: str, *args: str, home: Path) -> str:
    """Runs the script with the package on its path and nothing else of ours; returns its stdout's
    last line (it must exit 0, its stderr is the failure message)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin", "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]
