"""A real headless Wayland desktop for tests: Sway, a private session bus, PipeWire with WirePlumber,
xdg-desktop-portal with a patched xdg-desktop-portal-wlr that casts without a picker dialog.

Start order and traps are in ../shared/FIELD-NOTES.md ("Wayland test world"): Sway refuses to run
as root, so it and every GUI client run as nobody; without WirePlumber no frames arrive; a still
screen sends no frames; the patched xdpw must own its bus name before the portal starts, or the
portal D-Bus-activates the stock one. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from tests.conftest import REPO
from tests.support.as_nobody import NOBODY

OUTPUT = "HEADLESS-1"
_WAIT_S = 15.0
_PORTAL_BUS_NAME = "org.freedesktop.portal.Desktop"
_XDPW_BUS_NAME = "org.freedesktop.impl.portal.desktop.wlr"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <servicedir>{services}</servicedir>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"""
# Only the permission store may be activated: it keeps the portal's restore tokens. The system
# bus config would also activate xdg-document-portal, which FUSE-mounts $XDG_RUNTIME_DIR/doc.
_ACTIVATABLE = ("org.freedesktop.impl.portal.PermissionStore.service",)

_SWAY_CONFIG = """output {output} resolution {width}x{height} bg {background} solid_color
default_border none
focus_follows_mouse no
xwayland disable
"""

_XDPW_CONFIG = """[screencast]
output_name={output}
max_fps=30
chooser_type=none
"""

_T = TypeVar("_T")


class WorldError(RuntimeError):
    """The Wayland test world could not start; the message carries the failing program's log."""


def missing_programs() -> list[str]:
    """What this machine lacks to start the world (empty = it can start)."""
    needed = [
        "sway",
        "swaymsg",
        "foot",
        "pipewire",
        "wireplumber",
        "pw-cli",
        "dbus-daemon",
        "setpriv",
        "gst-launch-1.0",
    ]
    missing = [name for name in needed if shutil.which(name) is None]
    if not os.path.exists("/usr/libexec/xdg-desktop-portal"):
        missing.append("xdg-desktop-portal")
    if os.geteuid() != 0:
        missing.append("root (to run Sway and its clients as nobody)")
    return missing


