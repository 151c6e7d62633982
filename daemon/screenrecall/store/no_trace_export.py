"""Keeps Chroma's OpenTelemetry trace exporter (and gRPC with it) out of the process.

chromadb imports the OTLP gRPC span exporter when it is imported, though it only builds one when
told to send traces to a collector, which screenrecall never is (nothing leaves the machine).
Importing it loads gRPC: ~18 MB of resident memory and ~20 ms of start-up, for nothing. A stand-in
module takes its place; building an exporter from it fails, loudly.
"""

from __future__ import annotations

import sys
import types

EXPORTER_MODULE = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"


class TraceExportError(RuntimeError):
    """Something asked Chroma to send traces off the machine."""


class _RefusedExporter:
    def __init__(self, *_: object, **__: object) -> None:
        raise TraceExportError(
            "screenrecall does not send traces anywhere: unset CHROMA_OTEL_* (chroma_otel_granularity)"
        )


def keep_trace_exporter_out() -> None:
    """Installs the stand-in unless the real exporter is already loaded (then it changes nothing)."""
    if EXPORTER_MODULE in sys.modules:
        return
    stand_in = types.ModuleType(EXPORTER_MODULE, __doc__)
    stand_in.OTLPSpanExporter = _RefusedExporter  # type: ignore[attr-defined]
    sys.modules[EXPORTER_MODULE] = stand_in
