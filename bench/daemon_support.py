"""Shared by the daemon benchmarks: private XDG dirs, a config file, the real daemon as a child process,
a 1080p Xvfb screen, /proc CPU and memory figures, percentiles."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from Xlib import X
from Xlib import display as xdisplay

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# `python bench/NAME.py` from the repo root: the package in daemon/ (not installed) and tests.support.
for _entry in (str(REPO / "daemon"), str(REPO)):
    if _entry not in sys.path:
        sys.path.insert(1, _entry)

import common  # noqa: E402  (needs the sys.path entries above)
from common import screen_frame  # noqa: E402
from screenrecall.api.client import ApiClient  # noqa: E402
from tests.support.screens import terminal  # noqa: E402
from tests.support.xvfb import Xvfb  # noqa: E402

logger = logging.getLogger(__name__)

# Compiled-model cache kept between runs, as a user's ~/.cache is: the daemon starts from it after
# the first run (compiling the full-size model costs ~10 s of CPU and more peak memory).
XDG_CACHE = BENCH / ".cache" / "xdg-cache"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SCREEN = (1920, 1080)
Sections = Mapping[str, Mapping[str, Any]]


# --- private dirs and config --------------------------------------------------------------------------


def private_env(root: Path, *, shared_cache: bool = True) -> dict[str, str]:
    """os.environ with XDG dirs under root (data, config, runtime; cache shared unless asked not to)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCREENRECALL_")}
    dirs = {"XDG_CONFIG_HOME": root / "config", "XDG_DATA_HOME": root / "data", "XDG_RUNTIME_DIR": root / "run"}
    dirs["XDG_CACHE_HOME"] = XDG_CACHE if shared_cache else root / "cache"
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[name] = str(path)
    env["PYTHONPATH"] = str(REPO / "daemon")
    env.pop("WAYLAND_DISPLAY", None)
    return env


def write_config(path: Path, sections: Sections) -> Path:
    """A TOML file; json.dumps spells strings, numbers, booleans and lists the way TOML does."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def daemon_config(bundle: Path, **overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The full-size bundle on the CPU with the compiled-model cache on; everything else the defaults."""
    sections: dict[str, dict[str, Any]] = {"model": {"path": str(bundle), "device": "CPU", "cache": True}}
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return sections


# --- the real daemon ----------------------------------------------------------------------------------


