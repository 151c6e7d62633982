"""The `screenrecall` command: parses arguments, loads config, hands off to one command module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from screenrecall import __version__
from screenrecall.cli import config_cmd, daemon_cmd, models_cmd, recall_cmd, service_cmd
from screenrecall.config import Config, ConfigError, load
from screenrecall.errors import ScreenrecallError

Handler = Callable[[argparse.Namespace, Config], int]


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
    try:
        return handler(args, config)
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
