"""`screenrecall mcp`: the MCP server for agents (stdio, or loopback HTTP with --http).

The MCP SDK is imported here, inside the command, so the rest of the CLI starts without it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from screenrecall.errors import ScreenrecallError

if TYPE_CHECKING:
    from screenrecall.config import Config


def register(commands: Any) -> None:
    mcp = commands.add_parser("mcp", help="serve the memory to agents over the Model Context Protocol (stdio)")
    mcp.add_argument(
        "--http",
        action="store_true",
        help="serve streamable HTTP on mcp.http_host:mcp.http_port (bearer token) instead of stdio",
    )
    mcp.set_defaults(handler=_mcp)


def _mcp(args: argparse.Namespace, config: Config) -> int:
    try:
        import anyio

        from screenrecall.agents.daemon import check_owner
        from screenrecall.agents.server import McpServer
    except ImportError as exc:
        raise ScreenrecallError(
            f"the MCP server needs the optional extra: pip install 'screenrecall[mcp]' ({exc})"
        ) from None
    if args.http and not config.mcp.http_port:
        raise ScreenrecallError("set mcp.http_port (a free loopback port) to serve MCP over HTTP")
    # Another user's daemon: refuse before serving anything.
    check_owner(config.socket_path())
    server = McpServer(config)
    if args.http:
        from screenrecall.agents.http import PATH, run_http

        where = f"http://{config.mcp.http_host}:{config.mcp.http_port}{PATH}"
        print(f"screenrecall: MCP on {where} (bearer token: the api-token file)", file=sys.stderr)
        anyio.run(run_http, server, config)
    else:
        anyio.run(server.run_stdio)
    return 0
