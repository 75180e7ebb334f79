"""The CRIS Connect messages, both directions, as frozen dataclasses.

CRIS Reporting sends *events* to the PACS; the PACS sends *commands* to CRIS
Reporting. ``LOGIN`` and ``LOGOUT`` exist both ways with different fields, so
a command word alone never decides the class: the direction does.

Constructors check types (``accession`` is a tuple of strings, and so on) but
not completeness: a ``Display`` without accessions can exist, because lenient
parsing must be able to describe what a sender really sent.
:func:`missing_fields` says what a message lacks; serialisation refuses it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

JSONValue = Any
"""A value :func:`json.loads` can return."""

NO_EXTRA: Mapping[str, JSONValue] = MappingProxyType({})


class Direction(enum.Enum):
    """Who sent a message: CRIS Reporting or the PACS."""

    CRIS_TO_PACS = "cris-to-pacs"
    PACS_TO_CRIS = "pacs-to-cris"

    @property
    def sender(self) -> str:
        """``cris`` or ``pacs``."""
        return "cris" if self is Direction.CRIS_TO_PACS else "pacs"

    @property
    def reverse(self) -> Direction:
        """The other direction."""
        if self is Direction.CRIS_TO_PACS:
            return Direction.PACS_TO_CRIS
        return Direction.CRIS_TO_PACS

    @classmethod
    def from_sender(cls, sender: str) -> Direction:
        """The direction of messages sent by ``cris`` or ``pacs``."""
        if sender == "cris":
            return cls.CRIS_TO_PACS
        if sender == "pacs":
            return cls.PACS_TO_CRIS
        raise ValueError(f"sender must be 'cris' or 'pacs', not {sender!r}")


# Wire name -> attribute name, for every field the protocol defines.
WIRE_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "accession": "accession",
        "domain": "domain",
        "examCode": "exam_code",
        "nhs": "nhs",
        "chi": "chi",
        "username": "username",
        "password": "password",
        "remoteImage": "remote_image",
    }
)

SECRET_FIELDS = frozenset({"password"})
"""Wire fields whose values never reach a screen, a log or a record."""

MASK = "********"


def _check_text(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None, not {type(value).__name__}")


_KINDS: dict[type, tuple[tuple[str, type], ...]] = {}


def _field_kinds(cls: type[Message]) -> tuple[tuple[str, type], ...]:
    """Each field ``cls`` uses, by attribute name, with the type its values have."""
    kinds = _KINDS.get(cls)
    if kinds is None:
        special = {"accession": tuple, "remoteImage": bool}
        kinds = _KINDS[cls] = tuple((WIRE_FIELDS[w], special.get(w, str)) for w in cls.fields)
    return kinds


def _check_accession(value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(a, str) for a in value):
        raise TypeError("accession must be a tuple of strings")


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Message:
    """A CRIS Connect message. Subclasses are the commands of one direction."""

    command: ClassVar[str]
    direction: ClassVar[Direction]
    fields: ClassVar[tuple[str, ...]] = ()
    """The wire fields this command uses, in the order they are sent."""
    required: ClassVar[frozenset[str]] = frozenset()
    """The wire fields without which the message means nothing."""
    expected: ClassVar[frozenset[str]] = frozenset()
    """The wire fields a well-behaved sender includes."""

    extra: Mapping[str, JSONValue] = field(
        default_factory=lambda: NO_EXTRA, compare=False, repr=False
    )
    """Fields the command does not use, kept verbatim from the wire."""

    # One generic __repr__, __eq__ and __hash__ here instead of one generated per
    # class (repr=False, eq=False): that code generation is most of this
    # module's import time, and import time is most of a one-shot command's.
    def __post_init__(self) -> None:
        # One check for every class: each field the command uses holds its type.
        for attr, kind in _field_kinds(self.__class__):
            value = getattr(self, attr)
            if value is None or (kind is str and value.__class__ is str):
                continue  # the usual cases, first
            if kind is tuple:
                _check_accession(value)
            elif kind is bool:
                if type(value) is not bool:
                    raise TypeError(
                        f"remote_image must be a bool or None, not {type(value).__name__}"
                    )
            else:
                _check_text(attr, value)

    def _compared(self) -> tuple[object, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.compare)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Message)
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash((self.__class__, self._compared()))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr
        )
        return f"{self.__class__.__name__}({shown})"

    def wire_values(self) -> dict[str, JSONValue]:
        """The fields this command uses that are set, by wire name, in wire order."""
        values: dict[str, JSONValue] = {}
        for wire in self.fields:
            value = getattr(self, WIRE_FIELDS[wire])
            if value is None or value == ():
                continue
            values[wire] = list(value) if wire == "accession" else value
        return values


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class CrisEvent(Message):
    """An event CRIS Reporting sends to the PACS."""

    direction = Direction.CRIS_TO_PACS
    expected = frozenset({"domain"})

    domain: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class _ReportEvent(CrisEvent):
    """An event about the report for one or more accessions."""

    accession: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class _PatientEvent(_ReportEvent):
    """An event that carries the exam and the patient's identifiers."""

    exam_code: str | None = None
    nhs: str | None = None
    chi: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ReportOpened(_PatientEvent):
    """``EVENT``: a report is opened, or a single exam's report is selected."""

    command = "EVENT"
    fields = ("accession", "domain", "examCode", "nhs", "chi", "remoteImage")
    required = frozenset({"accession"})

    remote_image: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ReportCommitted(_ReportEvent):
    """``COMMIT``: a report is saved (verified or finished); a RELEASE follows."""

    command = "COMMIT"
    fields = ("accession", "domain", "remoteImage")
    required = frozenset({"accession"})

    remote_image: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class ReportReleased(_ReportEvent):
    """``RELEASE``: a report is saved, skipped, cancelled or exited."""

    command = "RELEASE"
    fields = ("accession", "domain")
    required = frozenset({"accession"})


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class HistoricReportOpened(_PatientEvent):
    """``READONLY``: a historic report is opened."""

    command = "READONLY"
    fields = ("accession", "domain", "examCode", "nhs", "chi")
    required = frozenset({"accession"})


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PrefetchRequested(_PatientEvent):
    """``PREFETCH``: CRIS asks the PACS to prefetch images."""

    command = "PREFETCH"
    fields = ("accession", "domain", "examCode", "nhs", "chi")
    required = frozenset({"accession"})


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class UserLoggedIn(CrisEvent):
    """``LOGIN`` from CRIS: the user logged in to CRIS Reporting."""

    command = "LOGIN"
    fields = ("domain",)


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class UserLoggedOut(CrisEvent):
    """``LOGOUT`` from CRIS: the user logged out of CRIS Reporting."""

    command = "LOGOUT"
    fields = ("domain",)


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class PacsCommand(Message):
    """A command the PACS sends to CRIS Reporting."""

    direction = Direction.PACS_TO_CRIS


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Display(PacsCommand):
    """``DISPLAY``: show the report for these accessions (only from a reporting screen)."""

    command = "DISPLAY"
    fields = ("accession",)
    required = frozenset({"accession"})

    accession: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Clear(PacsCommand):
    """``CLEAR``: clear the report and return to the worklist."""

    command = "CLEAR"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Login(PacsCommand):
    """``LOGIN`` from the PACS: log this user in to CRIS. The password never shows in repr."""

    command = "LOGIN"
    fields = ("username", "password")
    required = frozenset({"username", "password"})

    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Logout(PacsCommand):
    """``LOGOUT`` from the PACS: log the user out of CRIS."""

    command = "LOGOUT"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Fetched(PacsCommand):
    """``FETCHED``: the images for these accessions were fetched (announced, not yet used)."""

    command = "FETCHED"
    fields = ("accession",)
    required = frozenset({"accession"})

    accession: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class UnknownMessage(Message):
    """A command this version does not know, or one without a usable ``command``.

    Every field is kept verbatim in ``extra``; nothing is dropped.
    """

    command = ""
    direction = Direction.CRIS_TO_PACS

    sent_by: Direction
    verb: str | None
    """The ``command`` value as received, or None when it was missing or not a string."""


