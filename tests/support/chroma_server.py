"""A real `chroma run` server on a free loopback port, for the store's server-mode tests."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import chromadb
from chromadb.config import Settings

from screenrecall.store.chroma import close_client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ChromaServer:
    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (data.parent / "chroma-server.log").open("wb")
        self._proc = subprocess.Popen(
            ["chroma", "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chroma run exited {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("chroma run did not start listening in time")

    def clear(self) -> None:
        """Drops every collection, so each test starts from an empty server."""
        client = chromadb.HttpClient(host="127.0.0.1", port=self.port, settings=Settings(anonymized_telemetry=False))
        try:
            for collection in client.list_collections():
                client.delete_collection(collection.name)
        finally:
            close_client(client)

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._log.close()
