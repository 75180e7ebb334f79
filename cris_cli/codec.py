"""Wire text to messages and back: lenient in, strict out.

:func:`parse` never raises on text: it returns a :class:`Parsed` message with
the *deviations* from the protocol it found, or a :class:`Malformed` value
carrying the raw text when the text is not a JSON object at all.
:func:`serialize` emits exactly the fields a command uses, ``accession``
always as a list, and raises :class:`IncompleteMessage` rather than send a
message that lacks a required field.

Deviation codes (stable; ``lint --json`` and records carry them):

=====================  ========  ==============================================
code                   severity  meaning
=====================  ========  ==============================================
not-json               error     the text is not JSON (NaN and Infinity are not)
too-deep               error     nested more than 64 levels deep (not read)
not-object             error     the JSON is not an object
missing-command        error     no ``command`` field
command-not-string     error     ``command`` is not a string
command-case           warning   ``command`` in the wrong case or with spaces
unknown-command        warning   a command this version does not know (kept)
wrong-direction        error     a command only the other side sends
missing-field          error     a field the command needs is absent or empty
missing-expected       warning   a field senders normally include is absent
null-field             warning   a field is ``null`` (read as absent)
empty-field            warning   a text field is the empty string
accession-not-list     warning   ``accession`` is a single value, not a list
accession-format       warning   an accession with spaces around it, or repeated
wrong-type             warning   a value of the wrong JSON type, converted
unusable-value         error     a value of the wrong JSON type, ignored
unused-field           warning   a protocol field this command does not use
unknown-field          warning   a field the protocol does not define (kept)
invalid-nhs            error     the NHS number fails its check
invalid-chi            error     the CHI number fails its check
formatted-identifier   warning   an NHS or CHI number written with spaces or dashes
=====================  ========  ==============================================
"""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .messages import (
    MASK,
    MESSAGE_TYPES,
    NO_EXTRA,
    SECRET_FIELDS,
    WIRE_FIELDS,
    Direction,
    JSONValue,
    Message,
    UnknownMessage,
    missing_fields,
    verb_of,
)

if TYPE_CHECKING:
    from .identifiers import IdentifierCheck


