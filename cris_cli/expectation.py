"""What a sender waits for from the other side: a command, and the accession
numbers it must name. ``send --expect`` and a script's ``expect`` both use it."""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Direction, accessions_of
from .records import Record


@dataclass(frozen=True)
class Expectation:
    """A message travelling in ``direction`` with ``command``, naming every one of
    ``accessions``, within ``within`` seconds."""

    command: str
    accessions: tuple[str, ...]
    direction: Direction
    within: float

    def matches(self, record: Record) -> bool:
        # LOGIN and LOGOUT go both ways: only the other side's message counts.
        if record.kind != "message" or record.direction is not self.direction:
            return False
        if (record.command or "").upper() != self.command:
            return False
        if not self.accessions:
            return True
        message = record.message
        return message is not None and set(self.accessions) <= set(accessions_of(message))

    def __str__(self) -> str:
        return " ".join((self.command, *self.accessions))
