"""Writing records out: batched per event-loop turn, so a burst of messages
costs one write and one flush, while a single message still appears at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import IO

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


def output_mode(json_flag: bool, stdout_isatty: bool | None) -> str:
    if json_flag:
        return "json"
    return "table" if stdout_isatty else "plain"
