"""`screenrecall search | forget | stream`: recall, through the daemon's API when it runs."""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screenrecall.errors import ScreenrecallError
from screenrecall.recall.when import ago, parse_when

if TYPE_CHECKING:  # these commands reach a running daemon with the standard library alone
    from screenrecall.api.client import ApiClient
    from screenrecall.config import Config


def register(commands: Any) -> None:
    search = commands.add_parser("search", help="find moments by a text (or an image)")
    search.add_argument("query", nargs="?", help='what you saw, e.g. "the invoice from acme"')
    search.add_argument("--image", type=Path, help="find moments that look like this image instead")
    search.add_argument("--since", help="from: 2h, 3d, today, yesterday or ISO 8601")
    search.add_argument("--until", help="to: same forms as --since")
    search.add_argument("--app", help="regex on the window's application class (case-insensitive)")
    search.add_argument("--monitor", type=int, help="monitor number (1-based)")
    search.add_argument("--source", choices=["screen", "folder"])
    search.add_argument("--host", help="machine name (shared stores)")
    search.add_argument("--limit", type=int, default=10, help="most results (1-200, default 10)")
    search.add_argument(
        "--mode",
        choices=["hybrid", "visual", "text"],
        default="hybrid",
        help="hybrid (default): look and words fused; visual: CLIP only; text: OCR words only",
    )
    search.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    search.set_defaults(handler=_search, api_handler=_search_api)

    forget = commands.add_parser("forget", help="delete what was seen in a time range (records and thumbnails)")
    forget.add_argument("--since", required=True, help="from: 2h, today, ISO 8601 ...")
    forget.add_argument("--until", default="now", help="to (default now)")
    forget.add_argument(
        "--all-hosts",
        action="store_true",
        help="on a shared server (store.url): every machine's records, not only this host's",
    )
    forget.set_defaults(handler=_forget, api_handler=_forget_api)

    stream = commands.add_parser("stream", help="print the awareness stream as JSON lines (needs the daemon)")
    stream.add_argument("--embeddings", action="store_true", help="include each record's embedding")
    stream.set_defaults(handler=_stream, api_handler=_stream_api)


def client(config: Config) -> ApiClient | None:
    """The daemon's API when a daemon answers, else None."""
    from screenrecall.api.client import ApiClient

    api = ApiClient(config.socket_path())
    return api if config.socket_path().exists() and api.available() else None


def _search_api(args: argparse.Namespace, api: ApiClient) -> int:
    return _print_results(args, api.request("POST", "/v1/search", _search_body(args))["results"])


def _search(args: argparse.Namespace, config: Config) -> int:
    body = _search_body(args)
    api = client(config)
    results = api.request("POST", "/v1/search", body)["results"] if api else _search_offline(config, body)
    return _print_results(args, results)


def _print_results(args: argparse.Namespace, results: list[dict[str, Any]]) -> int:
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print(_table(results) if results else "no matching moments")
    return 0


