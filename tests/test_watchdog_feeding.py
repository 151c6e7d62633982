"""The systemd watchdog is fed from the main loop while the stages are alive, not from a scheduled job."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from pathlib import Path

from screenrecall.app import App
from tests.support.recall import recall_config


def test_a_stalled_housekeeping_job_does_not_starve_the_watchdog(tiny_bundle: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="sr-wd-") as directory:
        path = str(Path(directory) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
            manager.bind(path)
            manager.settimeout(0.2)
            # WATCHDOG_USEC = 2 s: a ping is due every second.
            app = App(recall_config(tiny_bundle), environ={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
            release = threading.Event()
            app.build()
            assert app.pipeline is not None
            # A housekeeping run that hangs (a huge expiry under idle I/O priority); the status job
            # shares its scheduler thread, so it is starved too.
            app.pipeline.housekeeper.run = lambda: release.wait(30)  # type: ignore[method-assign]
            waiter = threading.Thread(target=app.wait)
            try:
                app.start()
                waiter.start()
                pings, began = 0, time.monotonic()
                while time.monotonic() - began < 5:
                    with contextlib.suppress(TimeoutError):
                        pings += manager.recv(4096).count(b"WATCHDOG=1")
            finally:
                release.set()
                app.stop()
                waiter.join(10)
    assert pings >= 3, f"{pings} watchdog pings in 5 s while housekeeping was stuck"
