"""Chroma's trace exporter, and gRPC with it, never load: nothing leaves the machine, and ~18 MB stay free."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.fresh import run_fresh

PROBE = """
import json, os, sys
from pathlib import Path
from screenrecall.store.chroma import Store
with Store.open(Path(sys.argv[1])) as store:
    count = store.count()
from screenrecall.store.no_trace_export import TraceExportError, EXPORTER_MODULE
refused = False
try:
    sys.modules[EXPORTER_MODULE].OTLPSpanExporter(endpoint="collector.example:4317")
except TraceExportError:
    refused = True
print(json.dumps({"count": count, "grpc": "grpc" in sys.modules, "refused": refused}))
"""


def test_the_store_opens_without_loading_grpc_and_an_exporter_cannot_be_built(tmp_path: Path) -> None:
    result = run_fresh(PROBE, str(tmp_path / "store"), home=tmp_path)
    assert json.loads(result) == {"count": 0, "grpc": False, "refused": True}
