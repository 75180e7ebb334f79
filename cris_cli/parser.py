"""The command-line parser: every subcommand, flag and help text.

Kept apart from the commands themselves so that building it imports nothing
heavy (the one-shot path must stay fast) and so that the shell completion
scripts can be generated from it.
"""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias

from . import __version__
from .errors import EXIT_CODE_HELP, UsageError

PROG = "cris-cli"

DESCRIPTION = """\
See, drive, script and test CRIS Connect, the WebSocket link between CRIS
Reporting and a PACS image viewer. cris-cli plays the PACS: it listens where
CRIS Reporting connects, shows every event it sends, and sends it commands."""

EPILOG = f"""\
exit status:
{EXIT_CODE_HELP}

configuration: settings come from the config file (see 'cris-cli config path'),
then CRIS_CLI_* environment variables, then flags; 'cris-cli config show' tells
which applied."""


class CliParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting, so that
    errors become messages in one place (and tests can run the CLI in-process)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see '{self.prog} --help'")


# Subscripting is for type checkers only: the runtime class is not generic.
Commands: TypeAlias = "argparse._SubParsersAction[CliParser]"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def _subparser(
    commands: Commands,
    name: str,
    summary: str,
    description: str,
    epilog: str | None = None,
) -> CliParser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=_Formatter,
    )


def _takes_files(action: argparse.Action) -> argparse.Action:
    """Mark an argument as a file name, for the shell completion scripts."""
    vars(action)["path_kind"] = "file"
    return action


def build_parser() -> argparse.ArgumentParser:
    """The whole ``cris-cli`` parser."""
    parser = CliParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add_lint(commands)
    _add_config(commands)
    _add_completion(commands)
    return parser


def _add_lint(commands: Commands) -> None:
    lint = _subparser(
        commands,
        "lint",
        "check messages a CRIS or PACS implementation sends",
        "Check CRIS Connect messages against the protocol: missing and mistyped fields,\n"
        "unknown commands and fields, NHS and CHI numbers failing their checks.\n"
        "Input is one JSON object per line, a JSON array of objects, or a cris-cli\n"
        "record file (which says who sent each message).",
        "examples:\n"
        '  echo \'{"command":"DISPLAY"}\' | cris-cli lint --from pacs\n'
        "  cris-cli lint --from cris --json captured-events.jsonl\n\n"
        "exit status: 0 every message valid, 3 at least one invalid, 2 bad usage.",
    )
    _takes_files(
        lint.add_argument(
            "files", nargs="*", metavar="FILE", help="files to read; '-' or none reads stdin"
        )
    )
    lint.add_argument(
        "--from",
        dest="sender",
        choices=("cris", "pacs"),
        help="who sent the messages: cris (events) or pacs (commands); records say it themselves",
    )
    lint.add_argument("--json", action="store_true", help="print NDJSON, one object per message")
    lint.add_argument("--strict", action="store_true", help="count warnings as failures too")


def _add_config(commands: Commands) -> None:
    config = _subparser(
        commands,
        "config",
        "show the configuration file and effective settings",
        "Settings come from the config file, then CRIS_CLI_* environment variables,\n"
        "then flags, each overriding the one before.",
    )
    actions = config.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    actions.add_parser("path", help="print the configuration file's path")
    actions.add_parser("show", help="print every effective setting and where it came from")


def _add_completion(commands: Commands) -> None:
    completion = _subparser(
        commands,
        "completion",
        "print a shell completion script",
        "Print the completion script for a shell. Install it with, for example:\n"
        "  cris-cli completion bash > ~/.local/share/bash-completion/completions/cris-cli\n"
        "  cris-cli completion zsh > ~/.zfunc/_cris-cli\n"
        "  cris-cli completion fish > ~/.config/fish/completions/cris-cli.fish",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")
