"""The shell's bottom toolbar: where the endpoint is, who is connected, how
busy the link is, and the syntax of the command being typed.

Parts are dropped, least useful first, so that the toolbar fits the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping

from .grammar import Verb
from .session import Session

Fragments = list[tuple[str, str]]

IDLE_HINT = "Tab completes · help · Ctrl-D leaves"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "idle"
    if seconds < 60:
        return f"last {seconds:.0f}s ago"
    if seconds < 3600:
        return f"last {seconds / 60:.0f}m ago"
    return f"last {seconds / 3600:.1f}h ago"


def toolbar(
    session: Session,
    address: str,
    tls: bool,
    max_clients: int,
    verbs: Mapping[str, Verb],
    typed: str,
    width: int,
    peer: str = "CRIS",
) -> Fragments:
    """The toolbar as prompt_toolkit style fragments, at most ``width`` columns."""
    word = typed.lstrip().split(" ", 1)[0].lower()
    verb = verbs.get(word)
    clients = sorted(session.clients.values(), key=lambda c: c.number)
    if session.local == "cris":
        # One link, dialled out: its address is shown already, and the origin it
        # has is this CRIS's own, so only whether it is up is worth the room.
        link_part = (
            ("class:toolbar.ok", f"connected to the {peer}")
            if clients
            else ("class:toolbar.warning", f"not connected to the {peer}")
        )
    elif clients:
        who = ", ".join(
            f"{peer} {c.number} {c.origin or c.peer or ''}".rstrip() for c in clients[:2]
        )
        if len(clients) > 2:
            who += f" +{len(clients) - 2}"
        if max_clients > 1:
            who += " (commands go to all)"
        link_part = ("class:toolbar.ok", who)
    else:
        link_part = ("class:toolbar.warning", f"no {peer} client connected")
    counts = f"in {session.received} · out {session.sent}"
    # (priority, fragment): lower numbers are dropped last.
    parts: list[tuple[int, tuple[str, str]]] = [
        (0, ("class:toolbar.address", f"{address} {'TLS' if tls else 'no TLS'}")),
        (0, link_part),
        (2, ("class:toolbar", counts)),
    ]
    if session.warnings:
        parts.append((3, ("class:toolbar.warning", f"! {session.warnings} with findings")))
    parts.append((4, ("class:toolbar", _ago(session.idle_for()))))
    parts.append((1 if verb else 5, ("class:toolbar.hint", verb.usage if verb else IDLE_HINT)))
    while len(parts) > 2 and _width(parts) > width:
        drop = max(range(len(parts)), key=lambda i: (parts[i][0], i))
        parts.pop(drop)
    fragments: Fragments = [("class:toolbar", " ")]
    for index, (_, fragment) in enumerate(parts):
        if index:
            fragments.append(("class:toolbar", " │ "))
        fragments.append(fragment)
    return fragments


def _width(parts: list[tuple[int, tuple[str, str]]]) -> int:
    return 1 + sum(len(text) for _, (_, text) in parts) + 3 * (len(parts) - 1)
