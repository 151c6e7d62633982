"""`screenrecall config check | show`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports pydantic only for the commands that load the config
    from screenrecall.config import Config


def register(commands: Any) -> None:
    parser = commands.add_parser("config", help="check or show the effective configuration")
    sub = parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate the config; exit 0 when valid, 1 when not")
    check.set_defaults(handler=_check, needs_valid_config=False)
    show = sub.add_parser("show", help="print the effective config as TOML")
    show.set_defaults(handler=_show)


def _check(args: argparse.Namespace, config: Config) -> int:
    error = getattr(args, "config_error", None)
    if error is not None:
        print(f"screenrecall: {error}", file=sys.stderr)
        return 1
    print("config OK")
    return 0


def _show(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.config_toml import to_toml

    print(to_toml(config), end="")
    return 0
