"""Where records live: Chroma (the single owner), the record layout, tiles, the process lock."""

from screenrecall.store.no_httpx_cli import keep_httpx_cli_out
from screenrecall.store.no_trace_export import keep_trace_exporter_out

# Before any chromadb import (every module that imports chromadb is in this package).
keep_trace_exporter_out()
keep_httpx_cli_out()
