"""Test support: cris-cli in a real terminal, a tmux pane, typed at and read back.

Each :class:`Terminal` runs its own tmux server on a private socket (never the
user's server, never another test's), started with the test's isolated
environment, and kills it when done.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from debian import apt_install, can_install

COMMAND_TIMEOUT = 10  # seconds for one tmux command
WAIT = 20  # seconds, the longest any wait on the screen may take
SESSION = "cris"
# Passed into the pane explicitly as well as inherited: the shell must never
# read or write the real user's files.
ISOLATING = (
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
)


def find_tmux() -> str:
    """The tmux binary; installed with apt-get when missing and we may. Fails, never skips."""
    found = shutil.which("tmux")
    if found:
        return found
    how_to = "install it (apt-get install tmux)"
    if can_install():
        apt_install("tmux", how_to)
        found = shutil.which("tmux")
        if found:
            return found
    pytest.fail(
        "the terminal tests need tmux, and it is not on PATH "
        f"({os.environ.get('PATH', '')}); {how_to}"
        + ("" if can_install() else " (installing it here needs root and apt-get)"),
        pytrace=False,
    )


def cris_cli_command() -> list[str]:
    """How to run this checkout's cris-cli: the venv's script, else ``python -m``."""
    script = Path(sys.executable).parent / "cris-cli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "cris_cli"]


class Terminal:
    """One tmux server on a private socket with one session, ``width`` × ``height``."""

    def __init__(self, tmux: str, environ: Mapping[str, str]) -> None:
        self.tmux = tmux
        # A short private directory: a Unix socket path must stay under ~100 bytes.
        self.directory = Path(tempfile.mkdtemp(prefix="cris-tmux-"))
        self.socket = self.directory / "socket"
        # A tmux server takes its environment from the client that starts it;
        # inside a tmux pane, TMUX would point this client at the user's server.
        self.environ = {
            name: value for name, value in environ.items() if name not in ("TMUX", "TMUX_PANE")
        }
        self.started = False

    def run(self, *args: str, check: bool = True) -> str:
        """Run one tmux command against this server; its stdout."""
        done = subprocess.run(
            [self.tmux, "-S", str(self.socket), "-f", os.devnull, *args],
            env=self.environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"tmux {shlex.join(args)} failed with exit {done.returncode}: {done.stderr}"
            )
        return done.stdout

    def start(self, command: Sequence[str], *, width: int = 140, height: int = 40) -> None:
        """Run ``command`` in a new pane; when it ends the pane shows ``EXIT=<status>``."""
        exported = [
            part
            for name in ISOLATING
            if name in self.environ
            for part in ("-e", f"{name}={self.environ[name]}")
        ]
        line = f"{shlex.join(command)}; echo EXIT=$?; sleep {WAIT + 10}"
        self.run(
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            str(width),
            "-y",
            str(height),
            *exported,
            line,
        )
        self.started = True

    def close(self) -> None:
        """Kill this server (and with it the pane's processes) and remove its socket."""
        try:
            if self.started:
                self.run("kill-server", check=False)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    # --- keys ------------------------------------------------------------------------

    def type(self, text: str) -> None:
        """Type ``text`` literally (no key names)."""
        self.run("send-keys", "-t", SESSION, "-l", text)

    def press(self, *keys: str) -> None:
        """Press named keys: ``Enter``, ``Tab``, ``C-d``..."""
        self.run("send-keys", "-t", SESSION, *keys)

    # --- the screen ------------------------------------------------------------------

    def screen(self) -> str:
        """The visible pane, one line per row, trailing blanks trimmed."""
        return self.run("capture-pane", "-p", "-t", SESSION)

    def scrollback(self) -> str:
        """Everything the pane ever showed: the whole history and the visible rows."""
        return self.run("capture-pane", "-p", "-S", "-", "-E", "-", "-t", SESSION)

    def cursor(self) -> tuple[int, int]:
        """The cursor's (column, row) in the visible pane, both from 0."""
        x, y = self.run("display-message", "-p", "-t", SESSION, "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    async def until(self, check: Callable[[str], bool], what: str, timeout: float = WAIT) -> str:
        """The screen once ``check(screen)`` holds; fails with the screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s; the screen:\n{screen}")
            await asyncio.sleep(0.05)

    async def shows(self, text: str, timeout: float = WAIT) -> str:
        """The screen once it shows ``text``."""
        return await self.until(
            lambda screen: text in screen, f"the screen shows {text!r}", timeout
        )


def lines(screen: str) -> list[str]:
    """The screen's rows, trailing blanks trimmed (the cursor row keeps its index)."""
    return [line.rstrip() for line in screen.split("\n")]


def last_line_starting(screen: str, prefix: str) -> int | None:
    """The index of the last row starting with ``prefix`` (the live prompt), if any."""
    rows = lines(screen)
    for index in range(len(rows) - 1, -1, -1):
        if rows[index].startswith(prefix):
            return index
    return None
