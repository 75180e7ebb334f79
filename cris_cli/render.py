"""Records as text: live table rows, plain lines, NDJSON.

Table rows are built once, as ANSI text, when a record arrives, and printed
append-only: nothing re-renders a whole table per event. The layout is fixed
per terminal width (columns are dropped, least useful first, when narrow),
so a row costs a few string operations.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from .codec import Parsed
from .identifiers import check_chi, check_nhs
from .messages import Direction
from .records import Record, split_time

RESET = "\x1b[0m"
STYLES = {
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
    "red": "\x1b[31m",
    "bold red": "\x1b[1;31m",
    "danger": "\x1b[1;97;41m",
    "green": "\x1b[32m",
    "bold green": "\x1b[1;32m",
    "yellow": "\x1b[33m",
    "bold yellow": "\x1b[1;33m",
    "blue": "\x1b[34m",
    "bold blue": "\x1b[1;34m",
    "magenta": "\x1b[35m",
    "cyan": "\x1b[36m",
    "bold cyan": "\x1b[1;36m",
    "bold magenta": "\x1b[1;35m",
}

COMMAND_STYLES = {
    "EVENT": "bold green",
    "READONLY": "green",
    "COMMIT": "bold blue",
    "RELEASE": "yellow",
    "PREFETCH": "magenta",
    "LOGIN": "bold",
    "LOGOUT": "bold",
    "DISPLAY": "bold cyan",
    "CLEAR": "cyan",
    "FETCHED": "cyan",
}
KIND_STYLES = {"connect": "dim", "disconnect": "dim", "refused": "bold red", "notice": "yellow"}
NOTE_STYLES = {"info": "dim", "warning": "yellow", "danger": "danger"}
MASKED = "•" * 10


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    width: int
    align: str = "<"


# Dropped in this order as the terminal narrows: the least useful first.
DROP_ORDER = ("domain", "exam", "chi", "time", "nhs")
NOTE_MIN = 24
NARROWEST = 8
NOTE_LIMIT = 300  # a note longer than this is cut short on screen ('show N' has it all)
CELL_CACHE = 4096


# The non-ASCII characters rows use themselves, all one column wide.
_OWN_NARROW = str.maketrans(dict.fromkeys("→✓✗…•", "x"))


# What wire text may not bring to a terminal or a log: control characters (a
# terminal obeys them), line breaks (a forged line), lone surrogates (unwritable).
_ESCAPES = str.maketrans(
    {i: f"\\x{i:02x}" for i in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
    | {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"}
)
_SURROGATES = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe to show: what a terminal would act on is written as an escape."""
    if text.isprintable():
        return text
    text = text.translate(_ESCAPES)
    return text if text.isascii() else _SURROGATES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def clipped(text: str, limit: int = NOTE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _narrow(text: str) -> bool:
    """True when every character takes one column (ours included)."""
    return text.isascii() or text.translate(_OWN_NARROW).isascii()


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two)."""
    return len(text) if _narrow(text) else sum(map(_char_width, text))


def fit(text: str, width: int, align: str = "<") -> str:
    """``text`` cut with an ellipsis or padded to exactly ``width`` columns.

    It looks at no more characters than the width needs: a cell of a huge
    message costs what a small one does.
    """
    if len(text) <= width and text.isascii():  # the usual case, quickly
        return text.rjust(width) if align == ">" else text.ljust(width)
    if _narrow(text[: width + 1]):  # one column a character, as far as it matters
        total = len(text)
        if total > width:
            return text[: width - 1] + "…"
    else:
        kept = used = total = 0  # characters and columns that fit in width - 1
        for index, char in enumerate(text):
            total += _char_width(char)
            if total <= width - 1:
                kept, used = index + 1, total
            elif total > width:
                return text[:kept] + "…" + " " * (width - 1 - used)
    padding = " " * (width - total)
    return padding + text if align == ">" else text + padding


def local_role_labels(local: str) -> dict[Direction, str]:
    """Direction labels from the local side's view: the peer's name and an arrow."""
    peer = "CRIS" if local == "pacs" else "PACS"
    outgoing = Direction.PACS_TO_CRIS if local == "pacs" else Direction.CRIS_TO_PACS
    return {outgoing: f"→{peer}", outgoing.reverse: f"{peer}→"}


class RowFormatter:
    """Formats records as table rows for a terminal ``width`` columns wide."""

    def __init__(
        self, width: int = 120, *, color: bool = True, redact: bool = False, local: str = "pacs"
    ) -> None:
        self.width = width
        self.color = color
        self.redact = redact
        self.labels = local_role_labels(local)
        self.columns = self._layout(max(width, 40))
        cut = next(i for i, c in enumerate(self.columns) if c.name == "accession")
        self._lead = self.columns[:cut]
        self._wide_offset = sum(c.width + 1 for c in self._lead)
        self._wide = max(max(width, 40) - self._wide_offset, 10)
        self.note_offset = sum(c.width + 1 for c in self.columns[:-1])
        self._codes = STYLES if color else {}
        self._made: dict[tuple[str, str, str | None], str] = {}
        # The number and the time differ on every row: made directly, never cached
        # (they would only push out the cells that do repeat).
        stamp = [c for c in self.columns if c.name in ("#", "time")]
        self._seq_width = stamp[0].width
        self._time_shown = len(stamp) > 1
        self._message_layout = [
            (c.name, c.width, c.align) for c in self.columns[:-1] if c not in stamp
        ]
        self._other_layout = [(c.name, c.width, c.align) for c in self._lead if c not in stamp]
        self._clock_second = -1
        self._clock_text = ""

    def _layout(self, width: int) -> list[Column]:
        columns = [
            Column("#", 5, ">"),
            Column("time", 12),
            Column("dir", 5),
            Column("command", 10),
            Column("accession", 14),
            Column("exam", 6),
            Column("nhs", 11),
            Column("chi", 11),
            Column("domain", 6),
        ]
        droppable = list(DROP_ORDER)
        while sum(c.width + 1 for c in columns) + NOTE_MIN > width and droppable:
            name = droppable.pop(0)
            columns = [c for c in columns if c.name != name]
        used = sum(c.width + 1 for c in columns)
        # Room to spare goes to the accessions (two of them), then to the notes; a
        # terminal too narrow even so takes it from both, down to 8 columns each.
        change = max(min(width - used - NOTE_MIN, 12), -(14 - NARROWEST))
        if change:
            columns = [
                Column(c.name, c.width + change) if c.name == "accession" else c for c in columns
            ]
            used += change
        columns.append(Column("note", max(width - used, NARROWEST)))
        return columns

    def _paint(self, text: str, style: str | None) -> str:
        code = self._codes.get(style) if style else None
        return f"{code}{text}{RESET}" if code else text

    def header(self) -> str:
        cells = [fit(c.name, c.width, c.align) for c in self.columns]
        return self._paint(" ".join(cells).rstrip(), "bold")

    def _clock(self, timestamp: float) -> str:
        second, millis = split_time(timestamp)
        if second != self._clock_second:
            self._clock_second = second
            self._clock_text = time.strftime("%H:%M:%S", time.localtime(second))
        return f"{self._clock_text}.{millis:03d}"

    def _identifier(
        self, value: str | None, check: Callable[[str], object]
    ) -> tuple[str, str | None]:
        if not value:
            return "", None
        valid = getattr(check(value), "valid", False)
        mark = "✓" if valid else "✗"
        shown = MASKED if self.redact else value
        return f"{shown}{mark}", None if valid else "red"

    def row(self, record: Record) -> str:
        """The record as one or more lines of ANSI text (no trailing newline)."""
        cells: dict[str, tuple[str, str | None]] = {}
        notes: list[tuple[str, str | None]] = []
        if record.kind == "message":
            self._message_cells(record, cells, notes)
        else:
            cells["command"] = (record.kind, KIND_STYLES.get(record.kind))
            notes.append((record.text or "", KIND_STYLES.get(record.kind)))
        for note in record.notes:
            if record.kind == "notice" and note.text == record.text:
                continue
            notes.append((note.text, NOTE_STYLES[note.severity]))
        # A connection or notice has no message columns: its text starts where
        # the accession would, and takes the rest of the line.
        layout = self._message_layout if record.kind == "message" else self._other_layout
        stamp = fit(str(record.seq), self._seq_width, ">")
        if self._time_shown:
            stamp += " " + self._clock(record.time)  # always 12 columns: HH:MM:SS.mmm
        made, parts = self._made, [self._paint(stamp, "dim")]
        for name, width, align in layout:
            cell = cells.get(name)
            if cell is None or not cell[0]:
                parts.append(" " * width)
                continue
            key = (name, *cell)
            text = made.get(key)
            if text is None:  # most cells repeat (commands, exams, domains): made once
                text = self._paint(fit(printable(cell[0]), width, align), cell[1])
                if len(made) >= CELL_CACHE:
                    made.clear()
                made[key] = text
            parts.append(text)
        if not notes:  # the usual row: nothing to say
            return " ".join(parts).rstrip()
        note_width = self.columns[-1].width if record.kind == "message" else self._wide
        # Notes wrap onto lines of their own under the note column: a finding
        # cut short is a finding lost.
        notes = [
            (piece, style)
            for text, style in ((printable(clipped(text)), style) for text, style in notes)
            for piece in (textwrap.wrap(text, note_width) if len(text) > note_width else [text])
        ]
        first, *more = notes or [("", None)]
        line = " ".join(parts) + " " + self._paint(fit(first[0], note_width), first[1])
        lines = [line.rstrip()]
        indent = " " * (self.note_offset if record.kind == "message" else self._wide_offset)
        lines += [
            indent + self._paint(fit(text, note_width), style).rstrip() for text, style in more
        ]
        return "\n".join(lines)

    def _message_cells(
        self,
        record: Record,
        cells: dict[str, tuple[str, str | None]],
        notes: list[tuple[str, str | None]],
    ) -> None:
        assert record.direction is not None
        cells["dir"] = (self.labels[record.direction], "dim")
        decoded = record.decoded
        if not isinstance(decoded, Parsed):
            cells["command"] = ("malformed", "bold red")
            reason = decoded.reason if decoded else "?"
            notes.append((f"{reason}: {clipped(repr(record.raw), 120)}", "red"))
            return
        message = decoded.message
        command = record.command or "?"  # cells are made printable when first made
        cells["command"] = (command, COMMAND_STYLES.get(command, "red"))
        cells["accession"] = (" ".join(getattr(message, "accession", ())), None)
        cells["exam"] = (getattr(message, "exam_code", None) or "", None)
        cells["domain"] = (getattr(message, "domain", None) or "", "dim")
        cells["nhs"] = self._identifier(getattr(message, "nhs", None), check_nhs)
        cells["chi"] = self._identifier(getattr(message, "chi", None), check_chi)
        if record.delivered is not None and record.delivered != 1:
            notes.append((f"delivered to {record.delivered} clients", "dim"))
        for deviation in decoded.deviations:
            if self.redact and deviation.field in ("nhs", "chi"):
                text = f"{deviation.field} fails its check"
            else:
                text = deviation.text
            notes.append((text, "red" if deviation.is_error else "yellow"))


def plain_line(record: Record, local: str = "pacs") -> str:
    """A record as plain text for pipes and logs: one line, then one per deviation or note."""
    second, millis = split_time(record.time)
    stamp = time.strftime("%H:%M:%S", time.localtime(second))
    head = f"#{record.seq} {stamp}.{millis:03d}"
    if record.kind != "message":
        lines = [f"{head} {record.kind}: {printable(record.text or '')}"]
    else:
        assert record.direction is not None
        label = local_role_labels(local)[record.direction]
        decoded = record.decoded
        if isinstance(decoded, Parsed):
            fields = " ".join(
                f"{printable(key)}={printable(_plain_value(value))}"
                for key, value in record_fields(record).items()
            )
            lines = [f"{head} {label} {printable(record.command or '')} {fields}".rstrip()]
        else:
            lines = [f"{head} {label} malformed {clipped(repr(record.raw))}"]
        if decoded is not None:
            lines += [
                f"    {d.severity.value} {d.code}: {printable(d.text)}" for d in decoded.deviations
            ]
        if record.delivered is not None:
            lines[0] += f" (delivered to {record.delivered})"
    lines += [
        f"    {n.severity} {n.code}: {printable(n.text)}"
        for n in record.notes
        if n.text != record.text
    ]
    return "\n".join(lines)


def _plain_value(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def record_fields(record: Record) -> dict[str, object]:
    """The wire fields of a record's message except the command, secrets masked."""
    from .codec import masked_values

    message = record.message
    if message is None:
        return {}
    values = masked_values(message)
    values.pop("command", None)
    return values
