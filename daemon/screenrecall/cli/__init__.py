"""The `screenrecall` command: parses arguments, loads config, hands off to one command module.

Start-up is kept to the standard library: command modules import their heavy dependencies inside
their handlers, and commands that a running daemon can answer (search, forget, stream) go straight
to its socket without loading the validated config (tests/cli/test_fast_start.py checks the imports).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from screenrecall import __version__
from screenrecall.cli import config_cmd, daemon_cmd, index_cmd, mcp_cmd, models_cmd, recall_cmd, service_cmd, ui_cmd
from screenrecall.cli.fast_path import socket_path
from screenrecall.errors import ScreenrecallError

if TYPE_CHECKING:
    from screenrecall.api.client import ApiClient
    from screenrecall.config import Config

Handler = Callable[[argparse.Namespace, "Config"], int]
ApiHandler = Callable[[argparse.Namespace, "ApiClient"], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="screenrecall", description="A local memory of what was on your screen.")
    parser.add_argument("--version", action="version", version=f"screenrecall {__version__}")
    parser.add_argument("--config", type=Path, help="config file (TOML), layered over the user config")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_cmd.register(commands)
    models_cmd.register(commands)
    daemon_cmd.register(commands)
    recall_cmd.register(commands)
    service_cmd.register(commands)
    mcp_cmd.register(commands)
    index_cmd.register(commands)
    ui_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    api_handler: ApiHandler | None = getattr(args, "api_handler", None)
    if api_handler is not None:
        answered = _through_daemon(args, api_handler)
        if answered is not None:
            return answered
    return _with_config(args)


def _through_daemon(args: argparse.Namespace, handler: ApiHandler) -> int | None:
    """The command answered by a running daemon; None when none answers (the caller falls back)."""
    socket = socket_path(args.config)
    if socket is None or not socket.exists():
        return None
    from screenrecall.api.client import ApiClient, ApiUnreachable  # http.client: only when a daemon may answer

    _setup_logging("DEBUG" if args.verbose else "WARNING")
    unreachable = False

    def call() -> int:
        nonlocal unreachable
        try:
            return handler(args, ApiClient(socket))
        except ApiUnreachable:  # raised before any output: a stale socket, a daemon that just stopped
            unreachable = True
            return 0

    code = _guarded(call)
    return None if unreachable else code


def _with_config(args: argparse.Namespace) -> int:
    from screenrecall.config import Config, ConfigError, load

    handler: Handler = args.handler
    try:
        config = load(args.config)
    except ConfigError as exc:
        if getattr(args, "needs_valid_config", True):
            print(f"screenrecall: {exc}", file=sys.stderr)
            return 1
        config = Config()
        args.config_error = exc
    # The daemon logs at the configured level; one-shot commands only say what went wrong.
    quiet = "WARNING" if args.command != "run" else config.log.level
    _setup_logging("DEBUG" if args.verbose else quiet)
    return _guarded(lambda: handler(args, config))


def _guarded(call: Callable[[], int]) -> int:
    """Runs a command: our errors as one line, Ctrl-C as 130, a closed pipe as success."""
    try:
        return call()
    except ScreenrecallError as exc:
        print(f"screenrecall: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # APScheduler logs every job run at INFO: that is a line every capture interval.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
