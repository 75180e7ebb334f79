"""What a front end knows about its link, kept up to date from records alone.

Both a hosted and an attached endpoint produce the same records, so the
shell's toolbar, completion and ``events``/``show`` commands read this one
model and never poll. It holds no terminal code and is tested on its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .messages import Direction, accessions_of
from .records import Record

RECENT_ACCESSIONS = 500


@dataclass
class ClientView:
    number: int
    peer: str | None
    origin: str | None
    since: float


class Session:
    """Clients, counts, recent records and accessions seen on one link.

    ``local`` is the side this front end plays (``pacs`` or ``cris``): ``received``
    counts the messages that reached it, ``sent`` those it sent.
    """

    def __init__(
        self,
        history: int = 100_000,
        clock: Callable[[], float] = time.time,
        local: str = "pacs",
    ) -> None:
        self.clock = clock
        self.local = local
        self.records: deque[Record] = deque(maxlen=max(history, 1))
        self.clients: dict[int, ClientView] = {}
        self.received = 0
        self.sent = 0
        self.warnings = 0
        self.last_activity: float | None = None
        self._accessions: OrderedDict[str, str] = OrderedDict()  # accession -> where from
        self.refused_origins: OrderedDict[str, None] = OrderedDict()

    def seed(self, status: dict[str, Any]) -> None:
        """Start from an endpoint's status (clients already connected when attaching)."""
        for client in status.get("clients", ()):
            number = int(client["client"])
            self.clients[number] = ClientView(
                number, client.get("peer"), client.get("origin"), float(client.get("since", 0))
            )

    def observe(self, record: Record) -> None:
        """Take one record into account (call for every record, in order)."""
        self.records.append(record)
        self.last_activity = record.time
        if record.kind == "connect" and record.client is not None:
            self.clients[record.client] = ClientView(
                record.client, record.peer, record.origin, record.time
            )
        elif record.kind == "disconnect" and record.client is not None:
            self.clients.pop(record.client, None)
        elif record.kind == "refused" and record.origin:
            self.refused_origins.pop(record.origin, None)
            self.refused_origins[record.origin] = None
        elif record.kind == "message":
            # The PACS receives what CRIS sends, and the other way round.
            if (record.direction is Direction.CRIS_TO_PACS) == (self.local == "pacs"):
                self.received += 1
            else:
                self.sent += 1
            decoded = record.decoded
            if decoded is not None and decoded.deviations:
                self.warnings += 1
            message = record.message
            if message is not None:
                self.remember(accessions_of(message))

    def remember(self, accessions: Iterable[str], source: str = "seen on the wire") -> None:
        """Accessions seen, typed or listed, most recent last (bounded)."""
        for accession in accessions:
            self._accessions.pop(accession, None)
            self._accessions[accession] = source
        while len(self._accessions) > RECENT_ACCESSIONS:
            self._accessions.popitem(last=False)

    def recent_accessions(self) -> list[tuple[str, str]]:
        """Accessions, most recent first, with where each came from."""
        return list(reversed(self._accessions.items()))

    def record(self, seq: int) -> Record | None:
        """The held record numbered ``seq``, if it is still held."""
        if not self.records or seq < self.records[0].seq or seq > self.records[-1].seq:
            return None
        # Numbers rise by one per record at an endpoint: index directly when we can.
        index = seq - self.records[0].seq
        if 0 <= index < len(self.records) and self.records[index].seq == seq:
            return self.records[index]
        return next((r for r in self.records if r.seq == seq), None)

    def latest(self, count: int) -> list[Record]:
        if count <= 0:
            return []
        return list(self.records)[-count:]

    def idle_for(self) -> float | None:
        """Seconds since the last record, or None if nothing happened yet."""
        return None if self.last_activity is None else max(self.clock() - self.last_activity, 0)
