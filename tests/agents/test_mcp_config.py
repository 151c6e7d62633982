"""The [mcp] config section: safe defaults, and HTTP on loopback only."""

from __future__ import annotations

import pytest

from screenrecall.config import Config, ConfigError, validate


def test_defaults_keep_forget_off_and_http_off() -> None:
    mcp = Config().mcp
    assert (mcp.allow_forget, mcp.http_port, mcp.http_host, mcp.awareness_novelty) == (False, 0, "127.0.0.1", 0.1)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"http_host": "0.0.0.0"}, "mcp.http_host"),
        ({"awareness_novelty": 1.5}, "mcp.awareness_novelty"),
        ({"allow_delete": True}, "mcp.allow_delete"),
    ],
)
def test_bad_values_and_unknown_keys_are_refused_by_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate({"mcp": section})
