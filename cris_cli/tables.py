"""Rich renderings the shell prints on request: ``events``, ``show``,
``status``, ``clients`` and ``help``. Each is rendered once to ANSI text."""

from __future__ import annotations

import datetime
import io
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .codec import Parsed
from .grammar import Verb
from .records import Record, iso_time
from .render import COMMAND_STYLES, MASKED, local_role_labels, printable

RICH_NOTE_STYLES = {"info": "dim", "warning": "yellow", "danger": "bold white on red"}


def safe(text: str) -> str:
    """Wire text for a rich table: terminal controls escaped, then markup escaped."""
    return escape(printable(text))


def render(renderable: RenderableType, width: int, color: bool) -> str:
    """ANSI text of ``renderable`` for a terminal ``width`` columns wide."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
    )
    console.print(renderable)
    return buffer.getvalue()


def _clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def events_table(records: Sequence[Record], *, redact: bool, local: str = "pacs") -> Table:
    labels = local_role_labels(local)
    table = Table(header_style="bold")
    table.add_column("#", justify="right", no_wrap=True)
    for name in ("time", "dir", "command", "accession", "exam", "NHS", "CHI", "domain"):
        table.add_column(name, no_wrap=True)
    table.add_column("note", overflow="fold")
    for record in records:
        message = record.message
        note_lines = []
        decoded = record.decoded
        if record.kind != "message":
            note_lines.append(safe(record.text or ""))
        elif decoded is not None:
            for d in decoded.deviations:
                note_lines.append(f"[{'red' if d.is_error else 'yellow'}]{safe(d.text)}[/]")
        for note in record.notes:
            if note.text != record.text:
                note_lines.append(f"[{RICH_NOTE_STYLES[note.severity]}]{safe(note.text)}[/]")
        command = record.command or ("malformed" if record.kind == "message" else record.kind)
        style = COMMAND_STYLES.get(command, "red" if record.kind == "message" else "dim")
        table.add_row(
            str(record.seq),
            _clock(record.time),
            labels[record.direction] if record.direction else "",
            f"[{style}]{safe(command)}[/]",
            safe(" ".join(getattr(message, "accession", ()))),
            safe(getattr(message, "exam_code", None) or ""),
            _identifier(getattr(message, "nhs", None), redact),
            _identifier(getattr(message, "chi", None), redact),
            safe(getattr(message, "domain", None) or ""),
            "\n".join(note_lines),
        )
    return table


def _identifier(value: str | None, redact: bool) -> str:
    if not value:
        return ""
    return MASKED if redact else safe(value)


def record_detail(record: Record, *, redact: bool) -> RenderableType:
    """Everything about one record: verbatim message, fields, findings, notes."""
    title = f"#{record.seq} {record.kind}"
    if record.direction is not None:
        title += f" {record.direction.value}"
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("time", iso_time(record.time))
    for name in ("peer", "client", "origin", "delivered", "text"):
        value = getattr(record, name)
        if value is not None:
            facts.add_row(name, safe(str(value)))
    parts: list[RenderableType] = [facts]
    if record.raw is not None:
        parts.append(Text("verbatim:", style="bold"))
        raw = record.raw
        try:
            indented = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
            # JSON escapes C0 controls but not C1 ones (CSI is one) nor line separators.
            pretty = "\n".join(map(printable, indented.split("\n")))
        except ValueError:
            pretty = printable(raw)  # not JSON: may hold anything a terminal would act on
        if redact:
            pretty = _redacted(pretty, record)
        from rich.syntax import Syntax  # pygments: only for the one view that highlights

        parts.append(
            Syntax(pretty, "json", theme="ansi_dark", word_wrap=True, background_color="default")
        )
    decoded = record.decoded
    if decoded is not None and decoded.deviations:
        parts.append(Text("findings:", style="bold"))
        for d in decoded.deviations:
            style = "red" if d.is_error else "yellow"
            parts.append(
                Text.assemble(
                    (f"  {d.severity.value:<7} ", style), (f"{d.code:<20} ", "dim"), d.text
                )
            )
    elif isinstance(decoded, Parsed):
        parts.append(Text("no findings: the message follows the protocol", style="green"))
    for note in record.notes:
        if note.text != record.text:
            parts.append(Text(f"  {note.text}", style=RICH_NOTE_STYLES[note.severity]))
    return Panel(Group(*parts), title=title, title_align="left", expand=False)


def _redacted(text: str, record: Record) -> str:
    message = record.message
    for name in ("nhs", "chi"):
        value = getattr(message, name, None) if message is not None else None
        if value:
            text = text.replace(value, MASKED)
    return text


def status_panel(status: dict[str, Any], description: str) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    uptime = datetime.timedelta(seconds=int(status.get("uptime", 0)))
    counts = status.get("counts", {})
    grid.add_row("endpoint", safe(description))
    grid.add_row("TLS", "yes" if status.get("tls") else "no (plain ws://)")
    if status.get("fingerprint"):
        grid.add_row("SHA-256", status["fingerprint"])
    grid.add_row("up", str(uptime))
    clients = status.get("clients", [])
    limit = status.get("max_clients", 1)
    grid.add_row(
        "CRIS clients",
        f"{len(clients)} of at most {limit}"
        + (" (commands go to all)" if limit > 1 else " (a new one replaces the old)"),
    )
    grid.add_row(
        "messages",
        f"{counts.get('received', 0)} received, {counts.get('sent', 0)} sent, "
        f"{counts.get('malformed', 0)} malformed",
    )
    grid.add_row(
        "connections",
        f"{counts.get('connections', 0)} accepted, {counts.get('refused', 0)} refused",
    )
    origins = status.get("allowed_origins") or []
    if status.get("allow_any_origin"):
        grid.add_row("origins", "[yellow]any (--allow-any-origin)[/]")
    else:
        grid.add_row("origins", safe(", ".join(origins)) if origins else "none allowed yet")
    return Panel(grid, title="status", title_align="left", expand=False)


def clients_table(clients: Iterable[dict[str, Any]], peer: str = "CRIS") -> RenderableType:
    rows = list(clients)
    if not rows:
        return Text(f"no {peer} client is connected", style="yellow")
    table = Table(header_style="bold")
    for name in ("#", "address", "origin", "connected since", "messages"):
        table.add_column(name)
    for client in rows:
        table.add_row(
            str(client.get("client", "")),
            safe(str(client.get("peer") or "")),
            safe(client.get("origin") or "none (native client)"),
            _clock(float(client.get("since") or 0)),
            str(client.get("received", ""))
            + ("" if client.get("reading", True) else " [yellow](not reading: skipped)[/]"),
        )
    return table


def help_panel(verbs: Sequence[Verb], name: str | None = None) -> RenderableType:
    unique = list(dict.fromkeys(verbs))
    if name is None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for verb in unique:
            table.add_row(safe(verb.usage), safe(verb.summary))
        return Group(
            table, Text("help COMMAND explains one, with examples; Tab completes", style="dim")
        )
    verb = next(v for v in unique if v.name == name or name in v.aliases)
    lines = [Text(verb.usage, style="bold cyan"), Text(verb.summary)]
    if verb.aliases:
        lines.append(Text(f"also: {', '.join(verb.aliases)}", style="dim"))
    if verb.examples:
        lines.append(Text("examples:", style="bold"))
        lines += [Text(f"  {example}") for example in verb.examples]
    return Group(*lines)
