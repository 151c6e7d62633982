"""`screenrecall service install | uninstall | status`: the systemd user unit."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from screenrecall.errors import ScreenrecallError

if TYPE_CHECKING:
    from screenrecall.config import Config


def register(commands: Any) -> None:
    parser = commands.add_parser("service", help="install, remove or inspect the systemd user service")
    sub = parser.add_subparsers(dest="service_command", required=True, metavar="ACTION")
    sub.add_parser("install", help="write and enable the user unit, then start it").set_defaults(handler=_install)
    sub.add_parser("uninstall", help="stop, disable and remove the user unit").set_defaults(handler=_uninstall)
    sub.add_parser("status", help="systemctl --user status screenrecall").set_defaults(handler=_status)


def _install(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.system import service

    try:
        lines = service.install()
    except service.UnitError as exc:
        raise ScreenrecallError(str(exc)) from None
    print("\n".join(lines))
    return 0


def _uninstall(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.system import service

    print("\n".join(service.uninstall()))
    return 0


def _status(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.system import service

    print(service.status())
    return 0
