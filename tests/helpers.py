"""Helpers shared by the tests."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cris_cli.cli import main
from cris_cli.environment import Environment

# Every line of a record file has these keys (README, "Records and replay").
RECORD_KEYS = {
    "seq",
    "time",
    "kind",
    "direction",
    "peer",
    "client",
    "origin",
    "raw",
    "command",
    "fields",
    "valid",
    "deviations",
    "notes",
    "delivered",
    "text",
}


def keyboard_env(out: io.StringIO | None = None, **environ: str) -> Environment:
    """An environment for a shell run in-process: a person at the keyboard (keys come
    from a prompt_toolkit pipe), output to a string, no variables but ``environ``."""
    return Environment(
        stdin=io.StringIO(),
        stdout=io.StringIO() if out is None else out,
        stderr=io.StringIO(),
        environ=environ,
        stdin_isatty=True,
        stdout_isatty=False,
    )


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    argv: Sequence[str],
    stdin: str = "",
    *,
    stdin_tty: bool = False,
    stdout_tty: bool = False,
    environ: dict[str, str] | None = None,
) -> Result:
    """Run cris-cli in this process with string streams."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        environ=os.environ if environ is None else environ,
        stdin_isatty=stdin_tty,
        stdout_isatty=stdout_tty,
    )
    code = main(list(argv), env)
    return Result(code, out.getvalue(), err.getvalue())
