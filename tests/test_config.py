"""Config: layered TOML + environment, validated, with errors that name the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from screenrecall.config import Config, ConfigError, load, validate
from screenrecall.config_toml import documented_defaults, to_toml
from tests.conftest import REPO, run_cli


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_load_without_any_file() -> None:
    config = load(environ={})
    assert config == Config()
    assert config.capture.interval_s == 1.0


def test_default_toml_documents_every_key_with_its_default() -> None:
    text = (REPO / "config" / "default.toml").read_text()
    assert text == documented_defaults(), "regenerate config/default.toml from config.documented_defaults()"
    config_path = REPO / "config" / "default.toml"
    assert load(config_path, environ={}) == Config()


def test_layers_user_file_then_config_flag_then_environment(xdg_home: Path, tmp_path: Path) -> None:
    _write(xdg_home / "config" / "screenrecall" / "config.toml", '[model]\ndevice = "CPU"\njobs = 3\n')
    flag = _write(tmp_path / "flag.toml", "[model]\njobs = 4\n[capture]\ninterval_s = 5\n")
    env = {"XDG_CONFIG_HOME": str(xdg_home / "config"), "SCREENRECALL_CAPTURE__INTERVAL_S": "7.5"}
    config = load(flag, environ=env)
    assert config.model.device == "CPU"  # user file
    assert config.model.jobs == 4  # --config over user file
    assert config.capture.interval_s == 7.5  # environment over both


def test_environment_values_are_parsed_as_toml_or_kept_as_strings() -> None:
    env = {
        "SCREENRECALL_MODEL__PATH": "/opt/models/clip",
        "SCREENRECALL_CAPTURE__MONITORS": "[1, 2]",
        "SCREENRECALL_MODEL__FALLBACK": "true",
    }
    config = load(environ=env)
    assert config.model.path == "/opt/models/clip"
    assert config.capture.monitors == [1, 2]
    assert config.model.fallback is True


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[capture]\ninterval = 3\n")
    with pytest.raises(ConfigError, match=r"capture\.interval: unknown key"):
        load(path, environ={})


def test_unknown_section_is_named() -> None:
    with pytest.raises(ConfigError, match=r"captur: unknown key"):
        validate({"captur": {}})


def test_bad_value_names_key_and_value() -> None:
    with pytest.raises(ConfigError, match=r"capture\.interval_s = -1: .*greater than or equal to 0.1"):
        validate({"capture": {"interval_s": -1}})
    with pytest.raises(ConfigError, match=r"model\.jobs = 'many'"):
        validate({"model": {"jobs": "many"}})


def test_bad_environment_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"model\.jobs = 0"):
        load(environ={"SCREENRECALL_MODEL__JOBS": "0"})


def test_bad_regex_in_exclusions_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"privacy\.exclude_titles.*bad regex"):
        validate({"privacy": {"exclude_titles": ["(unclosed"]}})


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(_write(tmp_path / "bad.toml", "[model\n"), environ={})
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "absent.toml", environ={})


def test_show_output_round_trips() -> None:
    config = validate({"model": {"device": "NPU", "fallback": True}, "privacy": {"exclude_apps": ['^Keepass"X$']}})
    import tomllib

    assert validate(tomllib.loads(to_toml(config))) == config


def test_model_and_store_dirs_follow_xdg_data_home(xdg_home: Path) -> None:
    config = Config()
    assert config.model_dir() == xdg_home / "data" / "screenrecall" / "models" / "default"
    assert config.store_dir() == xdg_home / "data" / "screenrecall" / "store"


def test_config_check_exits_1_with_the_key_on_a_bad_file(tmp_path: Path) -> None:
    bad = _write(tmp_path / "c.toml", "[gate]\nsettle_s = -1.0\n")
    done = run_cli("--config", str(bad), "config", "check")
    assert done.returncode == 1
    assert "gate.settle_s = -1.0" in done.stderr


def test_config_check_and_show_on_a_good_file(tmp_path: Path) -> None:
    good = _write(tmp_path / "c.toml", '[model]\ndevice = "CPU"\n')
    assert run_cli("--config", str(good), "config", "check").returncode == 0
    shown = run_cli("--config", str(good), "config", "show")
    assert shown.returncode == 0
    assert 'device = "CPU"' in shown.stdout


def test_an_unknown_watch_extension_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        validate({"watch": {"extensions": ["png", "jpgg"]}})
    assert "watch.extensions" in str(caught.value) and "jpgg" in str(caught.value)
