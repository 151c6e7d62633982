"""`screenrecall index rebuild`: builds the full-text index again from the store (e.g. after an upgrade)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from screenrecall.errors import ScreenrecallError

if TYPE_CHECKING:
    from screenrecall.config import Config


def register(commands: Any) -> None:
    parser = commands.add_parser("index", help="maintain the full-text index of what OCR read")
    sub = parser.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    rebuild = sub.add_parser("rebuild", help="build the text index again from every stored record")
    rebuild.set_defaults(handler=_rebuild)


def _rebuild(args: argparse.Namespace, config: Config) -> int:
    from tqdm import tqdm

    from screenrecall.store.chroma import Store
    from screenrecall.store.lock import ProcessLock
    from screenrecall.store.text_sync import rebuild

    if ProcessLock.is_held(config.lock_path()):
        raise ScreenrecallError(
            "the daemon is running and owns the store; stop it first: systemctl --user stop screenrecall"
        )
    if not config.store.url and not config.store_dir().exists():
        raise ScreenrecallError(f"no store at {config.store_dir()} yet: nothing to index")
    # A missing or outdated index is built while the store opens: the bar shows that build too.
    with (
        ProcessLock(config.lock_path()),
        tqdm(desc="text index", unit="record") as bar,
        Store.open(config.store_dir(), config.store.url, text_progress=bar.update) as store,
    ):
        bar.total = store.count()
        bar.refresh()
        if bar.n == 0:
            rebuild(store, bar.update)
        count = store.text_index.count()
    print(f"text index: {count} record(s)")
    return 0
