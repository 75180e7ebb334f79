"""``cris-cli config path|show``."""

from __future__ import annotations

import argparse

from . import config, paths
from .environment import Environment


def run(args: argparse.Namespace, env: Environment) -> int:
    if args.config_action == "path":
        env.stdout.write(f"{paths.config_file()}\n")
        return 0
    settings = config.load(environ=env.environ)
    state = "present" if settings.file.exists() else "not present; defaults apply"
    env.stdout.write(f"config file: {settings.file} ({state})\n\n")
    rows: list[tuple[str, str, str]] = [("setting", "value", "source")]
    rows += [(s.key, _shown(value), str(source)) for s, value, source in settings.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for key, value, source in rows:
        env.stdout.write(f"{key:<{widths[0]}}  {value:<{widths[1]}}  {source}\n")
    return 0


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ", ".join(value) if value else "[]"
    return str(value)
