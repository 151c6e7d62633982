"""httpx's command-line client (rich, pygments, click) never loads with the store: ~5 MB stay free."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.fresh import run_fresh

PROBE = """
import json, sys
from pathlib import Path
from screenrecall.store.chroma import Store
with Store.open(Path(sys.argv[1])) as store:
    count = store.count()
import httpx
loaded = sorted(name for name in ("rich", "pygments", "click") if name in sys.modules)
marked = "httpx._main" in sys.modules and sys.modules["httpx._main"] is None
print(json.dumps({"count": count, "cli_marked": marked, "cli_extras": loaded, "main": callable(httpx.main)}))
"""


def test_the_store_opens_without_httpx_cli_dependencies(tmp_path: Path) -> None:
    # Marked unimportable whether or not rich, pygments and click are installed (here they are).
    result = run_fresh(PROBE, str(tmp_path / "store"), home=tmp_path)
    assert json.loads(result) == {"count": 0, "cli_marked": True, "cli_extras": [], "main": True}
