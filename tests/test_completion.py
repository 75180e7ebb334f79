"""The completer alone, with prompt_toolkit Documents."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from cris_cli.completion import CommandCompleter
from cris_cli.grammar import PACS_VERBS, SHELL_VERBS, verbs_by_name
from cris_cli.records import Record
from cris_cli.session import Session


def complete(text: str, session: Session | None = None) -> list[tuple[str, int, str]]:
    completer = CommandCompleter(verbs_by_name(PACS_VERBS + SHELL_VERBS), session or Session())
    return [
        (c.text, c.start_position, c.display_meta_text)
        for c in completer.get_completions(Document(text), CompleteEvent())
    ]


def test_command_names_complete_with_their_summary() -> None:
    assert complete("dis") == [
        ("display", -3, "ask CRIS to display the report for these accessions")
    ]
    assert [text for text, _, _ in complete("lo")] == ["login", "logout"]
    assert [text for text, _, _ in complete("")][:3] == ["display", "clear", "login"]
    assert complete("DIS")[0][0] == "display"
    assert complete("xyz") == []


def test_accessions_complete_most_recent_first_without_repeats() -> None:
    session = Session()
    session.remember(["A1", "A2", "B1"])
    session.remember(["A1"])  # seen again: now the most recent
    assert [t for t, _, _ in complete("display ", session)] == ["A1", "B1", "A2"]
    assert [t for t, _, _ in complete("display A", session)] == ["A1", "A2"]
    assert [t for t, _, _ in complete("display A1 ", session)] == ["B1", "A2"]
    assert complete("display a", session)[0][1] == -1


def test_help_completes_command_names() -> None:
    assert [t for t, _, _ in complete("help st")] == ["status"]


def test_show_completes_recent_record_numbers() -> None:
    session = Session()
    for seq in (1, 2, 3):
        record = Record("notice", time=1000.0 + seq, text="x")
        record.seq = seq
        session.observe(record)
    assert [t for t, _, _ in complete("show ", session)] == ["3", "2", "1"]


def test_allow_completes_refused_origins_then_always() -> None:
    session = Session()
    session.observe(Record("refused", time=1.0, origin="https://cris.example", text="x"))
    assert [t for t, _, _ in complete("allow ", session)] == ["https://cris.example"]
    assert [t for t, _, _ in complete("allow https://cris.example ", session)] == ["always"]


def test_nothing_for_raw_json_or_extra_arguments() -> None:
    assert complete('raw {"comm') == []
    assert complete("clear ") == []
    assert complete("status x") == []
