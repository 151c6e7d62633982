"""An Xvfb started on a display number chosen by the test: a crashed X server coming back under the same name."""

from __future__ import annotations

import os
import subprocess
import tempfile

from tests.support.xvfb import Xvfb, _read_display_number


class XvfbOnDisplay(Xvfb):
    """`with XvfbOnDisplay(":5") as x:` runs a fresh server on that display (it must be free)."""

    def __init__(self, display: str, width: int = 640, height: int = 480) -> None:
        super().__init__(width, height)
        self._wanted = display

    def _start(self) -> None:
        command = ["Xvfb", self._wanted, "-screen", "0", f"{self.width}x{self.height}x24", "-nolisten", "tcp"]
        read_fd, write_fd = os.pipe()
        try:
            with tempfile.TemporaryFile() as log:
                try:
                    # With a display number given, -displayfd still reports it once the server accepts clients.
                    self._proc = subprocess.Popen(
                        [*command, "-displayfd", str(write_fd)],
                        pass_fds=(write_fd,),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                finally:
                    os.close(write_fd)
                number = _read_display_number(read_fd)
                if number is None or f":{number}" != self._wanted:
                    self.close()
                    log.seek(0)
                    raise RuntimeError(f"Xvfb did not start on {self._wanted}: {log.read().decode(errors='replace')}")
        finally:
            os.close(read_fd)
        self.display = self._wanted
