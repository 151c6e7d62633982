"""`screenrecall run | ingest | status | pause | resume`: the daemon and its controls."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screenrecall.errors import ScreenrecallError

if TYPE_CHECKING:
    # Imported where used: `screenrecall --help` and the API commands load only what they run
    # (tests/cli/test_fast_start.py).
    from screenrecall.config import Config
    from screenrecall.system.status import Status

logger = logging.getLogger(__name__)


def register(commands: Any) -> None:
    run = commands.add_parser("run", help="run the daemon in the foreground (what the systemd unit runs)")
    run.set_defaults(handler=_run)

    ingest = commands.add_parser("ingest", help="add image files or folders once, through the same pipeline")
    ingest.add_argument("paths", nargs="+", type=Path, help="image files or folders (searched recursively)")
    ingest.set_defaults(handler=_ingest)

    status = commands.add_parser("status", help="what the daemon is doing (or the store, when it is stopped)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)

    pause = commands.add_parser("pause", help="stop remembering the screen (until resume, or for a while)")
    pause.add_argument("--for", dest="duration", help="e.g. 90s, 15m, 2h, 1d")
    pause.set_defaults(handler=_pause)

    resume = commands.add_parser("resume", help="remember the screen again")
    resume.set_defaults(handler=_resume)


def _run(args: argparse.Namespace, config: Config) -> int:
    import signal

    from screenrecall.app import App
    from screenrecall.system import hardening, limits, resident

    # Before any frame exists: a crash must never write screen contents to a core file.
    hardening.make_undumpable()
    _provision_default_model(config)
    limits.raise_open_files_limit()
    resident.limit_malloc_arenas()  # before any thread starts
    app = App(config)

    def on_signal(signum: int, _frame: object) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        app.stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Whatever fails once stage threads may be running (a taken api.tcp_port, a PermissionError, a
    # bug) stops them all: non-daemon threads left behind would keep the process alive, deaf to
    # SIGTERM, instead of letting the service manager see it fail and restart it.
    code = 1
    try:
        app.build()
        app.start()
        code = app.wait()
    except ScreenrecallError as exc:
        app.notifier.status(f"failed to start: {exc}")
        raise
    except Exception as exc:
        logger.exception("the daemon failed")
        app.notifier.status(f"failed: {type(exc).__name__}: {exc}")
        code = 1
    finally:
        app.stop()
    return code


def _provision_default_model(config: Config) -> None:
    """First run: make the default bundle if the export extra is installed, else say exactly how.

    The export runs as a child process: torch and transformers (hundreds of MB) never load into the
    daemon, which would otherwise carry them for as long as it runs.
    """
    import importlib.util
    import subprocess

    if config.model.path or (config.model_dir() / "manifest.json").exists():
        return
    if not all(importlib.util.find_spec(name) for name in ("torch", "transformers", "nncf")):
        raise ScreenrecallError(
            f"no model bundle yet at {config.model_dir()}. Make the default one (needs network once):\n"
            "  pip install torch==2.13.0 'screenrecall[export]' && screenrecall models export\n"
            "or point model.path at an existing bundle."
        )
    print(f"first run: exporting the default CLIP model to {config.model_dir()} (downloads once)", file=sys.stderr)
    command = [sys.executable, "-m", "screenrecall", "models", "export", "--out", str(config.model_dir())]
    if subprocess.run(command, check=False).returncode != 0:
        raise ScreenrecallError(
            "could not make the default model bundle (the export's error is above).\n"
            "On a machine with network access run: screenrecall models export --out DIR, copy DIR here, "
            "and set model.path."
        )


def _ingest(args: argparse.Namespace, config: Config) -> int:
    from tqdm import tqdm

    from screenrecall.pipeline.ingest import collect_jobs, ingest
    from screenrecall.store.lock import ProcessLock

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise ScreenrecallError(f"no such file or folder: {', '.join(missing)}")
    if ProcessLock.is_held(config.lock_path()):
        raise ScreenrecallError(
            "the daemon is running and owns the store; add the files to a watched folder (watch.folders) "
            "or stop it first: systemctl --user stop screenrecall"
        )
    jobs = collect_jobs(args.paths, config.watch.extensions)
    # A file counts once it is stored with its text (OCR on) or found unusable.
    with tqdm(total=len(jobs), desc="images", unit="file") as images:
        result = ingest(config, jobs, progress=images.update)
    print(f"{result.stored} stored, {result.already_known} already stored, {result.rejected} skipped (not usable)")
    return 0


def _status(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.cli.recall_cmd import client
    from screenrecall.store.lock import ProcessLock
    from screenrecall.system import status as status_file

    api = client(config) if config.api.enabled else None
    live: Status | None = None
    if api is not None:
        live = status_file.Status(**api.request("GET", "/v1/status"))
    elif ProcessLock.is_held(config.lock_path()):
        live = status_file.read()  # a daemon running with its API off still writes this file
    if live is None:
        live = _offline_status(config)
    print(live.to_json() if args.json else live.human())
    return 0


def _offline_status(config: Config) -> Status:
    import shutil

    from screenrecall import paths
    from screenrecall.capture.privacy import PauseSwitch
    from screenrecall.store.chroma import Store
    from screenrecall.store.lock import ProcessLock
    from screenrecall.system import status as status_file

    snapshot = status_file.Status(running=False, paused=PauseSwitch.default().state().paused)
    snapshot.free_bytes = shutil.disk_usage(paths.ensure_private_dir(paths.data_dir())).free
    if not config.store_dir().exists():
        return snapshot
    with ProcessLock(config.lock_path()), Store.open(config.store_dir()) as store:
        snapshot.records = store.count()
        snapshot.disk_bytes = store.disk_bytes()
    return snapshot


def _pause(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.capture.privacy import PauseSwitch
    from screenrecall.cli.recall_cmd import client
    from screenrecall.recall.when import parse_duration

    seconds = parse_duration(args.duration) if args.duration else None
    api = client(config)
    if api is not None:
        state = api.request("POST", "/v1/pause", {} if seconds is None else {"for_s": seconds})
        until = state["until_ms"]
    else:  # no daemon: the switch is a file it reads when it starts
        until = PauseSwitch.default().pause(seconds).until_ms
    if until is None:
        print("paused until `screenrecall resume` (takes effect within one capture interval)")
    else:
        print(f"paused for {args.duration} (takes effect within one capture interval)")
    return 0


def _resume(args: argparse.Namespace, config: Config) -> int:
    from screenrecall.capture.privacy import PauseSwitch
    from screenrecall.cli.recall_cmd import client

    api = client(config)
    if api is not None:
        api.request("POST", "/v1/resume", {})
    else:
        PauseSwitch.default().resume()
    print("resumed")
    return 0
