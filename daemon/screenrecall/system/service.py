"""Installs, removes and reports the systemd user unit that runs the daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path

UNIT_NAME = "screenrecall.service"
EXEC_PLACEHOLDER = "@EXEC@"
# `enable` links the unit here (its [Install] WantedBy=); uninstall tidies a link left behind.
WANTS_DIR = "graphical-session.target.wants"
# A systemctl that hangs (a wedged manager) must not hang the command line.
SYSTEMCTL_TIMEOUT_S = 30.0

_REFUSED_IN_EXECUTABLE = "\"'\\"

Runner = Callable[..., subprocess.CompletedProcess[str]]


class UnitError(ValueError):
    """The command cannot be written into a unit that systemd would load; the message says why."""


def default_exec_command() -> list[str]:
    """The command the unit runs: this very interpreter, so the service sees the same packages."""
    return [sys.executable, "-m", "screenrecall", "run"]


def template() -> str:
    """The unit template shipped in the package (systemd/screenrecall.service links to it)."""
    return resources.files("screenrecall").joinpath("data", UNIT_NAME).read_text(encoding="utf-8")


def render_unit(exec_command: Sequence[str]) -> str:
    """The unit text with ExecStart= running exec_command; raises UnitError if systemd could not."""
    return template().replace(EXEC_PLACEHOLDER, _exec_start(exec_command))


def unit_path(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME/systemd/user/screenrecall.service, where the user manager looks for it."""
    env = os.environ if environ is None else environ
    value = env.get("XDG_CONFIG_HOME", "")
    # As in paths.py: the XDG spec says a relative value is invalid and must be ignored.
    base = Path(value) if value and os.path.isabs(value) else Path.home() / ".config"
    return base / "systemd" / "user" / UNIT_NAME


def install(
    environ: Mapping[str, str] | None = None,
    run: Runner = subprocess.run,
    exec_command: Sequence[str] | None = None,
) -> list[str]:
    """Writes the unit, then enables and starts it; returns what was done, line by line.

    Raises UnitError (nothing written) if the command cannot go into a unit. A systemctl that is
    missing or cannot reach the user manager is not an error: the unit is written and the lines
    say what to run in the desktop session.
    """
    path = unit_path(environ)
    command = default_exec_command() if exec_command is None else exec_command
    _write_file(path, render_unit(command))
    lines = [f"Wrote {path}", f"  ExecStart={_exec_start(command)}"]
    for args in (["daemon-reload"], ["enable", "--now", "--no-block", UNIT_NAME]):
        problem = _systemctl(args, environ, run)[1]
        if problem is not None:
            return [
                *lines,
                problem,
                "The unit file is in place. In your desktop session, run:",
                f"  systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}",
            ]
    return [
        *lines,
        f"Enabled {UNIT_NAME} (it starts with the graphical session) and asked to start it now.",
        "Check it with: screenrecall service status",
    ]


def uninstall(environ: Mapping[str, str] | None = None, run: Runner = subprocess.run) -> list[str]:
    """Stops and disables the unit, then removes its file; returns what was done, line by line."""
    path = unit_path(environ)
    lines: list[str] = []
    problem = _systemctl(["disable", "--now", UNIT_NAME], environ, run)[1]
    if problem is None:
        lines.append(f"Stopped and disabled {UNIT_NAME}.")
    else:
        lines += [
            problem,
            f"If it is running, stop it in your desktop session: systemctl --user stop {UNIT_NAME}",
        ]
    link = path.parent / WANTS_DIR / UNIT_NAME
    if link.is_symlink():
        # Left behind when disable could not reach the manager; it would point at nothing.
        link.unlink()
        lines.append(f"Removed {link}")
    if path.exists():
        path.unlink()
        lines.append(f"Removed {path}")
    else:
        lines.append(f"No unit file at {path}")
    if problem is None:
        _systemctl(["daemon-reload"], environ, run)
    return lines


def status(environ: Mapping[str, str] | None = None, run: Runner = subprocess.run) -> str:
    """`systemctl --user status` for the unit, or a plain explanation when that cannot be had."""
    result, problem = _systemctl(["status", "--no-pager", "--full", UNIT_NAME], environ, run)
    # status exits 3 for an inactive unit and still prints it: any output is the answer.
    if result is not None and result.stdout.strip():
        return result.stdout.rstrip("\n")
    path = unit_path(environ)
    installed = f"The unit file is installed at {path}." if path.exists() else f"No unit file at {path}."
    if problem is None:
        problem = f"systemctl --user status printed nothing: {_first_line(result)}"
    return f"{problem}\n{installed}"


def _exec_start(command: Sequence[str]) -> str:
    """The ExecStart= value for command: each word double-quoted, safe from systemd's expansions."""
    if not command or not os.path.isabs(command[0]):
        raise UnitError(f"the unit needs an absolute executable path, got {list(command)!r}")
    executable = command[0]
    if any(ch in _REFUSED_IN_EXECUTABLE for ch in executable) or _has_control(executable):
        # systemd's own rule (string_is_safe): such a unit fails to load, however it is quoted.
        raise UnitError(
            f"systemd refuses an executable path containing a quote, a backslash or a control"
            f" character: {executable!r}; install screenrecall in a path without them"
        )
    # In the executable % is still a specifier but $ is taken literally (measured on systemd 252).
    words = ['"' + executable.replace("%", "%%") + '"']
    words += [_quote_argument(word) for word in command[1:]]
    return " ".join(words)


def _quote_argument(word: str) -> str:
    if _has_control(word):
        raise UnitError(f"control characters cannot be written into a unit file: {word!r}")
    escaped = word.replace("\\", "\\\\").replace('"', '\\"')
    # In arguments % starts a specifier (%h, %t, ...) and $ an environment variable, even quoted.
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def _write_file(path: Path, text: str) -> None:
    """Writes atomically (no half-written unit if we are interrupted), mode 0644 as units are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _systemctl(
    args: Sequence[str], environ: Mapping[str, str] | None, run: Runner
) -> tuple[subprocess.CompletedProcess[str] | None, str | None]:
    """Runs `systemctl --user ARGS`; returns the result and, if it failed, a sentence saying why."""
    command = ["systemctl", "--user", *args]
    shown = " ".join(command)
    try:
        result = run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=SYSTEMCTL_TIMEOUT_S,
            env=None if environ is None else dict(environ),
        )
    except FileNotFoundError:
        return None, f"Could not run `{shown}`: systemctl was not found (is this a systemd system?)."
    except subprocess.TimeoutExpired:
        return None, f"`{shown}` did not answer within {SYSTEMCTL_TIMEOUT_S:.0f} s."
    if result.returncode == 0 or (args[0] == "status" and result.stdout.strip()):
        return result, None
    detail = _first_line(result)
    if "Failed to connect to bus" in detail:
        detail += (
            " (no systemd user manager is reachable from this shell: no desktop session,"
            " or XDG_RUNTIME_DIR / DBUS_SESSION_BUS_ADDRESS are not set)"
        )
    return result, f"`{shown}` failed (exit {result.returncode}): {detail}"


def _first_line(result: subprocess.CompletedProcess[str] | None) -> str:
    if result is None:
        return "no output"
    text = (result.stderr or "").strip() or (result.stdout or "").strip()
    return text.splitlines()[0] if text else "no output"
