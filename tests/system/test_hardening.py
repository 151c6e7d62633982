"""Screen contents never reach a core file: the process limit, the dumpable flag and the unit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from screenrecall.system import service

REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import resource
from screenrecall.system import hardening
assert hardening.is_dumpable()
hardening.make_undumpable()
print(hardening.is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE))
"""


def test_make_undumpable_turns_core_files_and_the_dumpable_flag_off() -> None:
    # In a child: both changes are irreversible for the process that makes them.
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO / "daemon")},
    )
    assert result.stdout.strip() == "False (0, 0)"


def test_the_unit_sets_no_core_limit() -> None:
    lines = service.template().splitlines()
    assert lines.count("LimitCORE=0") == 1
