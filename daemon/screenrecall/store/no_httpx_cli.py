"""Keeps httpx's command-line client (and rich, pygments and click with it) out of the process.

chromadb imports httpx, and httpx's package imports its own CLI (`httpx._main`) whenever rich,
pygments and click are installed, which they often are. The daemon never runs that CLI, and it
costs ~5 MB of resident memory. httpx already handles the CLI being absent (its `main` then prints
how to install it), so marking the module as not importable is all it takes.
"""

from __future__ import annotations

import sys

CLI_MODULE = "httpx._main"


def keep_httpx_cli_out() -> None:
    """Marks the CLI module unimportable, unless httpx is already loaded (then it changes nothing)."""
    if "httpx" in sys.modules:
        return
    sys.modules.setdefault(CLI_MODULE, None)  # type: ignore[arg-type]  # None: "not importable"
