"""Round-trip and wrong-patient checks on the PACS side of the link. No I/O.

* After the PACS sends ``DISPLAY ACC``, the EVENT that confirms it is noted
  with the round-trip time; an EVENT for other accessions is flagged, and so
  is silence past ``confirm_within`` seconds.
* The same accession arriving with a different NHS or CHI number than
  before, or a report opened for another patient while one is still open
  (no RELEASE between), is a wrong-patient risk, flagged as danger.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from .messages import (
    Display,
    HistoricReportOpened,
    ReportOpened,
    ReportReleased,
    UserLoggedOut,
)
from .records import Note, Record

REMEMBERED = 100_000  # accessions whose patient is remembered
MAX_PENDING = 1000  # DISPLAYs awaiting their EVENT; a flood beyond this watches only the latest


class Identity(NamedTuple):
    """A patient as the link names them: NHS and CHI digits (either may be absent)."""

    nhs: str | None
    chi: str | None

    @classmethod
    def of(cls, message: object) -> Identity | None:
        nhs = _digits(getattr(message, "nhs", None))
        chi = _digits(getattr(message, "chi", None))
        return None if nhs is None and chi is None else cls(nhs, chi)

    def conflicts(self, other: Identity) -> bool:
        """True when a number both name differs (an absent number conflicts with nothing)."""
        if self == other:  # the usual case, and a fast one
            return False
        nhs, chi = self
        other_nhs, other_chi = other
        return (nhs is not None and other_nhs is not None and nhs != other_nhs) or (
            chi is not None and other_chi is not None and chi != other_chi
        )

    def __str__(self) -> str:
        parts = [f"NHS {self.nhs}" if self.nhs else "", f"CHI {self.chi}" if self.chi else ""]
        return " / ".join(p for p in parts if p)


def _digits(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    if value.isdigit():  # the usual case: nothing to strip
        return value
    digits = "".join(c for c in value if c.isdigit())
    return digits or None


@dataclass
class PendingDisplay:
    accessions: tuple[str, ...]
    sent: float
    seq: int


@dataclass
class OpenReport:
    accessions: tuple[str, ...]
    identity: Identity | None
    seq: int


class SafetyChecks:
    """Watches the records of one endpoint and notes what a person should know."""

    def __init__(self, confirm_within: float = 5.0) -> None:
        self.confirm_within = confirm_within
        self.pending: list[PendingDisplay] = []
        self.open: dict[int | None, OpenReport] = {}
        self._patients: OrderedDict[str, Identity] = OrderedDict()

    def sent(self, record: Record) -> None:
        """A command the PACS sent: a DISPLAY now waits for its EVENT."""
        message = record.message
        if isinstance(message, Display) and message.accession:
            if len(self.pending) >= MAX_PENDING:
                del self.pending[0]
            self.pending.append(PendingDisplay(message.accession, record.time, record.seq))

    def forget(self, client: int) -> None:
        """A client left: the report it had open is no longer open."""
        self.open.pop(client, None)

    def received(self, record: Record) -> tuple[Note, ...]:
        """Notes for an event from CRIS (call before publishing it)."""
        message = record.message
        if isinstance(message, ReportOpened | HistoricReportOpened):
            return self._opened(record, message)
        if isinstance(message, ReportReleased):
            current = self.open.get(record.client)
            if current is None or set(message.accession) & set(current.accessions):
                self.open.pop(record.client, None)
        elif isinstance(message, UserLoggedOut):
            self.open.pop(record.client, None)
        return ()

    def _opened(
        self, record: Record, message: ReportOpened | HistoricReportOpened
    ) -> tuple[Note, ...]:
        notes: list[Note] = []
        identity = Identity.of(message)
        if identity is not None:
            for accession in message.accession:
                before = self._patients.get(accession)
                if before is not None and before.conflicts(identity):
                    notes.append(
                        Note(
                            "wrong-patient",
                            f"WRONG-PATIENT RISK: {accession} came with {before} before, "
                            f"now with {identity}",
                            "danger",
                        )
                    )
                self._remember(accession, identity)
        current = self.open.get(record.client)
        if (
            current is not None
            and not set(current.accessions) & set(message.accession)
            and current.identity is not None
            and identity is not None
            and current.identity.conflicts(identity)
        ):
            notes.append(
                Note(
                    "wrong-patient",
                    f"WRONG-PATIENT RISK: a report for {identity} opened while "
                    f"{' '.join(current.accessions)} ({current.identity}, #{current.seq}) "
                    "is still open, with no RELEASE between",
                    "danger",
                )
            )
        if isinstance(message, ReportOpened):
            notes += self._confirm(record, message)
        self.open[record.client] = OpenReport(message.accession, identity, record.seq)
        return tuple(notes)

    def _confirm(self, record: Record, message: ReportOpened) -> list[Note]:
        if not self.pending:
            return []
        opened = set(message.accession)
        match = next((p for p in self.pending if set(p.accessions) & opened), None)
        wanted = match or self.pending[0]
        self.pending.remove(wanted)
        milliseconds = (record.time - wanted.sent) * 1000
        if match is not None:
            return [
                Note(
                    "round-trip",
                    f"confirms DISPLAY #{wanted.seq} in {milliseconds:.0f} ms",
                    "info",
                )
            ]
        return [
            Note(
                "different-accession",
                f"CRIS opened {' '.join(message.accession)}, not {' '.join(wanted.accessions)} "
                f"as DISPLAY #{wanted.seq} asked",
                "warning",
            )
        ]

    def overdue(self, now: float) -> list[Note]:
        """Notes for DISPLAYs no EVENT confirmed in time (each reported once)."""
        late = [p for p in self.pending if now - p.sent >= self.confirm_within]
        self.pending = [p for p in self.pending if now - p.sent < self.confirm_within]
        return [
            Note(
                "unconfirmed",
                f"no EVENT confirmed DISPLAY {' '.join(p.accessions)} (#{p.seq}) within "
                f"{self.confirm_within:g} s: is CRIS in a reporting screen?",
                "warning",
            )
            for p in late
        ]

    def _remember(self, accession: str, identity: Identity) -> None:
        self._patients.pop(accession, None)
        self._patients[accession] = identity
        if len(self._patients) > REMEMBERED:
            self._patients.popitem(last=False)
