"""``cris-cli`` entry point: parse, dispatch, and the one place where errors
become messages and exit codes.

Commands are imported only when chosen, so a one-shot command never pays for
the interactive shell's libraries.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from .environment import Environment
from .errors import CrisCliError, ExitCode
from .parser import PROG, build_parser

# subcommand -> "module:function"; each function takes (args, env) and returns an exit code.
COMMANDS: dict[str, str] = {
    "demo": "cris_cli.demo:run",
    "serve": "cris_cli.serve:run",
    "send": "cris_cli.send:run",
    "watch": "cris_cli.watch:run",
    "run": "cris_cli.script:run_file",
    "simulate": "cris_cli.simulate:run",
    "replay": "cris_cli.replay:run",
    "lint": "cris_cli.lint:run",
    "cert": "cris_cli.certs:run",
    "doctor": "cris_cli.doctor:run",
    "config": "cris_cli.configure:run",
    "completion": "cris_cli.completions:run",
}

Command = Callable[[argparse.Namespace, Environment], int]


def _resolve(target: str) -> Command:
    module_name, _, function = target.partition(":")
    command: Command = getattr(importlib.import_module(module_name), function)
    return command


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run ``cris-cli`` with ``argv``; returns the exit status."""
    env = env or Environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        # Building one subcommand's parser is quicker than all; help needs them all.
        chosen = next((word for word in argv if not word.startswith("-")), None)
        only = chosen if chosen in COMMANDS else None
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args = build_parser(only).parse_args(argv)
        if args.command is None:
            # The PACS console on a terminal; otherwise stdin is a script.
            target = "cris_cli.repl:run" if env.interactive else "cris_cli.script:run_pacs_script"
            return int(_resolve(target)(args, env))
        return int(_resolve(COMMANDS[args.command])(args, env))
    except CrisCliError as error:
        env.say(f"{PROG}: {error}")
        if error.hint:
            env.say(f"  hint: {error.hint}")
        return int(error.exit_code)
    except SystemExit as done:  # --help and --version
        return int(done.code or 0) if not isinstance(done.code, str) else int(ExitCode.USAGE)
    except KeyboardInterrupt:
        env.say(f"{PROG}: interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (cris-cli ... | head): not an error worth a message.
        _silence_stdout()
        return int(ExitCode.OK)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
