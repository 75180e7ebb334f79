"""The command language shared by the shell, scripts and ``cris-cli send``.

A line like ``display ACC1 ACC2`` means the same everywhere. Each verb is
declared once, with its arguments, a summary and examples; parsing, help and
tab completion all read the same declarations.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .codec import Malformed, Parsed, parse
from .errors import UsageError
from .messages import (
    Clear,
    Direction,
    Display,
    Fetched,
    Login,
    Logout,
    Message,
)


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument of a verb. ``kind`` drives completion (``accession``, ``command``...)."""

    name: str
    kind: str = "word"
    repeat: bool = False
    optional: bool = False

    @property
    def usage(self) -> str:
        text = self.name + (f" [{self.name} ...]" if self.repeat else "")
        return f"[{text}]" if self.optional else text


@dataclass(frozen=True, slots=True)
class Verb:
    """A command word with its arguments and help."""

    name: str
    arguments: tuple[Argument, ...]
    summary: str
    examples: tuple[str, ...] = ()
    sends: bool = False
    """True when the verb sends a message to the peer."""
    rest_of_line: bool = False
    """True when the verb takes the rest of the line verbatim (``raw``, ``echo``)."""
    aliases: tuple[str, ...] = ()
    syntax: str | None = None
    """The usage line, when the arguments alone cannot say it."""

    @property
    def usage(self) -> str:
        if self.syntax is not None:
            return self.syntax
        return " ".join([self.name, *(a.usage for a in self.arguments)])

    def bounds(self) -> tuple[int, int | None]:
        low = sum(1 for a in self.arguments if not a.optional)
        high = None if any(a.repeat for a in self.arguments) else len(self.arguments)
        return low, high


@dataclass(frozen=True, slots=True)
class Invocation:
    """A parsed command line."""

    verb: Verb
    args: tuple[str, ...]
    text: str
    """The arguments as typed, for verbs that take the rest of the line."""


ACCESSIONS = Argument("ACCESSION", "accession", repeat=True)

PACS_VERBS: tuple[Verb, ...] = (
    Verb(
        "display",
        (ACCESSIONS,),
        "ask CRIS to display the report for these accessions",
        ("display HSS07170319", "display HSS07170319 HSS07170320"),
        sends=True,
    ),
    Verb(
        "clear",
        (),
        "ask CRIS to clear the report and return to the worklist",
        ("clear",),
        sends=True,
    ),
    Verb(
        "login",
        (Argument("USER", "user"),),
        "log a user in to CRIS (the password is asked, never typed on the line)",
        ("login rad1",),
        sends=True,
    ),
    Verb("logout", (), "log the user out of CRIS", ("logout",), sends=True),
    Verb(
        "fetched",
        (ACCESSIONS,),
        "tell CRIS the images for these accessions were fetched",
        ("fetched HSS07170319",),
        sends=True,
    ),
    Verb(
        "raw",
        (Argument("JSON", "json"),),
        "send a JSON object as it is (checked first; deviations are shown)",
        ('raw {"command":"DISPLAY","accession":["HSS07170319"]}',),
        sends=True,
        rest_of_line=True,
    ),
)


CRIS_VERBS: tuple[Verb, ...] = (
    Verb(
        "login",
        (Argument("USER", "user", optional=True),),
        "log in to CRIS (sends LOGIN)",
        ("login", "login rad2"),
    ),
    Verb(
        "logout",
        (),
        "log out of CRIS, closing any open report (sends RELEASE, LOGOUT)",
        ("logout",),
    ),
    Verb(
        "open",
        (ACCESSIONS,),
        "open the report for these accessions (sends EVENT)",
        ("open HSS12345678",),
    ),
    Verb(
        "select",
        (Argument("ACCESSION", "accession"),),
        "select one exam's report within the open report (sends EVENT)",
        ("select HSS12345678",),
    ),
    Verb("save", (), "save the open report (sends COMMIT, then RELEASE)", ("save",)),
    Verb("skip", (), "skip, cancel or exit the open report (sends RELEASE)", ("skip",)),
    Verb(
        "historic",
        (Argument("ACCESSION", "accession"),),
        "open a historic report, read-only (sends READONLY)",
        ("historic HSS05110977",),
    ),
    Verb(
        "prefetch",
        (ACCESSIONS,),
        "ask the PACS to prefetch images (sends PREFETCH)",
        ("prefetch HSS12345678 HSS12345679",),
    ),
    Verb(
        "worklist",
        (Argument("N", "count", optional=True),),
        "show the next N exams on the worklist (default 15)",
        ("worklist", "worklist 50"),
    ),
    Verb(
        "raw",
        (Argument("JSON", "json"),),
        "send a JSON object as it is, to test how the PACS copes (deviations are shown)",
        ('raw {"command":"EVENT","accession":"HSS12345678"}',),
        sends=True,
        rest_of_line=True,
    ),
)

