"""Opening and closing a Chroma client: embedded in the store dir, or a shared `chroma run` server."""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import urlparse

import chromadb
import httpx
from chromadb.api.client import Client
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings

from screenrecall.errors import ScreenrecallError

SPACE: Final = "cosine"  # every collection's distance; fixed when it is created


class StoreError(ScreenrecallError):
    """The store cannot be opened or reached."""


def open_client(path: Path, url: str) -> Client:
    """The one place a Chroma client is made: embedded in path, or a server when url is set."""
    # Telemetry off explicitly: in 1.5.9 the Posthog client is a no-op, but an upgrade must not change that.
    settings = Settings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise StoreError(f"store.url = {url!r}: expected http://HOST:PORT or https://HOST:PORT")
        secure = parsed.scheme == "https"
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname, port=parsed.port or (443 if secure else 8000), ssl=secure, settings=settings
            )
        except ValueError as exc:  # what chromadb raises when nothing answers
            raise StoreError(f"cannot reach the Chroma server at {url}: {exc}") from None
    else:
        client = chromadb.PersistentClient(path=str(path), settings=settings)
    if not isinstance(client, Client):
        raise TypeError(f"unexpected Chroma client {type(client).__name__}")
    return client


def close_client(client: Client) -> None:
    """Client.close() leaves an HttpClient's connection pools open (chromadb 1.5.9): close them too."""
    owners = (client, getattr(client, "_admin_client", None))
    sessions = [getattr(getattr(owner, "_server", None), "_session", None) for owner in owners]
    client.close()
    for session in sessions:
        if isinstance(session, httpx.Client):
            session.close()


def check_space(collection: Collection, path: Path, name: str) -> None:
    # configuration_json, not configuration: with embedding_function=None Chroma 1.5.9 stores a "legacy"
    # function entry and the parsed property emits a DeprecationWarning on every read.
    space = (collection.configuration_json.get("hnsw") or {}).get("space", SPACE)
    if space != SPACE:
        # The space is fixed at creation; similarities from another space would be silently wrong.
        raise RuntimeError(f"{path}: collection {name!r} uses {space!r} distance, expected {SPACE!r}")
