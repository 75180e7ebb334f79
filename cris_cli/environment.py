"""The streams and variables a command runs with, injectable so that the CLI
can be tested in-process."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Environment:
    """Standard streams, whether they are terminals, and the process environment."""

    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdin_isatty: bool | None = None
    stdout_isatty: bool | None = None

    def __post_init__(self) -> None:
        if self.stdin_isatty is None:
            self.stdin_isatty = self.stdin is not None and _isatty(self.stdin)
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)

    @property
    def interactive(self) -> bool:
        """True when a person is at a terminal on both ends."""
        return bool(self.stdin_isatty and self.stdout_isatty)

    @property
    def color(self) -> bool:
        """Colour output: on a terminal, unless NO_COLOR is set."""
        return bool(self.stdout_isatty) and not self.environ.get("NO_COLOR")

    def say(self, text: str) -> None:
        """A line for the user that is not part of the output (stderr)."""
        print(text, file=self.stderr, flush=True)
