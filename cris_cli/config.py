"""Settings: defaults, then the TOML file, then ``CRIS_CLI_*`` variables, then flags.

Each setting is declared once in :data:`SETTINGS`, with its section in the
file, its variable and its type; ``config show`` prints where each effective
value came from. A file that cannot be used is a :class:`ConfigError` naming
the file, the line and the problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths
from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: ``section.name`` in the file, ``CRIS_CLI_<NAME>`` in the environment."""

    section: str
    name: str
    kind: Any  # str, int, float, bool or list
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"CRIS_CLI_{self.name.upper()}"

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting("endpoint", "host", str, "127.0.0.1", "address the PACS endpoint listens on"),
    Setting("endpoint", "port", int, 56998, "port the PACS endpoint listens on"),
    Setting("endpoint", "tls", bool, True, "serve wss:// (false: plain ws://)"),
    Setting("endpoint", "cert", str, None, "PEM certificate file (default: generated)"),
    Setting("endpoint", "key", str, None, "PEM key file for cert"),
    Setting("endpoint", "pfx", str, None, "PKCS#12 (.pfx) file with certificate and key"),
    Setting("endpoint", "allow_origins", list, [], "browser origins allowed to connect"),
    Setting("endpoint", "allow_any_origin", bool, False, "allow every browser origin"),
    Setting("endpoint", "allow_remote", bool, False, "allow listening on non-loopback hosts"),
    Setting(
        "endpoint", "max_clients", int, 1, "CRIS clients at once; a new one replaces the oldest"
    ),
    Setting("endpoint", "max_message_size", int, 65536, "largest message accepted, in bytes"),
    Setting("endpoint", "history", int, 100_000, "events held in memory for the shell"),
    Setting(
        "endpoint", "confirm_within", float, 5.0, "seconds an EVENT may take to confirm DISPLAY"
    ),
    Setting("shell", "vi", bool, False, "vi key bindings in the shell"),
    Setting("shell", "redact", bool, False, "mask patient identifiers on screen"),
    Setting("send", "wait", float, 30.0, "seconds send waits for a CRIS client"),
    Setting("send", "timeout", float, 10.0, "seconds to wait for an expected event"),
    Setting(
        "script", "step_timeout", float, 10.0, "seconds a script's wait or expect waits by default"
    ),
    Setting("simulate", "url", str, "wss://localhost:56998/", "PACS endpoint the simulator dials"),
    Setting("simulate", "domain", str, "RXH", "CRIS domain the simulated user works in"),
)

BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}

# Lists that flags add to rather than replace (an origin allowed in the file stays allowed).
ADDITIVE = frozenset({"allow_origins"})

# Secrets come from these variables (or prompts), never from flags or the file.
PASSWORD_ENV = "CRIS_CLI_PASSWORD"  # noqa: S105 - a variable's name, not a password
PFX_PASSWORD_ENV = "CRIS_CLI_PFX_PASSWORD"  # noqa: S105 - a variable's name, not a password

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class Source:
    """Where an effective value came from."""

    kind: str  # default, file, env or flag
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


