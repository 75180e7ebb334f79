"""Tab completion for command lines, driven by the command grammar.

Command names complete with their summaries; arguments complete by kind:
accessions seen on the wire (most recent first), record numbers, refused
origins, command names for ``help``, event names for ``expect``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from .grammar import Argument, Verb
from .messages import CRIS_EVENTS, PACS_COMMANDS
from .session import Session

Candidates = Callable[[Session], Iterable[tuple[str, str]]]


def _accessions(session: Session) -> Iterator[tuple[str, str]]:
    return iter(session.recent_accessions())


def _records(session: Session) -> Iterator[tuple[str, str]]:
    for record in reversed(session.latest(50)):
        what = record.command or record.kind
        stamp = time.strftime("%H:%M:%S", time.localtime(record.time))
        yield str(record.seq), f"{stamp} {what}"


def _origins(session: Session) -> Iterator[tuple[str, str]]:
    return ((origin, "refused earlier") for origin in reversed(session.refused_origins))


def _events(session: Session) -> Iterator[tuple[str, str]]:
    return ((event.command, "event from CRIS") for event in CRIS_EVENTS)


def _commands(session: Session) -> Iterator[tuple[str, str]]:
    return ((command.command, "command to CRIS") for command in PACS_COMMANDS)


CANDIDATES: dict[str, Candidates] = {
    "accession": _accessions,
    "seq": _records,
    "origin": _origins,
    "event": _events,
    "pacs-command": _commands,
    "always": lambda session: [("always", "save it to the config file")],
}


class CommandCompleter(Completer):
    """Completes a command line for one vocabulary (the PACS shell's, the simulator's)."""

    def __init__(self, verbs: Mapping[str, Verb], session: Session) -> None:
        self.verbs = verbs
        self.session = session

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor.lstrip()
        words = text.split()
        typing = "" if not words or text.endswith(" ") else words[-1]
        if len(words) == 0 or (len(words) == 1 and typing):
            yield from self._verbs(typing)
            return
        verb = self.verbs.get(words[0].lower())
        if verb is None or verb.rest_of_line:
            return
        given = words[1:-1] if typing else words[1:]
        argument = _argument_at(verb, len(given))
        if argument is None:
            return
        if argument.kind == "verb":
            yield from self._verbs(typing)
            return
        source = CANDIDATES.get(argument.kind)
        if source is None:
            return
        folded = typing.lower()
        for candidate, meta in source(self.session):
            if candidate in given and argument.repeat:
                continue
            if candidate.lower().startswith(folded):
                yield Completion(candidate, -len(typing), display_meta=meta)

    def _verbs(self, typing: str) -> Iterator[Completion]:
        folded = typing.lower()
        seen: set[str] = set()
        for name, verb in self.verbs.items():
            if verb.name in seen or not name.startswith(folded) or name != verb.name:
                continue
            seen.add(verb.name)
            yield Completion(verb.name, -len(typing), display_meta=verb.summary)


def _argument_at(verb: Verb, index: int) -> Argument | None:
    """The argument a word at ``index`` (0-based, after the verb) fills, if any."""
    if index < len(verb.arguments):
        return verb.arguments[index]
    if verb.arguments and verb.arguments[-1].repeat:
        return verb.arguments[-1]
    return None
