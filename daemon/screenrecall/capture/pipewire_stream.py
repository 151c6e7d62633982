"""Frames of one PipeWire screen-cast stream, read from a `gst-launch-1.0 pipewiresrc` child process.

Why a child process and not PyGObject in-process: it needs only the distribution's GStreamer
packages (gstreamer1.0-tools and the PipeWire plugin), nothing compiled into the user's Python
(PyGObject from pip needs a C toolchain and GLib headers, and the distribution's python3-gi is
not importable from a pipx or venv install); and a pipewiresrc that hangs (it did here, with no
session manager) hangs a process we can kill, not the daemon's capture thread.

The child writes raw BGRx frames to a pipe and its negotiated caps (size, format) to stdout
(`-v`). A reader thread keeps only the newest frame; the capture thread takes it at its own pace.
A cast sends frames only when the screen changes, so no new frame means "unchanged", not "gone".
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time

import numpy as np

from screenrecall.pipeline.messages import Pixels

logger = logging.getLogger(__name__)

GST_LAUNCH = "gst-launch-1.0"
_CAPS = re.compile(rb"GstFdSink:\w+\.GstPad:sink: caps = video/x-raw, .*?width=\(int\)(\d+), height=\(int\)(\d+)")
# Negotiation happens when the stream connects, before any frame: no caps by then = broken stream.
NEGOTIATE_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 3.0


class StreamReader:
    """One child process reading one PipeWire node; frames are RGB views of the newest BGRx buffer."""

    def __init__(self, pipewire_fd: int, node_id: int, name: str = "") -> None:
        self.node_id = node_id
        self.name = name or f"node {node_id}"
        self._frames = 0
        self._latest: Pixels | None = None
        self._latest_at = 0.0
        self._size: tuple[int, int] | None = None
        self._size_known = threading.Event()
        self._lock = threading.Lock()
        self._error = ""
        self._started_at = time.monotonic()
        data_read, data_write = os.pipe()
        try:
            self._proc = subprocess.Popen(
                _command(pipewire_fd, node_id, data_write),
                pass_fds=(pipewire_fd, data_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError:
            os.close(data_read)
            raise
        finally:
            os.close(data_write)
        self._data = os.fdopen(data_read, "rb", buffering=0)
        self._threads = [
            threading.Thread(target=self._read_caps, name=f"pipewire-caps-{node_id}", daemon=True),
            threading.Thread(target=self._read_frames, name=f"pipewire-frames-{node_id}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def frames(self) -> int:
        """Frames delivered so far (a still screen delivers none)."""
        return self._frames

    @property
    def pid(self) -> int:
        """The gst-launch-1.0 child's pid."""
        return self._proc.pid

    def latest(self) -> tuple[Pixels | None, float]:
        """The newest frame (None before the first) and when it arrived (monotonic seconds)."""
        with self._lock:
            return self._latest, self._latest_at

    def problem(self) -> str:
        """Why this stream is unusable ("" while it is fine): the child exited, or never negotiated."""
        if self._error:
            return self._error
        code = self._proc.poll()
        if code is not None:
            return f"the PipeWire stream of {self.name} ended (gst-launch exit {code})"
        if not self._size_known.is_set() and time.monotonic() - self._started_at > NEGOTIATE_TIMEOUT_S:
            return f"the PipeWire stream of {self.name} did not negotiate within {NEGOTIATE_TIMEOUT_S:.0f} s"
        return ""

    def close(self) -> None:
        """Stops the child and joins the readers (the pipe closes when the child dies); never hangs."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=_STOP_TIMEOUT_S)
        self._size_known.set()  # releases a frame reader still waiting for caps
        for thread in self._threads:
            thread.join(timeout=_STOP_TIMEOUT_S)
        self._data.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def _read_caps(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        tail: list[bytes] = []
        for line in stdout:
            match = _CAPS.search(line)
            if match is None:
                tail = [*tail[-20:], line]
                continue
            size = (int(match.group(1)), int(match.group(2)))
            if self._size is not None and size != self._size:
                # The pipe has no frame boundaries: after a size change the reader could not
                # split it. The stream is dropped and reopened at the new size.
                self._error = f"the stream of {self.name} changed size to {size[0]}x{size[1]}; reopening it"
                self._proc.terminate()
                return
            self._size = size
            self._size_known.set()
        if self._proc.wait() not in (0, -15) and tail:
            logger.debug("gst-launch for %s said: %s", self.name, b"".join(tail).decode(errors="replace")[-800:])

    def _read_frames(self) -> None:
        self._size_known.wait()
        if self._size is None:
            return
        width, height = self._size
        frame_bytes = width * height * 4
        while True:
            buffer = bytearray(frame_bytes)
            view = memoryview(buffer)
            got = 0
            while got < frame_bytes:
                count = self._data.readinto(view[got:])
                if not count:
                    return  # the child exited; problem() reports it
                got += count
            bgrx = np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 4)
            rgb = bgrx[..., 2::-1]  # a view: the copy is paid only for frames the gate keeps
            rgb.flags.writeable = False
            with self._lock:
                self._latest, self._latest_at = rgb, time.monotonic()
                self._frames += 1


def _command(pipewire_fd: int, node_id: int, data_fd: int) -> list[str]:
    # If the daemon dies without closing the stream (SIGKILL, OOM), the child must not live on
    # reading a dead cast: util-linux's setpriv asks the kernel to send it SIGTERM then.
    # (subprocess's preexec_fn could do the same prctl, but is unsafe with threads.)
    orphan_guard = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []
    return [
        *orphan_guard,
        GST_LAUNCH, "-v", "-e",
        "pipewiresrc", f"fd={pipewire_fd}", f"path={node_id}", "do-timestamp=false",
        "!", "videoconvert",
        "!", "video/x-raw,format=BGRx",
        "!", "fdsink", f"fd={data_fd}", "sync=false",
    ]  # fmt: skip
