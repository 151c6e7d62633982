"""Which OpenVINO device runs the encoders: the policy, and compiling a model on it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openvino as ov

from screenrecall import paths
from screenrecall.errors import ScreenrecallError

logger = logging.getLogger(__name__)

DeviceDiscovery = Callable[[ov.Core], Sequence[str]]


class DeviceError(ScreenrecallError):
    """The configured device cannot be used."""


def discover_devices(core: ov.Core) -> Sequence[str]:
    """The real device discovery; tests replace this function, never the compile path."""
    return list(core.available_devices)


def resolve_device(requested: str, available: Sequence[str], *, fallback: bool) -> str:
    """Maps config `model.device` to an OpenVINO device string.

    `auto` prefers the NPU through AUTO (CPU serves while the NPU compiles and if it fails); a GPU is
    used only when named, since it competes with the desktop it is recording.
    """
    if requested.lower() == "auto":
        return "AUTO:NPU,CPU" if _present("NPU", available) else "CPU"
    wanted = _devices_named(requested)
    missing = [name for name in wanted if not _present(name, available)]
    if not missing:
        return requested
    listed = ", ".join(available) or "none"
    if fallback:
        logger.warning("device %s not found (available: %s); falling back to CPU", requested, listed)
        return "CPU"
    raise DeviceError(
        f"model.device = {requested!r}, but {', '.join(missing)} is not available here (available: {listed}). "
        'Set model.device = "auto", or model.fallback = true to fall back to the CPU.'
    )


def _devices_named(requested: str) -> list[str]:
    # "AUTO:NPU,CPU" and "HETERO:GPU,CPU" name several devices after the colon.
    head, _, tail = requested.partition(":")
    names = tail.split(",") if tail else [head]
    return [name.strip() for name in names if name.strip()]


def _present(name: str, available: Sequence[str]) -> bool:
    base = name.split(".", maxsplit=1)[0].upper()
    if base in {"AUTO", "HETERO", "MULTI", "BATCH"}:
        return True
    return any(device == name or device.split(".")[0].upper() == base for device in available)


def make_core(cache: bool) -> ov.Core:
    core = ov.Core()
    if cache:
        cache_dir = paths.ensure_private_dir(paths.ov_cache_dir(ov.get_version().split("-")[0]))
        # NPU compiles take tens of seconds; the cache makes every later start fast.
        core.set_property({"CACHE_DIR": str(cache_dir)})
    return core


def compile_model(
    core: ov.Core, model_path: Path, device: str, hint: str, extra: dict[str, Any] | None = None
) -> ov.CompiledModel:
    """Compiles from the path (so CACHE_DIR applies) and logs the device that really executes."""
    config: dict[str, Any] = {"PERFORMANCE_HINT": hint, **(extra or {})}
    compiled = core.compile_model(str(model_path), device, config)
    logger.info("%s compiled for %s, executing on %s", model_path.name, device, execution_devices(compiled))
    return compiled


def execution_devices(compiled: ov.CompiledModel) -> str:
    try:
        return ",".join(str(d) for d in compiled.get_property("EXECUTION_DEVICES"))
    except RuntimeError:
        return "unknown"