class Severity(enum.Enum):
    """An error makes a message invalid; a warning is a tolerated deviation."""

    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Deviation:
    """One way a message departs from the protocol."""

    code: str
    text: str
    field: str | None = None
    severity: Severity = Severity.WARNING

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_json(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "field": self.field,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Parsed:
    """A JSON object read as a message, with the deviations found on the way."""

    message: Message
    deviations: tuple[Deviation, ...]
    raw: str

    @property
    def valid(self) -> bool:
        """True when no deviation is an error (warnings are tolerated)."""
        return not any(d.severity is Severity.ERROR for d in self.deviations)


@dataclass(frozen=True, slots=True)
class Malformed:
    """Text that is not a JSON object; ``raw`` keeps it as received."""

    raw: str
    deviations: tuple[Deviation, ...]

    valid = False

    @property
    def reason(self) -> str:
        return self.deviations[0].text


Decoded = Parsed | Malformed


class IncompleteMessage(ValueError):
    """Raised when a message to be sent lacks a field its command requires."""


# Per message class: the text fields it uses (read as they are when non-empty), and
# the fields whose absence is reported, in wire order, with whether they are required.
_PLAIN_TEXT: dict[type[Message], frozenset[str]] = {
    cls: frozenset(f for f in cls.fields if f not in ("accession", "remoteImage"))
    for table in MESSAGE_TYPES.values()
    for cls in table.values()
}
_PRESENCE: dict[type[Message], tuple[tuple[str, str, bool], ...]] = {
    cls: tuple(
        (wire, WIRE_FIELDS[wire], wire in cls.required)
        for wire in cls.fields
        if wire in cls.required or wire in cls.expected
    )
    for table in MESSAGE_TYPES.values()
    for cls in table.values()
}

_KIND_OF_SENDER = {Direction.CRIS_TO_PACS: "CRIS event", Direction.PACS_TO_CRIS: "PACS command"}
_SENDER_NAME = {Direction.CRIS_TO_PACS: "CRIS", Direction.PACS_TO_CRIS: "the PACS"}


def _error(code: str, text: str, field: str | None = None) -> Deviation:
    return Deviation(code, text, field, Severity.ERROR)


MAX_DEPTH = 64
"""Deepest nesting read. CRIS messages are two levels deep; a limit of our own,
well below the interpreter's, keeps every later step (records, renderings) safe
and makes the answer the same wherever it is asked."""


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _finite(digits: str) -> float | str:
    """A JSON number as a float, or its digits when no float can hold it (1e999)."""
    number = float(digits)
    return digits if math.isinf(number) else number


# Strict JSON: NaN and Infinity are not JSON, and nothing read becomes one.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def too_deep(text: str) -> bool:
    """True when ``text`` nests arrays or objects deeper than :data:`MAX_DEPTH`."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # the usual case, in C
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse(text: str, direction: Direction) -> Decoded:
    """Read one wire message sent in ``direction``. Never raises on any text."""
    if too_deep(text):
        return Malformed(
            text, (_error("too-deep", f"nested more than {MAX_DEPTH} levels deep; not read"),)
        )
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        return Malformed(text, (_error("not-json", "not JSON: nested too deeply"),))
    except ValueError as exc:
        return Malformed(text, (_error("not-json", f"not JSON: {exc}"),))
    if not isinstance(data, dict):
        kind = _json_type(data)
        return Malformed(text, (_error("not-object", f"a JSON {kind}, not an object"),))
    message, deviations = interpret(data, direction)
    return Parsed(message, tuple(deviations), text)


def interpret(data: dict[str, JSONValue], direction: Direction) -> tuple[Message, list[Deviation]]:
    """Build the message a decoded JSON object describes, noting each deviation."""
    deviations: list[Deviation] = []
    verb = data.get("command")
    if not isinstance(verb, str):
        if "command" not in data:
            deviations.append(_error("missing-command", "no command field", "command"))
        else:
            deviations.append(
                _error(
                    "command-not-string",
                    f"command is a JSON {_json_type(verb)}, not a string",
                    "command",
                )
            )
        return _unknown(data, direction, None), deviations

    command = verb.strip().upper()
    if command != verb:
        deviations.append(
            Deviation("command-case", f"command {verb!r} read as {command!r}", "command")
        )
    cls = MESSAGE_TYPES[direction].get(command)
    if cls is None:
        if command in MESSAGE_TYPES[direction.reverse]:
            deviations.append(
                _error(
                    "wrong-direction",
                    f"{command} is a {_KIND_OF_SENDER[direction.reverse]}; "
                    f"{_SENDER_NAME[direction]} does not send it",
                    "command",
                )
            )
        else:
            deviations.append(
                Deviation("unknown-command", f"unknown command {command!r} (kept)", "command")
            )
        return _unknown(data, direction, verb), deviations

    values: dict[str, Any] = {}
    extra: dict[str, JSONValue] = {}
    for key, value in data.items():
        if key == "command":
            continue
        attr = WIRE_FIELDS.get(key)
        if type(value) is str and attr is not None and key in _PLAIN_TEXT[cls] and value:
            values[attr] = value  # the usual case, first: a non-empty text field it uses
        elif attr is None:
            extra[key] = value
            deviations.append(_unknown_field(key))
        elif key not in cls.fields:
            extra[key] = value
            shown = MASK if key in SECRET_FIELDS else json.dumps(masked(value))
            deviations.append(
                Deviation("unused-field", f"{command} does not use {key} (got {shown})", key)
            )
        elif value is None:
            deviations.append(Deviation("null-field", f"{key} is null, read as absent", key))
        elif key == "accession":
            accession = _read_accession(value, deviations)
            if accession:
                values[attr] = accession
        elif key == "remoteImage":
            flag = _read_flag(value, deviations)
            if flag is not None:
                values[attr] = flag
        else:
            text = _read_text(key, value, deviations)
            if text is not None:
                values[attr] = text

    for wire, attr, required in _PRESENCE[cls]:
        if attr in values:
            continue
        if required:
            # An unusable value was reported already; an absent or null one was not.
            if not any(d.field == wire and d.is_error for d in deviations):
                deviations.append(_error("missing-field", f"{command} needs {wire}", wire))
        elif wire not in data:
            deviations.append(
                Deviation("missing-expected", f"{command} normally carries {wire}", wire)
            )
    if "nhs" in values or "chi" in values:
        _check_identifiers(values, deviations)
    message = cls(**values, extra=MappingProxyType(extra) if extra else NO_EXTRA)
    return message, deviations


def _unknown(data: dict[str, JSONValue], direction: Direction, verb: str | None) -> UnknownMessage:
    kept = {k: v for k, v in data.items() if k != "command"}
    return UnknownMessage(sent_by=direction, verb=verb, extra=MappingProxyType(kept))


def _unknown_field(key: str) -> Deviation:
    import difflib

    known = {wire.lower(): wire for wire in WIRE_FIELDS}
    folded = key.replace("_", "").replace("-", "").lower()
    close = known.get(folded) or next(
        iter(difflib.get_close_matches(key, list(WIRE_FIELDS), n=1, cutoff=0.8)), None
    )
    hint = f" (did you mean {close}?)" if close else ""
    return Deviation("unknown-field", f"unknown field {key!r} (kept){hint}", key)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_text(key: str, value: JSONValue, deviations: list[Deviation]) -> str | None:
    if isinstance(value, str):
        if value == "":
            deviations.append(Deviation("empty-field", f"{key} is empty", key))
            return None
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = _number_text(value)
        shown = MASK if key in SECRET_FIELDS else repr(text)
        deviations.append(
            Deviation("wrong-type", f"{key} is a number, not a string; read as {shown}", key)
        )
        return text
    deviations.append(
        _error(
            "unusable-value",
            f"{key} is a JSON {_json_type(value)}, not a string; ignored",
            key,
        )
    )
    return None


def _read_accession(value: JSONValue, deviations: list[Deviation]) -> tuple[str, ...]:
    items: list[JSONValue]
    if isinstance(value, list):
        items = value
    else:
        items = [value]
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            deviations.append(
                Deviation(
                    "accession-not-list",
                    f"accession is a {_json_type(value)}, not a list; "
                    f"read as [{json.dumps(value)}]",
                    "accession",
                )
            )
    accession: list[str] = []
    for item in items:
        if isinstance(item, str):
            if item.strip() != item or not item:
                deviations.append(
                    Deviation(
                        "accession-format",
                        f"accession {item!r} has spaces around it or is empty",
                        "accession",
                    )
                )
                item = item.strip()
                if not item:
                    continue
            accession.append(item)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            text = _number_text(item)
            if isinstance(value, list):
                deviations.append(
                    Deviation(
                        "wrong-type",
                        f"accession {text} is a number, not a string; read as {text!r}",
                        "accession",
                    )
                )
            accession.append(text)
        else:
            deviations.append(
                _error(
                    "unusable-value",
                    f"accession holds a JSON {_json_type(item)}; ignored",
                    "accession",
                )
            )
    if len(set(accession)) != len(accession):
        deviations.append(
            Deviation("accession-format", "accession lists a number twice", "accession")
        )
    return tuple(accession)


_FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False}


def _read_flag(value: JSONValue, deviations: list[Deviation]) -> bool | None:
    if isinstance(value, bool):
        return value
    key = str(value).strip().lower() if isinstance(value, str | int) else None
    if key in _FLAG_WORDS:
        flag = _FLAG_WORDS[key]
        deviations.append(
            Deviation(
                "wrong-type",
                f"remoteImage is a JSON {_json_type(value)}, not a boolean; "
                f"read as {str(flag).lower()}",
                "remoteImage",
            )
        )
        return flag
    deviations.append(
        _error(
            "unusable-value",
            f"remoteImage is {json.dumps(masked(value))}, not a boolean; ignored",
            "remoteImage",
        )
    )
    return None


@functools.cache
def _identifier_checks() -> tuple[tuple[str, Callable[[str], IdentifierCheck]], ...]:
    from .identifiers import check_chi, check_nhs  # only messages with identifiers need it

    return (("nhs", check_nhs), ("chi", check_chi))


def _check_identifiers(values: dict[str, Any], deviations: list[Deviation]) -> None:
    for attr, check in _identifier_checks():
        text = values.get(attr)
        if text is None:
            continue
        result = check(text)
        if not result.valid:
            deviations.append(_error(f"invalid-{attr}", result.describe(), attr))
        elif result.formatted:
            deviations.append(
                Deviation(
                    "formatted-identifier",
                    f"{attr} {text!r} has spaces or dashes; the number is {result.digits}",
                    attr,
                )
            )


def wire_object(message: Message) -> dict[str, JSONValue]:
    """The JSON object ``message`` is sent as."""
    if isinstance(message, UnknownMessage):
        head: dict[str, JSONValue] = {} if message.verb is None else {"command": message.verb}
        return head | dict(message.extra)
    missing = missing_fields(message)
    if missing:
        raise IncompleteMessage(f"{message.command} needs {', '.join(missing)}")
    return {"command": message.command} | message.wire_values()


def serialize(message: Message) -> str:
    """The exact wire text of ``message``: compact JSON, command first."""
    return json.dumps(wire_object(message), separators=(",", ":"), ensure_ascii=False)


_SECRET_PATTERN = re.compile(r'("(?i:password)"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\s]+)')


def _maybe_secret(text: str) -> bool:
    """A password key in any case, or any escape (which could spell one)."""
    return "\\u" in text or "password" in text.lower()  # no regex: this runs for every message


def masked(value: JSONValue) -> JSONValue:
    """``value`` with the value of every ``password`` key (any case, any depth) masked."""
    if isinstance(value, dict):
        return {k: MASK if k.lower() in SECRET_FIELDS else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def mask_secrets(text: str) -> str:
    """``text`` with every password value replaced by a mask.

    Text that holds no password is returned unchanged (the fast, common case);
    so is the rest of a text that does, where the secret values alone can be
    replaced. A password the text hides (an escaped key, a value that is a list
    or an object) is masked by writing the JSON anew.
    """
    if not _maybe_secret(text):
        return text
    simple = _SECRET_PATTERN.sub(lambda m: f'{m.group(1)}"{MASK}"', text)
    if too_deep(text):
        return simple
    try:
        data = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return simple  # not JSON: mask what the pattern can see
    cleaned = masked(data)
    if cleaned == data:
        return text  # an escape, but no password
    try:
        if _DECODER.decode(simple) == cleaned:
            return simple
    except ValueError:
        pass
    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))


def masked_values(message: Message) -> dict[str, JSONValue]:
    """The wire object of ``message`` for display: secrets masked, nothing required."""
    if isinstance(message, UnknownMessage):
        values: dict[str, JSONValue] = {} if message.verb is None else {"command": message.verb}
        values |= dict(message.extra)
    else:  # the fields the command uses, then any it does not (kept, never dropped)
        values = {"command": message.command} | message.wire_values() | dict(message.extra)
    return {k: MASK if k.lower() in SECRET_FIELDS else masked(v) for k, v in values.items()}


def describe(message: Message) -> str:
    """A short human summary: the verb and its accessions."""
    verb = verb_of(message) or "(no command)"
    accession = getattr(message, "accession", ())
    return f"{verb} {' '.join(accession)}".rstrip()
