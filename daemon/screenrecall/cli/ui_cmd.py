"""`screenrecall ui`: opens the web UI in the browser through a one-time login link."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from screenrecall.errors import ScreenrecallError

if TYPE_CHECKING:
    from screenrecall.config import Config


def register(commands: Any) -> None:
    ui = commands.add_parser("ui", help="open the web UI (search, timeline, moments, status) in the browser")
    ui.add_argument("--no-browser", action="store_true", help="print the one-time login link instead of opening it")
    ui.set_defaults(handler=_ui)


def _ui(args: argparse.Namespace, config: Config) -> int:
    import webbrowser

    from screenrecall.api.client import ApiClient

    api = ApiClient(config.socket_path(), timeout=30)
    if not config.socket_path().exists() or not api.available():
        raise ScreenrecallError("the daemon is not running (start it with `screenrecall run` or the service)")
    # The daemon starts (or reuses) its loopback listener and hands out a code that works once.
    url: str = api.request("POST", "/v1/ui/login-link")["url"]
    if args.no_browser or not webbrowser.open(url):
        print(f"Open this link within 2 minutes (it works once): {url}")
        return 0
    print("Opened the web UI in your browser.", file=sys.stderr)
    return 0
