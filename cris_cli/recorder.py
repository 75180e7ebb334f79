"""``--record FILE``: every record of a session, appended as JSON Lines.

The file is opened for appending with mode 0600 (records hold patients'
numbers), and each record is one ``write`` of one whole line, so a crash or a
kill leaves every earlier line complete and parseable. Passwords were masked
before the record existed. The schema is the NDJSON one (see
:mod:`cris_cli.records`); ``cris-cli lint`` and ``cris-cli replay`` read it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UsageError
from .records import Record


class Recorder:
    """A listener that appends each record to a file, one line per write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot record to {path}: {exc.strerror or exc}") from None
        if hasattr(os, "fchmod"):
            os.fchmod(self._fd, 0o600)  # an existing file too: it will hold identifiers
        self.written = 0

    def __call__(self, record: Record) -> None:
        os.write(self._fd, record.to_line().encode("utf-8"))
        self.written += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
