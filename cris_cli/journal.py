"""Where records are published: numbered in order, handed to every listener,
held in a bounded history. The endpoint and the simulator each keep one."""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Callable

from .records import Record

Listener = Callable[[Record], None]


class Listeners:
    """Whoever wants each record, in order. One that fails does not stop the others,
    nor whoever published (a connection must not die because a printer did): each
    kind of failure is reported once, on stderr."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.failures = 0
        self._reported: set[tuple[str, type[Exception]]] = set()

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def dispatch(self, record: Record) -> None:
        for listener in list(self._listeners):
            try:
                listener(record)
            except Exception as error:  # reported, not hidden
                self._report(listener, error)

    def _report(self, listener: Listener, error: Exception) -> None:
        kind = (getattr(listener, "__qualname__", type(listener).__name__), type(error))
        self.failures += 1
        if kind not in self._reported:
            self._reported.add(kind)
            print(
                f"cris-cli: internal error in {kind[0]}: {error!r} (please report it)",
                file=sys.stderr,
            )


class Journal:
    """Numbers, distributes and holds records."""

    def __init__(self, history: int = 100_000) -> None:
        self.history: deque[Record] = deque(maxlen=max(history, 1))
        self.last_activity: float | None = None
        self.listeners = Listeners()
        self._seq = itertools.count(1)

    def add_listener(self, listener: Listener) -> None:
        self.listeners.add(listener)

    def remove_listener(self, listener: Listener) -> None:
        self.listeners.remove(listener)

    def number(self, record: Record) -> Record:
        """Give ``record`` its number now (to refer to it before publishing it)."""
        if not record.seq:
            record.seq = next(self._seq)
        return record

    def publish(self, record: Record) -> Record:
        """Number ``record``, hand it to every listener, then hold it (compacted)."""
        self.number(record)
        self.last_activity = record.time
        self.listeners.dispatch(record)
        record.compact()
        self.history.append(record)
        return record
