"""Shared fixtures: every test runs with its own config, data, state and
runtime directories, and no CRIS_CLI_* variable from the outside."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        directory = home / name.lower()
        directory.mkdir(parents=True)
        monkeypatch.setenv(name, str(directory))
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith("CRIS_CLI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")
    yield home