def _search_body(args: argparse.Namespace) -> dict[str, Any]:
    if (args.query is None) == (args.image is None):
        raise ScreenrecallError("give a query text or --image PATH (one of them)")
    body: dict[str, Any] = {"limit": args.limit, "mode": args.mode}
    if args.query is not None:
        body["text"] = args.query
    else:
        try:
            body["image_b64"] = base64.b64encode(args.image.read_bytes()).decode()
        except OSError as exc:
            raise ScreenrecallError(f"cannot read {args.image}: {exc.strerror}") from None
    if args.since:
        body["since_ms"] = parse_when(args.since)
    if args.until:
        body["until_ms"] = parse_when(args.until)
    for key in ("app", "monitor", "source", "host"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    return body


def _search_offline(config: Config, body: dict[str, Any]) -> list[dict[str, Any]]:
    """No daemon: open the store ourselves, which only the lock's owner may do."""
    from screenrecall.encode.runtime import load_runtime
    from screenrecall.recall.query import query_from_body
    from screenrecall.recall.search import Searcher
    from screenrecall.store.chroma import Store
    from screenrecall.store.lock import ProcessLock

    query = query_from_body(body, config.watch.max_image_pixels)  # a bad query fails even with no store yet
    if not config.store.url and not config.store_dir().exists():
        return []
    runtime = load_runtime(config.model, config.model_dir(), check_hashes=False)
    with ProcessLock(config.lock_path()), Store.open(config.store_dir(), config.store.url) as store:
        return [moment.to_json() for moment in Searcher(store, runtime).search(query)]


def _table(results: list[dict[str, Any]]) -> str:
    now = time.time()
    lines = [f"{'when':<28} {'score':>6}  {'window / app':<40} where"]
    for item in results:
        when = time.strftime("%a %d %b %H:%M", time.localtime(item["captured_at_ms"] / 1000))
        window = " / ".join(part for part in (item["window_title"], item["app"]) if part) or "-"
        if item["source"] == "screen":
            window = f"[monitor {item['monitor']}] {window}"
        where = item["path"] or item["thumbnail"] or item["id"]
        stamp = f"{when} ({ago(item['captured_at_ms'], now)})"
        lines.append(f"{stamp:<28} {item['score']:>6.3f}  {window[:40]:<40} {where}")
        if item.get("snippet"):
            lines.append(f"{'':<36}“{item['snippet']}”")
    return "\n".join(lines)


def _forget_range(args: argparse.Namespace) -> tuple[int, int]:
    since, until = parse_when(args.since), parse_when(args.until)
    if since > until:
        raise ScreenrecallError("--since is after --until")
    return since, until


def _forget_body(args: argparse.Namespace) -> dict[str, Any]:
    since, until = _forget_range(args)
    body: dict[str, Any] = {"since_ms": since, "until_ms": until}
    if args.all_hosts:
        body["all_hosts"] = True
    return body


def _forget_api(args: argparse.Namespace, api: ApiClient) -> int:
    forgotten = api.request("POST", "/v1/forget", _forget_body(args))["forgotten"]
    print(f"forgot {forgotten} record(s)")
    return 0


def _forget(args: argparse.Namespace, config: Config) -> int:
    body = _forget_body(args)
    api = client(config)
    if api is not None:
        forgotten = api.request("POST", "/v1/forget", body)["forgotten"]
    else:
        forgotten = _forget_offline(config, body["since_ms"], body["until_ms"], args.all_hosts)
    print(f"forgot {forgotten} record(s)")
    return 0


def _forget_offline(config: Config, since: int, until: int, all_hosts: bool) -> int:
    from screenrecall import paths
    from screenrecall.pipeline.thumbnails import ThumbnailStore
    from screenrecall.store.chroma import Store
    from screenrecall.store.forget_ledger import ForgetLedger
    from screenrecall.store.lock import ProcessLock

    thumbnails = ThumbnailStore(paths.data_dir() / "thumbnails", config.thumbnails.quality)
    paths.ensure_private_dir(config.lock_path().parent)  # a shared server's user may never have run the daemon here
    with ProcessLock(config.lock_path()), Store.open(config.store_dir(), config.store.url) as store:
        store.ledger = ForgetLedger.default()
        if config.store.url:  # as the daemon: this host's records only, unless asked (pipeline/assembly.py)
            store.scope_host = config.store.host_name()
        removed = store.delete_range(since, until, all_hosts)
    for record in removed:
        thumbnails.remove(record.thumbnail)
    return len(removed)


def _stream(args: argparse.Namespace, config: Config) -> int:
    api = client(config)
    if api is None:
        raise ScreenrecallError(
            f"no daemon answers on {config.socket_path()}; start it (screenrecall run, or the service)"
        )
    return _stream_api(args, api)


def _stream_api(args: argparse.Namespace, api: ApiClient) -> int:
    for event in api.stream(embeddings=args.embeddings):
        print(json.dumps(event), flush=True)
    return 0
