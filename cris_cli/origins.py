"""Saving an allowed browser origin to the config file, keeping the rest of
the file (comments, order) as the user wrote it."""

from __future__ import annotations

from pathlib import Path

from . import paths
from .admission import normalize_origin
from .errors import ConfigError


def save_allowed_origin(origin: str, file: Path | None = None) -> Path:
    """Add ``origin`` to ``endpoint.allow_origins`` in the config file (made if missing)."""
    import tomlkit

    file = paths.config_file() if file is None else file
    try:
        text = file.read_text(encoding="utf-8") if file.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigError(f"cannot update config file {file}: {exc}") from None
    endpoint = document.get("endpoint")
    if endpoint is None:
        endpoint = tomlkit.table()
        document["endpoint"] = endpoint
    origins = endpoint.get("allow_origins")
    if origins is None:
        origins = tomlkit.array()
        endpoint["allow_origins"] = origins
    if normalize_origin(origin) not in {normalize_origin(str(o)) for o in origins}:
        origins.append(origin)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(tomlkit.dumps(document), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write config file {file}: {exc.strerror or exc}") from None
    return file
