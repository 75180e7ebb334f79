"""Shipped completion scripts never drift from the parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from cris_cli.completions import SCRIPT_NAMES, SHELLS, script
from helpers import run_cli

SHIPPED = Path(__file__).resolve().parent.parent / "completions"


@pytest.mark.parametrize("shell", SHELLS)
def test_shipped_script_matches_the_parser(shell: str) -> None:
    shipped = (SHIPPED / SCRIPT_NAMES[shell]).read_text(encoding="utf-8")
    assert shipped == script(shell), (
        f"completions/{SCRIPT_NAMES[shell]} is stale: regenerate it with "
        f"'cris-cli completion {shell} > completions/{SCRIPT_NAMES[shell]}'"
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_command_prints_the_script(shell: str) -> None:
    result = run_cli(["completion", shell])
    assert result.code == 0
    assert result.out == script(shell)
    for command in ("lint", "config", "completion"):
        assert command in result.out


def test_file_arguments_complete_file_names() -> None:
    assert "_shtab_compgen_files" in script("bash")
    assert "_files" in script("zsh")