CRIS_EVENTS: tuple[type[CrisEvent], ...] = (
    ReportOpened,
    ReportCommitted,
    ReportReleased,
    HistoricReportOpened,
    PrefetchRequested,
    UserLoggedIn,
    UserLoggedOut,
)
PACS_COMMANDS: tuple[type[PacsCommand], ...] = (Display, Clear, Login, Logout, Fetched)

MESSAGE_TYPES: Mapping[Direction, Mapping[str, type[Message]]] = MappingProxyType(
    {
        Direction.CRIS_TO_PACS: MappingProxyType({t.command: t for t in CRIS_EVENTS}),
        Direction.PACS_TO_CRIS: MappingProxyType({t.command: t for t in PACS_COMMANDS}),
    }
)


def verb_of(message: Message) -> str | None:
    """The command word of ``message`` as it would appear on the wire."""
    if isinstance(message, UnknownMessage):
        return message.verb
    return message.command


def missing_fields(message: Message) -> tuple[str, ...]:
    """The required wire fields ``message`` lacks, in wire order."""
    return tuple(
        wire
        for wire in message.fields
        if wire in message.required and getattr(message, WIRE_FIELDS[wire]) in (None, (), "")
    )


def accessions_of(message: Message) -> tuple[str, ...]:
    """The accession numbers a message refers to (none for most unknown messages)."""
    accession = getattr(message, "accession", ())
    return accession if isinstance(accession, tuple) else ()
