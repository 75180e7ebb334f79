"""Printing above a running prompt without ever leaving raw mode.

prompt_toolkit's ``patch_stdout`` prints by suspending the prompt: it puts
the terminal back in cooked mode for each write. A key pressed in that
moment is then the terminal driver's, not the prompt's: Ctrl-D is swallowed,
Ctrl-C becomes SIGINT. Rows stream in all the time here, so that moment
comes often. This writer erases the prompt, writes, and lets the prompt
redraw itself below, all in raw mode, on the event loop, in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from prompt_toolkit.application import Application

BATCH_SECONDS = 0.02


Apps = Callable[[], Iterable[Application[Any]]]


class AbovePrompt:
    """A text stream whose lines appear above the prompt that is running: the
    first running one of ``apps`` (the command prompt, or a question asked)."""

    def __init__(self, apps: Apps, stream: IO[str]) -> None:
        self.apps = apps
        self.stream = stream
        self._pending: list[str] = []
        self._scheduled = False

    def write(self, text: str) -> int:
        self._pending.append(text)
        if not self._scheduled and "\n" in text:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_later(BATCH_SECONDS, self._flush)
            except RuntimeError:  # no loop (shutting down): write at once
                self._flush()
        return len(text)

    def flush(self) -> None:
        """Nothing to do now: lines go out within a batch interval, whole."""

    def _flush(self) -> None:
        self._scheduled = False
        text = "".join(self._pending)
        self._pending.clear()
        if not text:
            return
        app = next((a for a in self.apps() if a.is_running and not a.is_done), None)
        if app is None:
            self.stream.write(text)
            self.stream.flush()
            return
        app.renderer.erase()  # the prompt and toolbar go; the cursor is where they began
        app.output.write_raw(text)
        app.output.flush()
        app.renderer.reset()  # and they come back below what was written
        app.renderer.request_absolute_cursor_position()
        app.invalidate()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", "utf-8")


@contextlib.contextmanager
def above(apps: Apps) -> Iterator[AbovePrompt]:
    """Send stdout and stderr above the running prompt while inside the block."""
    writer = AbovePrompt(apps, sys.stdout)
    original = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = writer
    try:
        yield writer
    finally:
        sys.stdout, sys.stderr = original
        writer._flush()
