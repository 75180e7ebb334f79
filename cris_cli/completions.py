"""Shell completion scripts, generated from the argparse parser with shtab.

``completions/`` in the repository holds the same scripts; a test fails when
they drift from what the parser generates.
"""

from __future__ import annotations

import argparse

import shtab

from .environment import Environment
from .parser import PROG, build_parser

SHELLS = ("bash", "zsh", "fish")
SCRIPT_NAMES = {"bash": "cris-cli.bash", "zsh": "_cris-cli", "fish": "cris-cli.fish"}


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    """Let shells complete file names where the parser takes a file."""
    for action in parser._actions:
        if getattr(action, "path_kind", None) == "file":
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub)


def script(shell: str) -> str:
    """The completion script for ``shell``."""
    parser = build_parser()
    _mark_paths(parser)
    text = shtab.complete(parser, shell=shell, root_prefix=PROG.replace("-", "_"))
    return text if text.endswith("\n") else text + "\n"


def run(args: argparse.Namespace, env: Environment) -> int:
    env.stdout.write(script(args.shell))
    return 0
