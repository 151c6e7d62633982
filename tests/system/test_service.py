"""The user unit: rendered, checked by systemd's own parser, installed against the real systemctl."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from screenrecall.system import service

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def unreachable_manager(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment in which `systemctl --user` can reach no user manager, on any machine.

    XDG_RUNTIME_DIR is the test's own empty dir (conftest) and without DBUS_SESSION_BUS_ADDRESS
    systemctl has nowhere else to look: a developer's real session is never touched.
    """
    assert shutil.which("systemctl"), "systemctl is needed (Debian package systemd)"
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    return dict(os.environ)


def interpreter_under(directory: Path) -> Path:
    """A working interpreter at an awkward path: a symlink to the one running the tests."""
    directory.mkdir(parents=True)
    link = directory / "python3"
    link.symlink_to(sys.executable)
    return link


def systemd_verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze --user verify` on the unit: offline, it needs only XDG_RUNTIME_DIR."""
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed (Debian package systemd)"
    unit = tmp_path / "verify" / service.UNIT_NAME
    unit.parent.mkdir()
    unit.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def complaints_about_our_unit(result: subprocess.CompletedProcess[str]) -> list[str]:
    # verify exits 0 even on warnings such as an unknown key, so read what it says about our unit.
    return [line for line in (result.stdout + result.stderr).splitlines() if service.UNIT_NAME in line]


def exec_start(unit_text: str) -> str:
    [line] = [line for line in unit_text.splitlines() if line.startswith("ExecStart=")]
    return line.removeprefix("ExecStart=")


def test_repository_unit_file_is_the_packaged_template() -> None:
    assert (REPO / "systemd" / service.UNIT_NAME).read_text() == service.template()


def test_rendered_unit_passes_systemd_verify_with_spaces_and_percent_in_the_path(tmp_path: Path) -> None:
    python = interpreter_under(tmp_path / "my venv 100% $HOME")

    text = service.render_unit([str(python), "-m", "screenrecall", "run"])
    result = systemd_verify(text, tmp_path)

    # systemd checks the executable exists: a wrongly split or expanded path fails here.
    assert result.returncode == 0, result.stderr
    assert complaints_about_our_unit(result) == []
    # % is a specifier even in the executable; $ is literal there (measured against systemd 252).
    assert exec_start(text) == f'"{str(python).replace("%", "%%")}" "-m" "screenrecall" "run"'


def test_systemd_verify_rejects_a_unit_whose_interpreter_is_missing(tmp_path: Path) -> None:
    # The control for the test above: verify does look at the executable.
    text = service.render_unit([str(tmp_path / "no such dir" / "python3"), "-m", "screenrecall", "run"])

    assert any("is not executable" in line for line in complaints_about_our_unit(systemd_verify(text, tmp_path)))


def test_quotes_arguments_against_systemd_escapes_and_expansions() -> None:
    text = service.render_unit(["/usr/bin/python3", 'say "hi" to $USER at 100% \\o/'])

    # Round trip measured under a real user manager: the process saw exactly the original argument.
    assert exec_start(text) == '"/usr/bin/python3" "say \\"hi\\" to $$USER at 100%% \\\\o/"'


@pytest.mark.parametrize("path", ["/home/o'brien/bin/python3", '/opt/"x"/python3', "/opt/back\\slash/python3"])
def test_refuses_an_interpreter_path_systemd_would_not_start(path: str) -> None:
    with pytest.raises(service.UnitError, match="quote, a backslash or a control character"):
        service.render_unit([path, "-m", "screenrecall", "run"])


def test_refuses_a_relative_interpreter_path() -> None:
    with pytest.raises(service.UnitError, match="absolute"):
        service.render_unit(["python3", "-m", "screenrecall", "run"])


def test_default_command_runs_this_interpreter() -> None:
    assert exec_start(service.render_unit(service.default_exec_command())).startswith(f'"{sys.executable}" ')


def test_unit_path_follows_xdg_config_home(tmp_path: Path) -> None:
    assert service.unit_path({"XDG_CONFIG_HOME": str(tmp_path)}) == (
        tmp_path / "systemd" / "user" / "screenrecall.service"
    )
    # A relative XDG value is invalid by the spec and ignored.
    assert service.unit_path({"XDG_CONFIG_HOME": "relative"}) == (
        Path.home() / ".config" / "systemd" / "user" / "screenrecall.service"
    )


def test_install_writes_the_unit_and_says_what_to_run_when_no_manager_answers(
    unreachable_manager: dict[str, str],
) -> None:
    lines = service.install(unreachable_manager)

    path = service.unit_path(unreachable_manager)
    assert path.read_text() == service.render_unit(service.default_exec_command())
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == [service.UNIT_NAME]  # no temp file left
    report = "\n".join(lines)
    assert f"Wrote {path}" in report
    assert "`systemctl --user daemon-reload` failed (exit 1): Failed to connect to bus" in report
    assert "no systemd user manager is reachable" in report
    assert "systemctl --user daemon-reload && systemctl --user enable --now screenrecall.service" in report


def test_install_without_systemctl_still_writes_the_unit(unreachable_manager: dict[str, str], tmp_path: Path) -> None:
    environ = {**unreachable_manager, "PATH": str(tmp_path / "empty")}

    report = "\n".join(service.install(environ))

    assert service.unit_path(environ).is_file()
    assert "systemctl was not found" in report


def test_install_replaces_an_older_unit(unreachable_manager: dict[str, str]) -> None:
    path = service.unit_path(unreachable_manager)
    path.parent.mkdir(parents=True)
    path.write_text("[Service]\nExecStart=/old/python3 -m screenrecall run\n")

    service.install(unreachable_manager)

    assert path.read_text() == service.render_unit(service.default_exec_command())


def test_uninstall_removes_the_unit_and_a_stale_enable_link(unreachable_manager: dict[str, str]) -> None:
    service.install(unreachable_manager)
    path = service.unit_path(unreachable_manager)
    link = path.parent / "graphical-session.target.wants" / service.UNIT_NAME
    link.parent.mkdir()
    link.symlink_to(path)  # what an earlier `systemctl --user enable` left

    report = "\n".join(service.uninstall(unreachable_manager))

    assert not path.exists()
    assert not link.is_symlink()
    assert "`systemctl --user disable --now screenrecall.service` failed" in report
    assert f"Removed {path}" in report


def test_uninstall_when_nothing_is_installed_says_so(unreachable_manager: dict[str, str]) -> None:
    report = "\n".join(service.uninstall(unreachable_manager))

    assert f"No unit file at {service.unit_path(unreachable_manager)}" in report


def test_status_explains_an_unreachable_manager(unreachable_manager: dict[str, str]) -> None:
    before = service.status(unreachable_manager)
    service.install(unreachable_manager)
    after = service.status(unreachable_manager)

    assert "Failed to connect to bus" in before
    assert f"No unit file at {service.unit_path(unreachable_manager)}" in before
    assert f"The unit file is installed at {service.unit_path(unreachable_manager)}" in after
