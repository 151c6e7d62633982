"""The config as TOML: `config show`, and config/default.toml (every key with its description)."""

from __future__ import annotations

from typing import Any

from screenrecall.config import Config


def to_toml(config: Config) -> str:
    """The effective config as TOML (what `config show` prints)."""
    chunks = []
    for section, values in config.model_dump().items():
        body = "\n".join(f"{key} = {_toml_value(value)}" for key, value in values.items())
        chunks.append(f"[{section}]\n{body}\n")
    return "\n".join(chunks)


HEADER = """\
# screenrecall configuration: every key, with its default.
# Put what you change in $XDG_CONFIG_HOME/screenrecall/config.toml (usually ~/.config/screenrecall/),
# pass --config PATH, or set SCREENRECALL_<SECTION>__<KEY> (e.g. SCREENRECALL_MODEL__DEVICE=CPU).
# Unknown keys and out-of-range values stop the daemon at start-up, naming the key.
# Check a file with: screenrecall --config FILE config check
"""


def documented_defaults() -> str:
    """config/default.toml: every key, its description and bounds, and its default value."""
    defaults = Config()
    chunks = [HEADER]
    for section in Config.model_fields:
        values = getattr(defaults, section)
        lines = [f"[{section}]"]
        for key, info in type(values).model_fields.items():
            lines.append(f"# {info.description}{_bounds(info.metadata)}")
            lines.append(f"{key} = {_toml_value(getattr(values, key))}")
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def _bounds(metadata: list[Any]) -> str:
    symbols = (("ge", ">="), ("le", "<="), ("gt", ">"), ("lt", "<"), ("min_length", "min length"))
    found = [f"{sym} {getattr(m, attr)}" for m in metadata for attr, sym in symbols if hasattr(m, attr)]
    return f" ({', '.join(found)})" if found else ""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")
