"""The daemon's socket, found without loading the validated config: commands that talk to a running
daemon skip pydantic, numpy, Chroma and OpenVINO entirely (a search then starts like a native tool)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from screenrecall import paths

SOCKET_ENV = "SCREENRECALL_API__SOCKET"


def socket_path(config_path: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """api.socket as config.load would resolve it (same layers, same default); None when a layer
    cannot be read, so the full path reports that the way it always does.

    `--config FILE` takes this path too: the socket is the only setting a command answered by the
    daemon needs from the client's config (the query and its filters are arguments; everything else
    is the daemon's), so reading that one key from the same layers is enough. The rest of a file is
    not validated here: the daemon validated its own config at start, and a client-side mistake in a
    key the command does not use must not make it slow. A file that does not parse goes to the full
    path, which reports it with its line."""
    environ = os.environ if environ is None else environ
    socket = ""
    for source in (paths.config_file(environ), config_path):
        if source is None or (source != config_path and not source.exists()):
            continue
        try:
            with source.open("rb") as handle:
                api = tomllib.load(handle).get("api", {})
        except (OSError, tomllib.TOMLDecodeError):
            return None
        if not isinstance(api, dict) or not isinstance(api.get("socket", ""), str):
            return None
        socket = api.get("socket", socket)
    socket = environ.get(SOCKET_ENV, socket)
    return Path(socket).expanduser() if socket else paths.runtime_dir(environ) / "api.sock"