SCRIPT_VERBS: tuple[Verb, ...] = (
    Verb(
        "wait",
        (Argument("client", "client-word"), Argument("SECONDS", "seconds", optional=True)),
        "wait until the other side is connected (default: the script's step timeout)",
        ("wait client", "wait client 30"),
    ),
    Verb(
        "expect",
        (
            Argument("COMMAND", "expected"),
            Argument("WORD", "accession", repeat=True, optional=True),
        ),
        "wait for this message from the other side, naming these accessions",
        ("expect EVENT HSS07170319", "expect EVENT HSS07170319 within 5", "expect LOGIN"),
        syntax="expect COMMAND [ACCESSION ...] [within SECONDS]",
    ),
    Verb("sleep", (Argument("SECONDS", "seconds"),), "pause", ("sleep 0.5",)),
    Verb(
        "echo",
        (Argument("TEXT", "text", optional=True),),
        "print a line",
        ("echo step 2: the report opens",),
        rest_of_line=True,
    ),
)

SHELL_VERBS: tuple[Verb, ...] = (
    Verb(
        "events",
        (Argument("N", "count", optional=True),),
        "show the last N records again as one table (default 20)",
        ("events", "events 100"),
    ),
    Verb(
        "show",
        (Argument("N", "seq"),),
        "show record N in full: the message verbatim, its fields and every finding",
        ("show 12",),
    ),
    Verb("status", (), "the endpoint: address, TLS, clients, counts, allowed origins", ("status",)),
    Verb("clients", (), "the connected CRIS clients: address, origin, since when", ("clients",)),
    Verb(
        "allow",
        (Argument("ORIGIN", "origin"), Argument("always", "always", optional=True)),
        "let a browser origin connect: this session, or 'always' (saved to the config file)",
        ("allow https://cris.example.nhs.uk", "allow https://cris.example.nhs.uk always"),
    ),
    Verb(
        "help",
        (Argument("COMMAND", "verb", optional=True),),
        "list the commands, or explain one with examples",
        ("help", "help display"),
    ),
    Verb(
        "quit",
        (),
        "leave (closes the connections); Ctrl-D does the same",
        ("quit",),
        aliases=("exit",),
    ),
)


def verbs_by_name(verbs: Iterable[Verb]) -> dict[str, Verb]:
    table: dict[str, Verb] = {}
    for verb in verbs:
        table[verb.name] = verb
        for alias in verb.aliases:
            table[alias] = verb
    return table


def parse_line(line: str, verbs: Mapping[str, Verb]) -> Invocation | None:
    """The invocation a line asks for; None for a blank line or a ``#`` comment.

    Raises :class:`UsageError` saying what was expected when the line is wrong.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    word, _, rest = stripped.partition(" ")
    verb = verbs.get(word.lower())
    if verb is None:
        names = ", ".join(sorted({v.name for v in verbs.values()}))
        raise UsageError(f"unknown command {word!r}; expected one of: {names}")
    rest = rest.strip()
    if verb.rest_of_line:
        if not rest and not all(a.optional for a in verb.arguments):
            raise UsageError(f"{verb.name} needs {verb.arguments[0].name}: {verb.usage}")
        return Invocation(verb, (rest,) if rest else (), rest)
    try:
        args = tuple(shlex.split(rest))
    except ValueError as exc:
        raise UsageError(f"{verb.name}: {exc} (check the quotes)") from None
    low, high = verb.bounds()
    if len(args) < low:
        missing = [a for a in verb.arguments if not a.optional][len(args)]
        plural = "at least one " if missing.repeat else ""
        raise UsageError(f"{verb.name} needs {plural}{missing.name}: {verb.usage}")
    if high is not None and len(args) > high:
        expected = "no arguments" if high == 0 else f"at most {high} argument{'s' * (high > 1)}"
        raise UsageError(f"{verb.name} takes {expected}: {verb.usage}")
    return Invocation(verb, args, rest)


def pacs_message(invocation: Invocation, password: str | None = None) -> Message | Parsed:
    """The message a PACS command line sends: a typed message, or for ``raw`` the
    parsed object (sent as typed). ``login`` needs the password, asked separately."""
    name, args = invocation.verb.name, invocation.args
    # The argument counts are the grammar's; an empty argument ("") would still make a
    # message serialize refuses, or one naming nothing.
    if name in ("display", "fetched", "login") and not all(arg.strip() for arg in args):
        raise UsageError(f"{name}: an empty argument stands for nothing; nothing sent")
    if name == "display":
        return Display(accession=args)
    if name == "fetched":
        return Fetched(accession=args)
    if name == "clear":
        return Clear()
    if name == "logout":
        return Logout()
    if name == "login":
        if not password:
            raise UsageError(
                "login needs a password (it is asked for, or read from "
                "CRIS_CLI_PASSWORD or --password-stdin)"
            )
        return Login(username=args[0], password=password)
    if name == "raw":
        decoded = parse(invocation.text, Direction.PACS_TO_CRIS)
        if isinstance(decoded, Malformed):
            raise UsageError(f"raw needs a JSON object: {decoded.reason}; nothing sent")
        return decoded
    raise UsageError(f"{name} sends nothing")


def number(text: str, usage: str) -> int:
    """A whole-number argument, or a usage error naming what was expected."""
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{usage}: {text!r} is not a number") from None
    if value < 0:
        raise UsageError(f"{usage}: {value} is negative")
    return value


def seconds(text: str, usage: str) -> float:
    """A duration argument in seconds, or a usage error naming what was expected."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{usage}: {text!r} is not a number of seconds") from None
    if value < 0:
        raise UsageError(f"{usage}: {text} is negative")
    return value
