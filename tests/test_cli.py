"""The command line itself: version, help, usage errors, entry points."""

from __future__ import annotations

import subprocess
import sys

from cris_cli import __version__
from cris_cli.errors import ExitCode
from helpers import run_cli


def test_version() -> None:
    result = run_cli(["--version"])
    assert result.code == 0
    assert result.out.strip() == f"cris-cli {__version__}"


def test_help_lists_commands_and_exit_codes() -> None:
    result = run_cli(["--help"])
    assert result.code == 0
    for word in ("lint", "config", "completion", "exit status:"):
        assert word in result.out
    for code in ExitCode:
        assert f"{code.value:>3}  " in result.out


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli(["lnt"])
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("cris-cli: unknown command 'lnt'; did you mean 'lint'?")
    assert "hint: see 'cris-cli --help'" in result.err


def test_wrong_flag_says_what_was_expected() -> None:
    result = run_cli(["lint", "--from", "ris"])
    assert result.code == ExitCode.USAGE
    assert "argument --from: invalid choice: 'ris' (choose from " in result.err
    assert "cris" in result.err and "pacs" in result.err
    assert "cris-cli lint --help" in result.err


def test_entry_points_run() -> None:
    module = subprocess.run(
        [sys.executable, "-m", "cris_cli", "--version"], capture_output=True, text=True, check=False
    )
    assert module.returncode == 0
    assert module.stdout.strip() == f"cris-cli {__version__}"
    script = subprocess.run(
        [sys.executable, "-c", "import sys; from cris_cli.cli import main; sys.exit(main())", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert script.returncode == ExitCode.USAGE
