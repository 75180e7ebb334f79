"""Settings precedence and the errors a bad config file gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from cris_cli import config, paths
from cris_cli.errors import ConfigError, ExitCode
from helpers import run_cli


def write_config(text: str) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    settings = config.load(environ={})
    assert settings.port == 56998
    assert settings.host == "127.0.0.1"
    assert settings.tls is True
    assert settings.sources["port"].kind == "default"


def test_file_then_environment_then_flags() -> None:
    path = write_config("[endpoint]\nport = 56996\nhost = 'localhost'\ntls = false\n")
    environ = {
        "CRIS_CLI_PORT": "9998",
        "CRIS_CLI_ALLOW_ORIGINS": "https://a.example, https://b.example",
    }
    settings = config.load(environ=environ)
    assert settings.port == 9998
    assert str(settings.sources["port"]) == "env (CRIS_CLI_PORT)"
    assert settings.host == "localhost"
    assert str(settings.sources["host"]) == f"file ({path}:3)"
    assert settings.tls is False
    assert settings.allow_origins == ["https://a.example", "https://b.example"]
    flagged = config.load({"port": 1234, "host": None}, environ=environ)
    assert flagged.port == 1234
    assert str(flagged.sources["port"]) == "flag (--port)"
    assert flagged.host == "localhost"


def test_malformed_toml_names_file_and_line() -> None:
    path = write_config("[endpoint]\nport = 56996\nhost = \n")
    with pytest.raises(ConfigError) as caught:
        config.load(environ={})
    message = str(caught.value)
    assert str(path) in message
    assert "line 3" in message


def test_wrong_type_names_line_and_gives_an_example() -> None:
    path = write_config("# cris-cli\n[endpoint]\nhost = 'localhost'\nport = 'fifty'\n")
    with pytest.raises(ConfigError) as caught:
        config.load(environ={})
    assert str(caught.value) == f"{path}:4: endpoint.port must be a whole number, not 'fifty'"
    assert caught.value.hint == "for example: port = 56998"


def test_unknown_setting_suggests_the_close_one() -> None:
    path = write_config("[endpoint]\nallowed_origins = ['https://x']\n")
    with pytest.raises(ConfigError, match="did you mean allow_origins") as caught:
        config.load(environ={})
    assert str(caught.value).startswith(f"{path}:2: unknown setting endpoint.allowed_origins")


def test_unknown_section() -> None:
    write_config("[endpont]\nport = 1\n")
    with pytest.raises(
        ConfigError, match=r":1: unknown section \[endpont\] \(did you mean endpoint\?\)"
    ):
        config.load(environ={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(
        ConfigError, match="environment variable CRIS_CLI_TLS must be true or false"
    ):
        config.load(environ={"CRIS_CLI_TLS": "sometimes"})


def test_config_path_and_show_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli(["config", "path"])
    assert result.code == 0
    assert result.out.strip() == str(paths.config_file())
    write_config("[shell]\nvi = true\n")
    monkeypatch.setenv("CRIS_CLI_PORT", "56996")
    shown = run_cli(["config", "show"]).out
    assert "(present)" in shown
    lines = {line.split()[0]: line for line in shown.splitlines()[2:] if line.strip()}
    assert lines["endpoint.port"].split()[1:] == ["56996", "env", "(CRIS_CLI_PORT)"]
    assert lines["shell.vi"].split()[1:3] == ["true", "file"]
    assert lines["endpoint.host"].split()[1:] == ["127.0.0.1", "default"]


def test_config_error_exit_code_and_message() -> None:
    write_config("[endpoint\n")
    result = run_cli(["config", "show"])
    assert result.code == ExitCode.CONFIG
    assert result.err.startswith("cris-cli: config file ")
    assert "hint:" in result.err
