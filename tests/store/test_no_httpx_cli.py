"""httpx's command-line client (rich, pygments, click) never loads with the store: ~5 MB stay free."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PROBE = """
import json, sys
from pathlib import Path
from screenrecall.store.chroma import Store
with Store.open(Path(sys.argv[1])) as store:
    count = store.count()
import httpx
loaded = sorted(name for name in ("rich", "pygments", "click") if name in sys.modules)
print(json.dumps({"count": count, "httpx": "httpx" in sys.modules, "cli_extras": loaded, "main": callable(httpx.main)}))
"""


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("rich", "pygments", "click")),
    reason="httpx imports its CLI only when rich, pygments and click are all installed",
)
def test_the_store_opens_without_httpx_cli_dependencies(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "store")],
        env={"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "count": 0,
        "httpx": True,
        "cli_extras": [],
        "main": True,
    }