def patched_xdpw() -> str:
    """The patched xdg-desktop-portal-wlr, built once and cached (scripts/build-xdpw)."""
    done = subprocess.run(
        [str(REPO / "scripts" / "build-xdpw")], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise WorldError(f"building xdg-desktop-portal-wlr failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


class WaylandWorld:
    """`with WaylandWorld() as world:` runs the desktop; `world.env` is the session's environment."""

    def __init__(self, width: int = 1280, height: int = 720, background: str = "#203040") -> None:
        self.width = width
        self.height = height
        self._background = background
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._root = Path(tempfile.mkdtemp(prefix="sr-wayland-", dir="/tmp"))
        self.runtime = self._root / "run"
        self.home = self._root / "home"
        self.env: dict[str, str] = {}
        self._xdpw = ""

    def __enter__(self) -> WaylandWorld:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        self._xdpw = patched_xdpw()
        self._make_dirs()
        bus_socket = self.runtime / "bus"
        self.env = self._base_env(bus_socket)
        self._start_sway()
        self._start_bus(bus_socket)
        self.start_pipewire()
        self.start_portal()

    # -- the processes, in start order -------------------------------------------------------

    def _make_dirs(self) -> None:
        for path in (self.runtime, self.home, self.home / ".config", self.home / ".local/share", self.home / ".cache"):
            path.mkdir(parents=True, exist_ok=True)
        # Sway runs as nobody: its runtime dir must be nobody's, and reachable from /tmp.
        for path in (self._root, self.runtime, self.home):
            os.chown(path, NOBODY, NOBODY)
        self._root.chmod(0o755)
        self.runtime.chmod(0o700)

    def _base_env(self, bus_socket: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SWAYSOCK")}
        env.update(
            XDG_RUNTIME_DIR=str(self.runtime),
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_CURRENT_DESKTOP="sway",
            XDG_SESSION_TYPE="wayland",
            DBUS_SESSION_BUS_ADDRESS=f"unix:path={bus_socket}",
        )
        return env

    def _start_sway(self) -> None:
        config = self._root / "sway.conf"
        config.write_text(
            _SWAY_CONFIG.format(output=OUTPUT, width=self.width, height=self.height, background=self._background)
        )
        env = {**self.env, "WLR_BACKENDS": "headless", "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman"}
        self._spawn("sway", [*_as_nobody(), "sway", "-c", str(config)], env)
        _wait((self.runtime / "wayland-1").exists, "Sway's Wayland socket", self._log_of("sway"))
        _wait(self._sway_socket, "Sway's IPC socket", self._log_of("sway"))
        # No XWayland: the daemon must capture a session that has no X display at all.
        self.env.update(WAYLAND_DISPLAY="wayland-1", SWAYSOCK=self._sway_socket())

    def _sway_socket(self) -> str:
        found = glob.glob(str(self.runtime / "sway-ipc.*.sock"))
        return found[0] if found else ""

    def _start_bus(self, bus_socket: Path) -> None:
        services = self._root / "dbus-services"
        services.mkdir(exist_ok=True)
        for name in _ACTIVATABLE:
            source = Path("/usr/share/dbus-1/services") / name
            if source.exists():
                shutil.copy(source, services / name)
        config = self._root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=bus_socket, services=services))
        self._spawn("dbus", ["dbus-daemon", "--nofork", f"--config-file={config}"], self.env)
        _wait(bus_socket.exists, "the session bus", self._log_of("dbus"))

    def start_pipewire(self) -> None:
        """Starts PipeWire, then WirePlumber once PipeWire's socket exists (also to restart them)."""
        socket = self.runtime / "pipewire-0"
        self._spawn("pipewire", ["pipewire"], self.env)
        _wait(socket.exists, "PipeWire's socket", self._log_of("pipewire"))
        self._spawn("wireplumber", ["wireplumber"], self.env)
        _wait(self._wireplumber_ready, "WirePlumber", self._log_of("wireplumber"))

    def _wireplumber_ready(self) -> bool:
        done = subprocess.run(
            ["pw-cli", "ls", "Client"], env=self.env, capture_output=True, text=True, timeout=5, check=False
        )
        return "WirePlumber" in done.stdout

    def stop_pipewire(self) -> None:
        """Kills PipeWire and WirePlumber, as a crash would (streams die with them)."""
        for name in ("wireplumber", "pipewire"):
            self._stop(name, signal.SIGKILL)
        for leftover in glob.glob(str(self.runtime / "pipewire-0*")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)

    def restart_after_pipewire(self) -> None:
        """Starts PipeWire again, and the portal with it: xdg-desktop-portal-wlr 0.7 stays connected
        to the dead PipeWire and never answers Start again (the frontend then hangs on it too), so a
        desktop must restart it as well, as its service manager does."""
        self.start_pipewire()
        self.stop_portal()
        self.start_portal()

    def start_portal(self) -> None:
        """The patched xdpw first (owning its bus name), then xdg-desktop-portal."""
        config = self._root / "xdpw.conf"
        config.write_text(_XDPW_CONFIG.format(output=OUTPUT))
        self._spawn("xdpw", [self._xdpw, "-c", str(config), "-l", "DEBUG"], self.env)
        _wait(lambda: self._has_bus_name(_XDPW_BUS_NAME), "xdg-desktop-portal-wlr", self._log_of("xdpw"))
        self._spawn("portal", ["/usr/libexec/xdg-desktop-portal", "-r", "-v"], self.env)
        _wait(lambda: self._has_bus_name(_PORTAL_BUS_NAME), "xdg-desktop-portal", self._log_of("portal"))

    def stop_portal(self) -> None:
        """Stops the portal and its wlr backend: every cast session they held is gone."""
        for name in ("portal", "xdpw"):
            self._stop(name, signal.SIGTERM)

    def _has_bus_name(self, name: str) -> bool:
        done = subprocess.run(
            [
                "dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner", f"string:{name}",
            ],
            env=self.env, capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
        return "boolean true" in done.stdout

    # -- what tests do on the desktop --------------------------------------------------------

    def swaymsg(self, *args: str) -> str:
        done = subprocess.run(
            [*_as_nobody(), "swaymsg", *args], env=self.env, capture_output=True, text=True, timeout=10, check=False
        )
        if done.returncode != 0:
            raise WorldError(f"swaymsg {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def set_background(self, color: str) -> None:
        """Repaints the output: damage, so a waiting cast sends a frame."""
        self.swaymsg("output", OUTPUT, "bg", color, "solid_color")

    def show_text(self, text: str, app_id: str = "screenrecall-test", font_size: int = 28) -> None:
        """A foot terminal (Wayland-native) showing `text` in a large font, full screen; type() adds more."""
        pipe = self._root / f"typed-{app_id}"
        os.mkfifo(pipe, 0o666)
        os.chown(pipe, NOBODY, NOBODY)
        # The terminal prints whatever is written to its pipe, reopening it after each writer.
        script = f"printf '%s\\n' {_shell_quote(text)}; while :; do cat {_shell_quote(str(pipe))}; done"
        proc = subprocess.Popen(
            [*_as_nobody(), "foot", f"--app-id={app_id}", f"--font=monospace:size={font_size}", "sh", "-c", script],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self._procs[f"foot-{proc.pid}"] = proc
        _wait(lambda: f'"app_id": "{app_id}"' in self.swaymsg("-t", "get_tree"), f"foot ({app_id}) to map", lambda: "")

    def type(self, app_id: str, text: str) -> None:
        """Makes the terminal of show_text(app_id=...) print `text` on a new line (damage: a frame)."""
        pipe = self._root / f"typed-{app_id}"
        fd = _wait(lambda: _open_writer(pipe), f"foot ({app_id}) to read its pipe", lambda: "")
        with os.fdopen(fd, "w") as writer:
            writer.write(text + "\n")

    # -- lifetime ------------------------------------------------------------------------------

    def _spawn(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        log = open(self._root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        try:
            self._procs[name] = subprocess.Popen(
                list(command), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        finally:
            log.close()

    def _stop(self, name: str, sig: int) -> None:
        proc = self._procs.pop(name, None)
        if proc is not None:
            _terminate(proc, sig)

    def _log_of(self, name: str) -> Callable[[], str]:
        def read() -> str:
            path = self._root / f"{name}.log"
            return path.read_text(errors="replace")[-3000:] if path.exists() else ""

        return read

    def pid(self, name: str) -> int:
        """The pid of one of the world's processes (sway, dbus, pipewire, wireplumber, xdpw, portal)."""
        return self._procs[name].pid

    def log(self, name: str) -> str:
        return self._log_of(name)()

    def close(self) -> None:
        """Stops everything, clients first and the compositor last; safe to call twice."""
        order = [n for n in self._procs if n.startswith("foot-")] + [
            "portal",
            "xdpw",
            "wireplumber",
            "pipewire",
            "dbus",
        ]
        for name in [*order, *[n for n in self._procs if n not in order]]:
            self._stop(name, signal.SIGTERM)
        shutil.rmtree(self._root, ignore_errors=True)


def _as_nobody() -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _terminate(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        # Each was started in its own session: signal the group, so helpers it forked go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _open_writer(pipe: Path) -> int:
    """A write end of the FIFO, or 0 while nobody reads it (a blocking open could wait forever)."""
    try:
        fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return 0
    os.set_blocking(fd, True)
    return fd


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _wait(ready: Callable[[], _T], what: str, log: Callable[[], str], timeout_s: float = _WAIT_S) -> _T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WorldError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{log()}")
        time.sleep(0.02)