class Settings:
    """Effective settings, readable as attributes (``settings.port``)."""

    def __init__(self, values: dict[str, Any], sources: dict[str, Source], file: Path) -> None:
        self._values = values
        self.sources = sources
        self.file = file

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def items(self) -> list[tuple[Setting, Any, Source]]:
        return [(s, self._values[s.name], self.sources[s.name]) for s in SETTINGS]

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed by the program itself."""
        values = self._values | changes
        sources = self.sources | {k: Source("program") for k in changes}
        return Settings(values, sources, self.file)


def load(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    file: Path | None = None,
) -> Settings:
    """Resolve every setting. ``flags`` holds only flags the user gave (not None)."""
    environ = os.environ if environ is None else environ
    file = paths.config_file() if file is None else file
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources: dict[str, Source] = {s.name: Source("default") for s in SETTINGS}
    for name, (value, line) in read_file(file).items():
        values[name] = value
        sources[name] = Source("file", f"{file}:{line}")
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is not None and raw != "":
            values[setting.name] = _from_text(setting, raw, f"environment variable {setting.env}")
            sources[setting.name] = Source("env", setting.env)
    for name, value in (flags or {}).items():
        if value is None or name not in values:
            continue
        if name in ADDITIVE:
            value = list(dict.fromkeys([*values[name], *value]))
        values[name] = value
        sources[name] = Source("flag", FLAG_NAMES.get(name, "--" + name.replace("_", "-")))
    return Settings(values, sources, file)


FLAG_NAMES = {"tls": "--tls/--no-tls", "allow_origins": "--allow-origin"}


def from_args(args: Any, environ: Mapping[str, str]) -> Settings:
    """Settings with the flags of a parsed command line applied (those given)."""
    flags = {name: getattr(args, name) for name in BY_NAME if getattr(args, name, None) is not None}
    return load(flags, environ)


def read_file(file: Path) -> dict[str, tuple[Any, int]]:
    """The settings a TOML file sets, with the line of each. A missing file sets none."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from None
    import tomllib

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {file} is not valid TOML: {exc}",
            hint="fix the line named, or move the file away to use the defaults",
        ) from None
    found: dict[str, tuple[Any, int]] = {}
    sections = sorted({s.section for s in SETTINGS})
    for section, table in document.items():
        line = _line_of(text, None, section)
        if section not in sections:
            raise ConfigError(
                f"{file}:{line}: unknown section [{section}]{_suggest(section, sections)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{file}:{line}: {section} must be a table ([{section}])")
        known = [s.name for s in SETTINGS if s.section == section]
        for name, value in table.items():
            line = _line_of(text, section, name)
            if name not in known:
                raise ConfigError(
                    f"{file}:{line}: unknown setting {section}.{name}{_suggest(name, known)}"
                )
            found[name] = (_checked(BY_NAME[name], value, f"{file}:{line}"), line)
    return found


def _suggest(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(choices)})"


def _line_of(text: str, section: str | None, name: str) -> int:
    """The line that sets ``name`` in ``section`` (or the section header), 1-based."""
    current: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\s*([^\]\s]+)\s*\]\s*(#.*)?", stripped)
        if header:
            current = header.group(1).strip("\"'")
            if section is None and current == name:
                return number
            continue
        if section is not None and current == section:
            key = re.match(r"[\"']?([A-Za-z0-9_-]+)[\"']?\s*=", stripped)
            if key and key.group(1) == name:
                return number
    return 1


def _checked(setting: Setting, value: Any, where: str) -> Any:
    kind = setting.kind
    ok = (
        isinstance(value, bool)
        if kind is bool
        else isinstance(value, int | float) and not isinstance(value, bool)
        if kind is float
        else isinstance(value, int) and not isinstance(value, bool)
        if kind is int
        else isinstance(value, list) and all(isinstance(v, str) for v in value)
        if kind is list
        else isinstance(value, str)
    )
    if not ok:
        raise ConfigError(
            f"{where}: {setting.key} must be {_kind_name(kind)}, not {value!r}",
            hint=f"for example: {setting.name} = {_example(setting)}",
        )
    return float(value) if kind is float else value


def _from_text(setting: Setting, raw: str, where: str) -> Any:
    kind = setting.kind
    if kind is bool:
        word = raw.strip().lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
    elif kind is int or kind is float:
        try:
            return kind(raw.strip())
        except ValueError:
            pass
    elif kind is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    else:
        return raw
    raise ConfigError(f"{where} must be {_kind_name(kind)}, not {raw!r}")


def _kind_name(kind: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", list: "a list"}
    return names.get(kind, "a string")


def _example(setting: Setting) -> str:
    if setting.kind is list:
        return '["https://cris.example.nhs.uk"]'
    if setting.default is None:
        return '"..."'
    return str(setting.default).lower() if setting.kind is bool else repr(setting.default)
