"""Where cris-cli keeps its files, per platform (platformdirs).

* config: ``config.toml`` (``CRIS_CLI_CONFIG`` names another file)
* data: the endpoint's certificate and key
* state: shell history
* runtime: one file per running endpoint, for other cris-cli processes

On Linux the XDG variables move them, which is how tests isolate themselves.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import platformdirs

APP = "cris-cli"
CONFIG_ENV = "CRIS_CLI_CONFIG"


def config_file() -> Path:
    """The configuration file to read (it need not exist)."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml"


def data_dir() -> Path:
    """Where the generated certificate and key live."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def state_dir() -> Path:
    """Where shell history lives."""
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def runtime_dir() -> Path:
    """Where running endpoints announce themselves.

    The platform's runtime directory when it exists or can be made (it is
    private to the user on Linux), else a folder in the state directory.
    """
    with warnings.catch_warnings():
        # platformdirs warns, then guesses a shared /tmp path, when the platform
        # has no runtime directory: the state directory is the better fallback.
        warnings.simplefilter("error")
        try:
            candidate = Path(platformdirs.user_runtime_dir(APP, appauthor=False))
            make_private_dir(candidate)
            return candidate
        except (OSError, Warning):
            pass
    return make_private_dir(state_dir() / "run")


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable only by the user where the platform allows."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file only the user may read (0600), atomically.

    The file is created with its final mode, never widened and narrowed later,
    then renamed over any old one.
    """
    make_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
