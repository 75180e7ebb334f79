"""``cris-cli send VERB [ARGS...]``: one command to CRIS Reporting, then exit.

Through the endpoint that owns the port when one runs; otherwise this process
listens there itself, waits for CRIS to connect, sends, and exits. This path
never imports the shell's libraries (prompt_toolkit, rich): it must start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
from dataclasses import dataclass

from . import config
from .codec import Parsed, serialize
from .environment import Environment
from .errors import ExpectationFailed, NoClient, UsageError
from .grammar import PACS_VERBS, Invocation, pacs_message, parse_line, verbs_by_name
from .links import Link, attach, host
from .messages import CRIS_EVENTS, Direction, accessions_of
from .records import Record

EVENT_NAMES = tuple(event.command for event in CRIS_EVENTS)


@dataclass(frozen=True)
class Expectation:
    """An event CRIS should send back: its command, and optionally an accession it names."""

    command: str
    accession: str | None = None

    def matches(self, record: Record) -> bool:
        if record.kind != "message" or record.direction is not Direction.CRIS_TO_PACS:
            return False
        if record.command is None or record.command.upper() != self.command:
            return False
        message = record.message
        return self.accession is None or (
            message is not None and self.accession in accessions_of(message)
        )

    def __str__(self) -> str:
        return f"{self.command} {self.accession}" if self.accession else self.command


def parse_expectation(words: list[str] | None) -> Expectation | None:
    if not words:
        return None
    if len(words) > 2:
        raise UsageError(f"--expect takes COMMAND [ACCESSION], not {len(words)} words")
    command = words[0].upper()
    if command not in EVENT_NAMES:
        raise UsageError(
            f"--expect {words[0]}: CRIS sends {', '.join(EVENT_NAMES)}",
            hint="for example: cris-cli send display ACC1 --expect EVENT ACC1",
        )
    return Expectation(command, words[1] if len(words) == 2 else None)


def command_line(words: list[str]) -> str:
    """The send arguments as one shell-style line for the shared grammar."""
    verb, *rest = words
    if verb.lower() == "raw":
        return " ".join(words)
    return " ".join([verb, shlex.join(rest)]) if rest else verb


def read_password(user: str, args: argparse.Namespace, env: Environment) -> str:
    """The password for ``login``: stdin, the environment, or a hidden prompt. Never argv."""
    if args.password_stdin:
        password = env.stdin.readline().rstrip("\r\n")
    elif env.environ.get(config.PASSWORD_ENV):
        password = env.environ[config.PASSWORD_ENV]
    elif env.stdin_isatty:
        import getpass

        password = getpass.getpass(f"password for {user}: ")
    else:
        raise UsageError(
            "login needs a password and there is no terminal to ask on",
            hint=f"set {config.PASSWORD_ENV}, or pipe it in with --password-stdin",
        )
    if not password:
        raise UsageError("the password is empty; nothing sent")
    return password


def wire_text(invocation: Invocation, args: argparse.Namespace, env: Environment) -> str:
    password = None
    if invocation.verb.name == "login":
        password = read_password(invocation.args[0], args, env)
    message = pacs_message(invocation, password)
    if isinstance(message, Parsed):  # raw: sent exactly as typed, deviations shown
        for deviation in message.deviations:
            env.say(f"cris-cli: raw message: {deviation.severity.value}: {deviation.text}")
        return message.raw
    return serialize(message)


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    invocation = parse_line(command_line(args.words), verbs_by_name(PACS_VERBS))
    if invocation is None:
        raise UsageError("send needs a command, for example: cris-cli send display ACC1")
    expectation = parse_expectation(args.expect)
    text = wire_text(invocation, args, env)
    wait = settings.wait if args.wait is None else args.wait
    timeout = settings.timeout if args.timeout is None else args.timeout
    return asyncio.run(_send(settings, env, text, invocation, expectation, wait, timeout, args))


async def _send(
    settings: config.Settings,
    env: Environment,
    text: str,
    invocation: Invocation,
    expectation: Expectation | None,
    wait: float,
    expect_within: float,
    args: argparse.Namespace,
) -> int:
    link: Link | None = await attach(settings.port)
    if link is None:
        link = await host(settings, env)
        env.say(
            f"cris-cli: no endpoint was running; listening on {link.description.split()[1]} "
            f"for up to {wait:g} s for CRIS Reporting to connect"
        )
    try:
        matched: asyncio.Queue[Record] = asyncio.Queue()
        if expectation is not None:
            await link.subscribe(
                lambda r: matched.put_nowait(r) if expectation.matches(r) else None
            )
        if not await link.wait_for_client(wait):
            raise NoClient(
                f"no CRIS client connected to port {link.port} within {wait:g} s; nothing sent",
                hint="is CRIS Reporting open with CRIS Connect on, pointing at this port? "
                "try 'cris-cli doctor', or a longer --wait",
            )
        sent = await link.send(text)
        if sent.delivered == 0:
            raise NoClient("the CRIS client went away before the message could be sent")
        plural = "s" if sent.delivered != 1 else ""
        env.say(f"cris-cli: sent {invocation.verb.name} to {sent.delivered} CRIS client{plural}")
        if expectation is None:
            return 0
        try:
            record = await asyncio.wait_for(matched.get(), expect_within)
        except TimeoutError:
            raise ExpectationFailed(
                f"no {expectation} from CRIS within {expect_within:g} s",
                hint="CRIS displays a report only from a reporting screen; "
                "a longer --timeout may help",
            ) from None
        from .render import plain_line

        env.stdout.write(record.to_line() if args.json else plain_line(record) + "\n")
        env.stdout.flush()
        return 0
    finally:
        await link.close()
