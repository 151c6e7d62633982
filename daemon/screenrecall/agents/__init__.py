"""Agents: `screenrecall mcp`, a Model Context Protocol server over the running daemon's API.

Only the `mcp` command imports this package (the MCP SDK is an optional extra, `screenrecall[mcp]`).
"""
