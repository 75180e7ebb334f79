"""Writing records out: batched per event-loop turn, so a burst of messages
costs one write and one flush, while a single message still appears at once."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from typing import IO

from .environment import Environment
from .records import Record
from .render import RowFormatter, plain_line


class LineSink:
    """Collects text during one turn of the event loop and writes it in one go."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._pending: list[str] = []
        self._scheduled = False

    def write(self, text: str) -> None:
        self._pending.append(text)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self.stream.write(text)
            self.stream.flush()


def record_writer(
    mode: str,
    sink: LineSink,
    *,
    width: int = 120,
    color: bool = False,
    redact: bool = False,
    local: str = "pacs",
) -> Callable[[Record], None]:
    """A listener printing each record as ``json``, ``table`` or ``plain`` text."""
    if mode == "json":
        return lambda record: sink.write(record.to_line())
    if mode == "table":
        formatter = RowFormatter(width, color=color, redact=redact, local=local)
        sink.write(formatter.header() + "\n")
        return lambda record: sink.write(formatter.row(record) + "\n")
    return lambda record: sink.write(plain_line(record, local) + "\n")


def printer(
    env: Environment, *, json_output: bool, redact: bool = False, local: str = "pacs"
) -> tuple[LineSink, Callable[[Record], None]]:
    """How a front end prints records: table rows on a terminal (as wide as it is),
    plain lines in a pipe, NDJSON with ``--json``. Flush the sink before leaving."""
    sink = LineSink(env.stdout)
    width = shutil.get_terminal_size((120, 24)).columns
    mode = output_mode(json_output, env.stdout_isatty)
    writer = record_writer(mode, sink, width=width, color=env.color, redact=redact, local=local)
    return sink, writer


def output_mode(json_flag: bool, stdout_isatty: bool | None) -> str:
    if json_flag:
        return "json"
    return "table" if stdout_isatty else "plain"
