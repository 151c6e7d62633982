"""The runtime dir, our directories, the token file and the API socket are trusted only when they are ours."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from screenrecall import paths
from screenrecall.api.client import ApiClient, ApiError
from screenrecall.api.security import ApiSecurityError, load_or_create_token
from tests.support.as_nobody import NOBODY

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")


def runtime(path: Path, tmp_path: Path) -> Path:
    return paths.runtime_dir({"XDG_RUNTIME_DIR": str(path), "XDG_CACHE_HOME": str(tmp_path / "cache")})


def test_a_private_runtime_dir_of_ours_is_used(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    assert runtime(tmp_path / "run", tmp_path) == tmp_path / "run" / "screenrecall"


def test_a_symlinked_runtime_dir_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "run").symlink_to(tmp_path / "real")
    assert runtime(tmp_path / "run", tmp_path) == tmp_path / "cache" / "screenrecall" / "run"


def test_a_runtime_dir_open_to_others_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run").chmod(0o755)
    assert runtime(tmp_path / "run", tmp_path) == tmp_path / "cache" / "screenrecall" / "run"


@needs_root
def test_a_runtime_dir_of_another_user_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    os.chown(tmp_path / "run", NOBODY, NOBODY)
    assert runtime(tmp_path / "run", tmp_path) == tmp_path / "cache" / "screenrecall" / "run"


def test_a_directory_we_did_not_create_is_never_chmodded(tmp_path: Path) -> None:
    # api.socket = "~/api.sock" must not turn $HOME into 0700.
    home = tmp_path / "home-like"
    home.mkdir()
    home.chmod(0o755)
    paths.ensure_private_dir(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o755


def test_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "tmp-like"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(paths.UnsafePathError, match="written by others"):
        paths.ensure_private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_a_symlink_in_place_of_our_runtime_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    paths.runtime_dir().symlink_to(tmp_path / "elsewhere")
    with pytest.raises(paths.UnsafePathError, match="symlink"):
        paths.ensure_private_dir(paths.runtime_dir())


def test_a_data_dir_moved_to_another_disk_by_a_symlink_is_followed_but_not_chmodded(tmp_path: Path) -> None:
    (tmp_path / "big-disk").mkdir()
    (tmp_path / "big-disk").chmod(0o755)
    (tmp_path / "screenrecall").symlink_to(tmp_path / "big-disk")
    assert paths.ensure_private_dir(tmp_path / "screenrecall") == tmp_path / "screenrecall"
    assert stat.S_IMODE((tmp_path / "big-disk").stat().st_mode) == 0o755
    (tmp_path / "big-disk").chmod(0o777)
    with pytest.raises(paths.UnsafePathError, match="written by others"):
        paths.ensure_private_dir(tmp_path / "screenrecall")


@needs_root
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    (tmp_path / "screenrecall").mkdir(mode=0o700)
    os.chown(tmp_path / "screenrecall", NOBODY, NOBODY)
    with pytest.raises(paths.UnsafePathError, match="uid 65534"):
        paths.ensure_private_dir(tmp_path / "screenrecall")


def test_a_symlink_planted_as_the_token_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "planted").write_text("attacker-chosen-token\n")
    (tmp_path / "api-token").symlink_to(tmp_path / "planted")
    with pytest.raises(ApiSecurityError, match="remove it"):
        load_or_create_token(tmp_path)


@needs_root
def test_a_token_file_of_another_user_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "api-token"
    token.write_text("attacker-chosen-token\n")
    token.chmod(0o600)
    os.chown(token, NOBODY, NOBODY)
    with pytest.raises(ApiSecurityError, match="not our own file"):
        load_or_create_token(tmp_path)


def test_a_token_others_could_read_is_replaced(tmp_path: Path) -> None:
    token = tmp_path / "api-token"
    token.write_text("leaked-token\n")
    token.chmod(0o644)
    fresh = load_or_create_token(tmp_path)
    assert fresh != "leaked-token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert load_or_create_token(tmp_path) == fresh


@needs_root
def test_the_client_sends_nothing_to_a_socket_served_by_another_user() -> None:
    # Under /tmp: nobody cannot reach pytest's own tmp dirs (0700 root).
    shared = Path(tempfile.mkdtemp(prefix="sr-impostor-"))
    shared.chmod(0o777)
    path = shared / "api.sock"
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the impostor, as nobody
        received = b"?"
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
                server.bind(str(path))
                server.listen(1)
                os.write(ready_write, b"x")
                connection, _ = server.accept()
                connection.settimeout(2)
                try:
                    received = connection.recv(4096)
                except TimeoutError:
                    received = b""
                connection.close()
        finally:
            os.write(write_end, received or b"<nothing>")
            os._exit(0)
    os.close(write_end)
    os.close(ready_write)
    assert os.read(ready_read, 1) == b"x"
    os.close(ready_read)

    with pytest.raises(ApiError, match="served by uid 65534"):
        ApiClient(path, timeout=5).request("POST", "/v1/search", {"text": "my bank statement"})

    with os.fdopen(read_end, "rb") as pipe:
        heard = pipe.read()
    os.waitpid(pid, 0)
    shutil.rmtree(shared)
    assert heard == b"<nothing>"
