"""`screenrecall mcp` serves only the user whose daemon it is: another user's socket is refused."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Imported here, before the fork: user nobody cannot read root's site-packages to import the SDK.
import screenrecall.agents.server  # noqa: F401
from screenrecall.agents.daemon import check_owner
from screenrecall.cli import mcp_cmd
from screenrecall.config import validate
from screenrecall.errors import ScreenrecallError
from tests.support.as_nobody import NOBODY, as_nobody

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")


@pytest.fixture
def root_socket() -> Iterator[Path]:
    """A listening socket of root's in a directory anyone may enter (pytest's tmp dirs are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="screenrecall-owner-"))
    folder.chmod(0o755)
    path = folder / "api.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        yield path
    shutil.rmtree(folder)


def refusal_as_nobody(socket_path: Path) -> str:
    """What the mcp command says when user nobody starts it against socket_path."""

    def attempt() -> str:
        config = validate({"api": {"socket": str(socket_path)}})
        try:
            mcp_cmd._mcp(argparse.Namespace(http=False), config)
        except ScreenrecallError as exc:
            return str(exc)
        return "served"

    return as_nobody(attempt)


def test_the_command_refuses_a_daemon_socket_of_another_user(root_socket: Path) -> None:
    message = refusal_as_nobody(root_socket)
    assert message == (
        f"the daemon's socket {root_socket} belongs to uid 0, not to this user (uid {NOBODY}); "
        "run `screenrecall mcp` as the user whose daemon it is"
    )


def test_a_socket_in_a_directory_it_cannot_enter_is_refused_too(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    assert "belongs to another user" in refusal_as_nobody(hidden / "api.sock")


def test_the_owner_itself_passes(root_socket: Path) -> None:
    check_owner(root_socket)  # root's own socket, checked as root: no error
