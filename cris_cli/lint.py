"""``cris-cli lint``: check messages a CRIS or PACS implementation sends.

Input is one JSON object per line (JSON Lines), a JSON array of objects, a
single (pretty-printed) object, or a cris-cli record file, whose lines carry
the direction of each message. Output is a table on a terminal, plain lines
otherwise, NDJSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .codec import Decoded, Parsed, mask_secrets, masked_values, parse
from .environment import Environment
from .errors import ExitCode, UsageError
from .identifiers import IdentifierCheck, check_chi, check_nhs
from .messages import Direction, verb_of
from .render import printable

RECORD_DIRECTIONS = {d.value: d for d in Direction}


@dataclass(frozen=True, slots=True)
class Checked:
    """One message as found in the input, and what checking it found."""

    where: str
    direction: Direction
    decoded: Decoded

    def passes(self, strict: bool) -> bool:
        if strict:
            return not self.decoded.deviations
        return self.decoded.valid

    @property
    def command(self) -> str:
        if isinstance(self.decoded, Parsed):
            return verb_of(self.decoded.message) or "?"
        return "?"

    @property
    def identifiers(self) -> list[tuple[str, IdentifierCheck]]:
        """The NHS and CHI numbers that passed their checks, and by which rule (those
        that failed are findings already)."""
        message = self.decoded.message if isinstance(self.decoded, Parsed) else None
        passed = []
        for field, check in (("nhs", check_nhs), ("chi", check_chi)):
            value = getattr(message, field, None)
            result = check(value) if isinstance(value, str) else None
            if result is not None and result.valid:
                passed.append((field, result))
        return passed

    def as_json(self) -> dict[str, object]:
        decoded = self.decoded
        return {
            "where": self.where,
            "direction": self.direction.value,
            "valid": decoded.valid,
            "command": self.command if isinstance(decoded, Parsed) else None,
            "fields": masked_values(decoded.message) if isinstance(decoded, Parsed) else None,
            "raw": mask_secrets(decoded.raw),
            "deviations": [d.as_json() for d in decoded.deviations],
            "identifiers": [
                {"field": field, "digits": result.digits, "rule": result.rule}
                for field, result in self.identifiers
            ],
        }


def read_messages(text: str, source: str, sender: Direction | None) -> Iterator[Checked]:
    """Every message in ``text``, in order, whatever the input format."""
    stripped = text.strip()
    # A whole-text array, or one object spread over several lines; else JSON Lines.
    if stripped[:1] == "[" or (stripped[:1] == "{" and "\n" in stripped):
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, list):
            for index, item in enumerate(whole):
                raw = json.dumps(item, ensure_ascii=False)
                yield from _checked(f"{source}[{index}]", raw, item, sender)
            return
        if isinstance(whole, dict):
            yield from _checked(source, stripped, whole, sender)
            return
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")  # JSON Lines split on newlines only
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        yield from _checked(f"{source}:{number}", line, item, sender)


def _checked(where: str, raw: str, item: object, sender: Direction | None) -> Iterator[Checked]:
    if isinstance(item, dict) and {"kind", "direction", "raw"} <= item.keys():
        # A cris-cli record: it says who sent each message; connections are skipped.
        direction = RECORD_DIRECTIONS.get(str(item["direction"]))
        if item["kind"] == "message" and direction is not None and isinstance(item["raw"], str):
            yield Checked(where, direction, parse(item["raw"], direction))
        return
    if sender is None:
        raise UsageError(
            f"{where}: say who sent these messages",
            hint="add --from cris (events CRIS sends) or --from pacs (commands a PACS sends)",
        )
    yield Checked(where, sender, parse(raw, sender))


def _read_sources(files: list[str], env: Environment) -> Iterator[tuple[str, str]]:
    if not files and env.stdin_isatty:
        raise UsageError(
            "lint needs messages: name files, or pipe them in",
            hint='echo \'{"command":"CLEAR"}\' | cris-cli lint --from pacs',
        )
    for name in files or ["-"]:
        if name == "-":
            yield "stdin", env.stdin.read()
            continue
        try:
            yield name, Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(f"cannot read {name}: {reason}") from None


def run(args: argparse.Namespace, env: Environment) -> int:
    sender = Direction.from_sender(args.sender) if args.sender else None
    checked = [
        item
        for source, text in _read_sources(args.files, env)
        for item in read_messages(text, source, sender)
    ]
    if args.json:
        for item in checked:
            env.stdout.write(json.dumps(item.as_json(), ensure_ascii=False) + "\n")
    elif env.stdout_isatty:
        _print_table(checked, args.strict, env)
    else:
        _print_plain(checked, args.strict, env)
    failed = sum(not item.passes(args.strict) for item in checked)
    if not args.json:
        env.stdout.write(_summary(checked, failed) + "\n")
    env.stdout.flush()
    if not checked:
        env.say("cris-cli: no messages found in the input")
    return int(ExitCode.INVALID if failed else ExitCode.OK)


def _summary(checked: list[Checked], failed: int) -> str:
    errors = sum(d.is_error for item in checked for d in item.decoded.deviations)
    warnings = sum(not d.is_error for item in checked for d in item.decoded.deviations)
    noun = "message" if len(checked) == 1 else "messages"
    return (
        f"{len(checked)} {noun} checked: {len(checked) - failed} passed, {failed} failed "
        f"({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)})"
    )


def _verdict(item: Checked, strict: bool) -> str:
    if not item.passes(strict):
        return "invalid"
    return "valid, with warnings" if item.decoded.deviations else "valid"


def _print_plain(checked: list[Checked], strict: bool, env: Environment) -> None:
    for item in checked:  # what the input says is shown, never acted on by the terminal
        where, command = printable(item.where), printable(item.command)
        env.stdout.write(f"{where}: {item.direction.sender} {command}: {_verdict(item, strict)}\n")
        for d in item.decoded.deviations:
            env.stdout.write(f"    {d.severity.value:<7} {d.code:<20} {printable(d.text)}\n")
        for field, result in item.identifiers:
            env.stdout.write(f"    {'ok':<7} {field:<20} {result.describe()}\n")


def _print_table(checked: list[Checked], strict: bool, env: Environment) -> None:
    from rich.console import Console
    from rich.table import Table

    from .tables import safe

    table = Table(show_lines=True, header_style="bold")
    table.add_column("where", style="dim", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("command", style="bold", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("findings")
    for item in checked:
        passed = item.passes(strict)
        verdict = _verdict(item, strict)
        mark = (
            "[green]✓[/]"
            if passed and not item.decoded.deviations
            else ("[yellow]![/]" if passed else "[red]✗[/]")
        )
        findings = "\n".join(
            [
                *(
                    f"[{'red' if d.is_error else 'yellow'}]{d.severity.value}[/] "
                    f"[dim]{d.code}[/] {safe(d.text)}"
                    for d in item.decoded.deviations
                ),
                *(
                    f"[green]ok[/] [dim]{field}[/] {result.describe()}"
                    for field, result in item.identifiers
                ),
            ]
        )
        table.add_row(
            safe(item.where),
            item.direction.sender,
            safe(item.command),
            f"{mark} {verdict}",
            findings,
        )
    Console(file=env.stdout, force_terminal=env.color, no_color=not env.color).print(table)
