"""What happens on a CRIS Connect link, one :class:`Record` at a time.

A record is a message in either direction, a connection opening, closing or
being refused, or a notice (a warning about the link itself). Every front
end shows the same records; ``--json`` and ``--record`` files carry them in
the NDJSON schema below, one object per line, every key always present:

``seq``        number of the record at its endpoint, from 1
``time``       ISO 8601 UTC timestamp, milliseconds
``kind``       ``message``, ``connect``, ``disconnect``, ``refused`` or ``notice``
``direction``  ``cris-to-pacs`` or ``pacs-to-cris`` (null for non-messages)
``peer``       the CRIS client's address (``127.0.0.1:53422``), or null
``client``     the CRIS client's number at its endpoint, or null
``origin``     the browser origin the client sent, or null
``raw``        the message verbatim (passwords masked), or null
``command``    the command word as received, or null
``fields``     the message's fields by wire name (passwords masked), or null
``valid``      false when the message breaks the protocol, null for non-messages
``deviations`` list of ``{code, severity, field, text}`` (see ``cris-cli lint``)
``notes``      list of ``{code, severity, text}``: round-trip and safety checks,
               close reasons
``delivered``  for a message sent to CRIS: to how many clients, else null
``text``       a human description of a non-message record, else null

Held in memory, a record keeps only its raw text; the parsed form is made
again when asked for, which keeps 100,000 held records small.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .codec import Decoded, Parsed, mask_secrets, masked_values, parse
from .messages import Direction, Message, verb_of

Kind = Literal["message", "connect", "disconnect", "refused", "notice"]
NoteSeverity = Literal["info", "warning", "danger"]


@dataclass(frozen=True, slots=True)
class Note:
    """Something a record means beyond its own content: a round-trip time, a
    wrong-patient risk, a close reason."""

    code: str
    text: str
    severity: NoteSeverity = "info"

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "text": self.text}


class Record:
    """One thing that happened on the link. Immutable once published."""

    __slots__ = (
        "_decoded",
        "_line",
        "client",
        "delivered",
        "direction",
        "kind",
        "notes",
        "origin",
        "peer",
        "raw",
        "seq",
        "text",
        "time",
    )

    def __init__(
        self,
        kind: Kind,
        *,
        seq: int = 0,
        time: float,
        direction: Direction | None = None,
        peer: str | None = None,
        client: int | None = None,
        origin: str | None = None,
        raw: str | None = None,
        decoded: Decoded | None = None,
        notes: tuple[Note, ...] = (),
        delivered: int | None = None,
        text: str | None = None,
    ) -> None:
        self.kind = kind
        self.seq = seq
        self.time = time
        self.direction = direction
        self.peer = peer
        self.client = client
        self.origin = origin
        # Secrets are masked before the record exists, so no copy of it holds one.
        self.raw = None if raw is None else mask_secrets(raw)
        self._decoded = decoded
        self._line: str | None = None
        self.notes = notes
        self.delivered = delivered
        self.text = text

    @property
    def decoded(self) -> Decoded | None:
        """The parsed message (made again from ``raw`` when it was dropped)."""
        if self._decoded is None and self.raw is not None and self.direction is not None:
            self._decoded = parse(self.raw, self.direction)
        return self._decoded

    @property
    def message(self) -> Message | None:
        decoded = self.decoded
        return decoded.message if isinstance(decoded, Parsed) else None

    @property
    def command(self) -> str | None:
        message = self.message
        return None if message is None else verb_of(message)

    def compact(self) -> None:
        """Drop derived forms to save memory; they are made again when needed."""
        self._line = None
        if self.raw is not None:
            self._decoded = None

    def with_notes(self, *notes: Note) -> Record:
        """This record with more notes (before it is published)."""
        self.notes = self.notes + notes
        self._line = None
        return self

    def as_json(self) -> dict[str, Any]:
        decoded = self.decoded
        message = decoded.message if isinstance(decoded, Parsed) else None
        return {
            "seq": self.seq,
            "time": iso_time(self.time),
            "kind": self.kind,
            "direction": None if self.direction is None else self.direction.value,
            "peer": self.peer,
            "client": self.client,
            "origin": self.origin,
            "raw": self.raw,
            "command": None if message is None else verb_of(message),
            "fields": None if message is None else masked_values(message),
            "valid": None if decoded is None else decoded.valid,
            "deviations": [] if decoded is None else [d.as_json() for d in decoded.deviations],
            "notes": [n.as_json() for n in self.notes],
            "delivered": self.delivered,
            "text": self.text,
        }

    def to_line(self) -> str:
        """The record as one NDJSON line, newline included (made once per publication).

        It says what ``json.dumps(as_json())`` says, built from parts: a message
        that follows the protocol exactly (no deviation, hence no secret) has
        the values of its own raw text as ``fields``, so that text is used as
        it is. This is the hot path of ``serve --json``.
        """
        if self._line is not None:
            return self._line
        decoded, raw = self.decoded, self.raw
        if (
            isinstance(decoded, Parsed)
            and not decoded.deviations
            and raw is not None
            and "\n" not in raw
            and "\r" not in raw
        ):
            notes = _dumps([n.as_json() for n in self.notes]) if self.notes else "[]"
            line = (
                f'{{"seq":{self.seq},"time":"{iso_time(self.time)}","kind":"message",'
                f'"direction":"{self.direction.value if self.direction else ""}",'
                f'"peer":{_text(self.peer)},"client":{_number(self.client)},'
                f'"origin":{_text(self.origin)},"raw":{_encode(raw)},'
                f'"command":{_text(verb_of(decoded.message))},"fields":{raw.strip()},'
                f'"valid":true,"deviations":[],"notes":{notes},'
                f'"delivered":{_number(self.delivered)},"text":{_text(self.text)}}}'
            )
        else:
            line = _dumps(self.as_json())
        self._line = _one_line(line) + "\n"
        return self._line

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """A record read back from its JSON form (a record file, the control channel)."""
        direction = data.get("direction")
        return cls(
            data["kind"],
            seq=int(data.get("seq") or 0),
            time=parse_time(data["time"]),
            direction=None if direction is None else Direction(direction),
            peer=data.get("peer"),
            client=data.get("client"),
            origin=data.get("origin"),
            raw=data.get("raw"),
            notes=tuple(
                Note(n["code"], n["text"], n.get("severity", "info"))
                for n in data.get("notes") or ()
            ),
            delivered=data.get("delivered"),
            text=data.get("text"),
        )

    def __repr__(self) -> str:
        what = self.raw if self.kind == "message" else self.text
        return f"<Record #{self.seq} {self.kind} {what!r}>"


# The C string encoder behind json.dumps(..., ensure_ascii=False): a JSON string literal.
_encode: Callable[[str], str] = json.encoder.encode_basestring


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


# Characters JSON allows raw in strings that a line must not carry: line breaks to
# str.splitlines and others, and lone surrogates (a JSON escape can make one),
# which no UTF-8 writer accepts.
_UNSAFE = re.compile("[\x85\u2028\u2029\ud800-\udfff]")


def _one_line(line: str) -> str:
    """The line with every character a reader or writer would trip on escaped."""
    if line.isascii():
        return line
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def _text(value: str | None) -> str:
    return "null" if value is None else _encode(value)


_second: list[object] = [None, ""]  # the last whole second formatted, and its text


def split_time(timestamp: float) -> tuple[int, int]:
    """The whole second and the milliseconds of ``timestamp``, as every rendering
    shows them: rounded to the microsecond first (as datetime does), so that a time
    read back from a record file shows the same milliseconds."""
    second = int(timestamp)
    micros = round((timestamp - second) * 1_000_000)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    return second, micros // 1000


def iso_time(timestamp: float) -> str:
    """``2026-12-04T15:23:49.123Z`` (the seconds part is made once per second)."""
    second, millis = split_time(timestamp)
    if _second[0] != second:
        moment = datetime.datetime.fromtimestamp(second, datetime.UTC)
        _second[:] = [second, moment.strftime("%Y-%m-%dT%H:%M:%S")]
    return f"{_second[1]}.{millis:03d}Z"


def parse_time(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
