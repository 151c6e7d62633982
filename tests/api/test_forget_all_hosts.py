"""Forget on a shared server (a real `chroma run`): this host's records by default; every machine's
only when asked for by name (`all_hosts`, `screenrecall forget --all-hosts`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from screenrecall.api.client import ApiError
from screenrecall.cli import main
from screenrecall.pipeline.messages import Record, Window
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_screen
from tests.support.chroma_server import ChromaServer
from tests.support.daemon import toml_of
from tests.support.recall import client_of, recall_config, running_app, screen_frame, show_frames

HOUR_MS = 3_600_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    started = ChromaServer(tmp_path / "chroma")
    yield started
    started.stop()


def laptop_record(at_ms: int, dim: int) -> Record:
    vector = np.random.default_rng(at_ms % 997).standard_normal(dim).astype(np.float32)
    return Record(
        record_id_for_screen(1, at_ms, "laptop"), vector / np.linalg.norm(vector), at_ms, at_ms, "screen", 1, "",
        Window("notes", "editor"), 10, 10, host="laptop",
    )  # fmt: skip


def hosts(store: Store) -> list[str]:
    return sorted(record.host for record in store.records())


def test_forget_keeps_other_hosts_records_unless_all_hosts_is_asked_for(
    server: ChromaServer, tiny_bundle: Path, tmp_path: Path
) -> None:
    config = recall_config(tiny_bundle, {"store": {"url": server.url, "host": "desk"}})
    now = int(time.time() * 1000)
    since, until = now - HOUR_MS, now + HOUR_MS
    with running_app(config) as app, Store.open(tmp_path / "laptop", server.url) as laptop:
        assert app.pipeline is not None
        dim = app.pipeline.runtime.embedding_dim
        laptop.add([laptop_record(now - 1000 * i, dim) for i in range(1, 4)])
        show_frames(app, [screen_frame("red", now - 2000), screen_frame("green", now - 1000)])
        client = client_of(app)

        assert client.request("POST", "/v1/forget", {"since_ms": since, "until_ms": until})["forgotten"] == 2
        assert hosts(laptop) == ["laptop"] * 3

        with pytest.raises(ApiError, match="all_hosts must be true or false"):
            client.request("POST", "/v1/forget", {"since_ms": since, "until_ms": until, "all_hosts": "yes"})
        assert laptop.count() == 3

        # The command line says it by name; through the daemon's socket (the fast path).
        cli_config = tmp_path / "cli.toml"
        cli_config.write_text(toml_of({"api": {"socket": str(app.config.socket_path())}}))
        assert main(["--config", str(cli_config), "forget", "--since", "2h", "--until", "now", "--all-hosts"]) == 0
        assert laptop.count() == 0


def test_forget_without_a_daemon_is_scoped_to_this_host_too(server: ChromaServer, tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    with Store.open(tmp_path / "laptop", server.url) as laptop:
        laptop.add([laptop_record(now - 1000 * i, 8) for i in range(1, 4)])
        desk = dataclasses.replace(
            laptop_record(now - 500, 8), id=record_id_for_screen(1, now - 500, "desk"), host="desk"
        )
        laptop.add([desk])
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(toml_of({"store": {"url": server.url, "host": "desk"}}))
    forget = ["--config", str(cli_config), "forget", "--since", "1h"]

    assert main(forget) == 0
    with Store.open(tmp_path / "laptop", server.url) as laptop:
        assert hosts(laptop) == ["laptop"] * 3
    assert main([*forget, "--all-hosts"]) == 0
    with Store.open(tmp_path / "laptop", server.url) as laptop:
        assert laptop.count() == 0
