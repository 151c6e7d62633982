"""Device policy: NPU through AUTO when present, CPU otherwise, a missing named device is an error."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import openvino as ov
import pytest

from screenrecall.config import ModelConfig
from screenrecall.encode.device import DeviceError, resolve_device
from screenrecall.encode.runtime import load_runtime


def test_auto_picks_npu_through_auto_when_an_npu_is_listed() -> None:
    assert resolve_device("auto", ["CPU", "NPU"], fallback=False) == "AUTO:NPU,CPU"


def test_auto_is_cpu_without_an_npu_even_with_a_gpu() -> None:
    assert resolve_device("auto", ["CPU", "GPU.0"], fallback=False) == "CPU"


def test_a_named_device_that_is_present_is_used() -> None:
    assert resolve_device("GPU", ["CPU", "GPU.0", "GPU.1"], fallback=False) == "GPU"
    assert resolve_device("GPU.1", ["CPU", "GPU.0", "GPU.1"], fallback=False) == "GPU.1"


def test_a_missing_named_device_is_a_clear_error() -> None:
    with pytest.raises(DeviceError, match=r"model.device = 'NPU'.*not available here \(available: CPU\)"):
        resolve_device("NPU", ["CPU"], fallback=False)


def test_a_missing_device_inside_a_device_list_is_an_error() -> None:
    with pytest.raises(DeviceError, match="NPU"):
        resolve_device("HETERO:NPU,CPU", ["CPU"], fallback=False)


def test_fallback_uses_cpu_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert resolve_device("NPU", ["CPU"], fallback=True) == "CPU"
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def _fake_npu(core: ov.Core) -> Sequence[str]:
    # The device boundary: discovery reports an NPU this machine does not have.
    return [*core.available_devices, "NPU"]


def test_runtime_with_a_discovered_npu_compiles_through_auto_and_logs_where_it_runs(
    tiny_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        runtime = load_runtime(ModelConfig(cache=False), tiny_bundle, discover=_fake_npu)
    assert runtime.device == "AUTO:NPU,CPU"
    # AUTO falls back to the CPU at start-up here (no NPU driver); what runs is logged.
    assert "CPU" in runtime.executing_on
    assert any("executing on" in r.getMessage() for r in caplog.records)


def test_runtime_refuses_a_missing_named_device(tiny_bundle: Path) -> None:
    with pytest.raises(DeviceError, match="NPU"):
        load_runtime(ModelConfig(device="NPU", cache=False), tiny_bundle)


def test_compiled_model_cache_is_written_under_xdg_cache(tiny_bundle: Path, xdg_home: Path) -> None:
    load_runtime(ModelConfig(cache=True), tiny_bundle)
    cache = xdg_home / "cache" / "screenrecall" / "ov-cache"
    assert any(cache.rglob("*.blob")), list(cache.rglob("*"))
    assert (cache.parent.stat().st_mode & 0o777) == 0o700