class Daemon:
    """`python -m screenrecall --config FILE run` in a child process, with the given environment."""

    def __init__(self, config_path: Path, env: Mapping[str, str], log_path: Path) -> None:
        self.config_path = config_path
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.socket = Path(self.env["XDG_RUNTIME_DIR"]) / "screenrecall" / "api.sock"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the daemon is not started")
        return self.process.pid

    def start(self, timeout: float = 180.0) -> float:
        """Starts it and waits until its API answers; returns the seconds that took."""
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "screenrecall", "--config", str(self.config_path), "run"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = ApiClient(self.socket, timeout=10)
        while not (self.socket.exists() and client.available()):
            if self.process.poll() is not None:
                raise RuntimeError(f"the daemon exited {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"the daemon's API did not answer within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.2)
        return time.monotonic() - began

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "screenrecall", "--config", str(self.config_path), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("the daemon did not stop within %.0f s; killing it", timeout)
            self.process.kill()
            return self.process.wait(10)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@contextmanager
def running(daemon: Daemon, timeout: float = 180.0) -> Iterator[float]:
    """Starts the daemon (yields its start-up seconds) and always stops it."""
    try:
        yield daemon.start(timeout)
    finally:
        code = daemon.stop()
        if code != 0:
            logger.warning("the daemon exited %d; its log ends:\n%s", code, daemon.log_tail())


@contextmanager
def screen(width: int = SCREEN[0], height: int = SCREEN[1]) -> Iterator[Xvfb]:
    """A private Xvfb; DISPLAY is set for this process (children get it through private_env)."""
    with Xvfb(width, height) as server:
        previous = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = server.display
        try:
            yield server
        finally:
            if previous is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = previous


class Painter:
    """Shows whole RGB images on an Xvfb: each is uploaded to a pixmap first, then made the root
    window's background in one step, so a capture never sees half a picture."""

    def __init__(self, display: str) -> None:
        self._conn: Any = xdisplay.Display(display)  # python-xlib ships no type hints
        self._root = self._conn.screen().root
        self._depth = self._conn.screen().root_depth
        # Without BIG-REQUESTS one request carries at most max_request_length 4-byte units.
        self._max_bytes = (self._conn.display.info.max_request_length - 64) * 4
        self._shown: Any = None

    def upload(self, pixels: NDArray[np.uint8]) -> Any:
        """A server-side pixmap holding the image (Xvfb's 24-bit visual wants B, G, R, pad bytes)."""
        height, width = pixels.shape[:2]
        pixmap = self._root.create_pixmap(width, height, self._depth)
        gc = pixmap.create_gc()
        bgrx = np.zeros((height, width, 4), dtype=np.uint8)
        bgrx[..., :3] = pixels[..., ::-1]
        rows = max(1, self._max_bytes // (width * 4))
        for top in range(0, height, rows):
            strip = bgrx[top : top + rows]
            pixmap.put_image(gc, 0, top, width, strip.shape[0], X.ZPixmap, self._depth, 0, strip.tobytes())
        gc.free()
        self._conn.sync()
        return pixmap

    def show(self, pixmap: Any) -> float:
        """Makes the pixmap the root's picture; returns time.time() once the server has done it."""
        self._root.change_attributes(background_pixmap=pixmap)
        self._root.clear_area(0, 0, 0, 0)
        self._conn.sync()
        shown_at = time.time()
        if self._shown is not None:
            self._shown.free()  # the server keeps what the root still uses
        self._shown = pixmap
        return shown_at

    def close(self) -> None:
        self._conn.close()


def desktop(seed: int, size: tuple[int, int] = SCREEN) -> NDArray[np.uint8]:
    """A screen-like frame (bench/common.py) with a terminal of real text on it, so OCR has words."""
    frame = screen_frame(seed, size)
    lines = [f"{seed:04d} {word} " * 3 for word in _WORDS[seed % 7 :] + _WORDS[: seed % 7]] * 3
    text = terminal(lines, (760, 500), font_size=15)
    top, left = 60 + (seed * 37) % 400, 80 + (seed * 151) % 1000
    frame[top : top + 500, left : left + 760] = text
    return frame


_WORDS = ["invoice", "deploy", "kernel", "meeting", "budget", "pipeline", "error"]


# --- /proc figures --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcSample:
    at: float  # time.monotonic()
    cpu_s: float  # user + system CPU seconds of all the process's threads so far
    rss_kb: int
    hwm_kb: int  # peak RSS so far


def proc_sample(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of stat(5)
    memory = _status_kb(pid, ("VmRSS", "VmHWM"))
    return ProcSample(time.monotonic(), cpu, memory["VmRSS"], memory["VmHWM"])


def _status_kb(pid: int, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            found[key] = int(value.split()[0])
    return found


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each thread: {tid: (OS thread name, seconds)}."""
    out: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:
            continue  # the thread ended while we looked
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def cpu_percent(first: ProcSample, last: ProcSample) -> float:
    """Share of one core used between two samples, in percent."""
    return 100.0 * (last.cpu_s - first.cpu_s) / max(last.at - first.at, 1e-9)


def memory_breakdown(pid: int, top: int = 8) -> dict[str, Any]:
    """Resident memory by kind (anonymous / file-backed) and the largest file mappings, in MB."""
    kinds = _status_kb(pid, ("RssAnon", "RssFile", "RssShmem"))
    by_file: dict[str, int] = {}
    current = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].endswith(":"):  # a mapping's header: address perms offset dev inode [path]
            current = parts[5] if len(parts) > 5 else "[anonymous]"
        elif parts and parts[0] == "Rss:":
            by_file[current] = by_file.get(current, 0) + int(parts[1])
    largest = sorted(by_file.items(), key=lambda item: item[1], reverse=True)[:top]
    return {
        **{f"{key}_mb": round(kb / 1024, 1) for key, kb in kinds.items()},
        "largest_mb": {Path(name).name or name: round(kb / 1024, 1) for name, kb in largest},
    }


# --- statistics -----------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def p50_p95(values_s: Sequence[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum in milliseconds."""
    ms = [1000.0 * v for v in values_s]
    return {"p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1), "max_ms": round(max(ms, default=0), 1)}


def discard(_value: object) -> None:
    """A Subject step that must return None: drops what the timed call returned."""
    return None


def bench_main(
    argv: Sequence[str] | None,
    parse_args: Callable[[Sequence[str] | None], Any],
    run: Callable[[Any, Path], dict[str, Any]],
) -> int:
    """The shared entry of the daemon benchmarks: parse, run in a temp dir, print the JSON line last."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="screenrecall-bench-") as workdir:
        result = run(args, Path(workdir))
    common.emit_json(result)
    return 0
