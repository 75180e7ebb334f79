"""``cris-cli send VERB [ARGS...]``: one command to CRIS Reporting, then exit.

Through the endpoint that owns the port when one runs (a blocking control
session: no event loop to start); otherwise this process listens there
itself, waits for CRIS to connect, sends, and exits. This path never imports
the shell's libraries (prompt_toolkit, rich): it must start fast.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass

from . import config, runtime
from .blocking import BlockingControl
from .codec import Parsed, serialize
from .delivery import Sent
from .environment import Environment
from .errors import ConnectionFailed, ExpectationFailed, NoClient, UsageError
from .expectation import Expectation
from .grammar import PACS_VERBS, Invocation, pacs_message, parse_line, verbs_by_name
from .messages import CRIS_EVENTS, Direction
from .records import Record

EVENT_NAMES = tuple(event.command for event in CRIS_EVENTS)


def parse_expectation(words: list[str] | None, within: float) -> Expectation | None:
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
    return Expectation(command, tuple(words[1:]), Direction.CRIS_TO_PACS, within)


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
    job = Job(
        text=wire_text(invocation, args, env),
        verb=invocation.verb.name,
        expectation=parse_expectation(
            args.expect, settings.timeout if args.timeout is None else args.timeout
        ),
        wait=settings.wait if args.wait is None else args.wait,
        json_output=args.json,
    )
    info = runtime.find(settings.port) if settings.port else None
    if info is not None:
        try:
            control = BlockingControl.connect(info)
        except ConnectionFailed:
            if not runtime.discard_if_unreachable(info):
                raise
        else:
            with control:
                return _through_endpoint(control, job, env)
    import asyncio  # only when hosting: the path through an endpoint needs no event loop

    return asyncio.run(_as_endpoint(settings, job, env))


@dataclass(frozen=True)
class Job:
    """What one ``send`` does: the text, and what to wait for."""

    text: str
    verb: str
    expectation: Expectation | None
    wait: float
    json_output: bool

    def no_client(self, port: int) -> NoClient:
        return NoClient(
            f"no CRIS client connected to port {port} within {self.wait:g} s; nothing sent",
            hint="is CRIS Reporting open with CRIS Connect on, pointing at this port? "
            "try 'cris-cli doctor', or a longer --wait",
        )

    def sent(self, sent: Sent, env: Environment) -> None:
        if sent.nothing_sent:
            reason = (
                sent.nothing_sent
                if sent.clients
                else "the CRIS client went away before the message could be sent"
            )
            raise NoClient(reason)
        plural = "s" if sent.delivered != 1 else ""
        env.say(f"cris-cli: sent {self.verb} to {sent.delivered} CRIS client{plural}")

    def met(self, record: Record | None, env: Environment) -> int:
        if record is None:
            assert self.expectation is not None
            raise ExpectationFailed(
                f"no {self.expectation} from CRIS within {self.expectation.within:g} s",
                hint="CRIS displays a report only from a reporting screen; "
                "a longer --timeout may help",
            )
        if self.json_output:
            env.stdout.write(record.to_line())
        else:
            from .render import plain_line

            env.stdout.write(plain_line(record) + "\n")
        env.stdout.flush()
        return 0


def _through_endpoint(control: BlockingControl, job: Job, env: Environment) -> int:
    """Send through the endpoint another process runs (no event loop needed)."""
    if not control.wait_for_client(job.wait):
        raise job.no_client(control.info.port)
    if job.expectation is not None:
        control.subscribe()
        control.records.clear()  # only what CRIS sends after our command counts
    job.sent(control.send(job.text), env)
    if job.expectation is None:
        return 0
    return job.met(control.wait_for(job.expectation.matches, job.expectation.within), env)


async def _as_endpoint(settings: config.Settings, job: Job, env: Environment) -> int:
    """No endpoint runs on the port: be one until CRIS connects and the job is done."""
    import asyncio

    from .links import host

    link = await host(settings, env)
    env.say(
        f"cris-cli: no endpoint was running; listening on {link.endpoint.url} "
        f"for up to {job.wait:g} s for CRIS Reporting to connect"
    )
    try:
        if not await link.wait_for_client(job.wait):
            raise job.no_client(link.port)
        matched: asyncio.Queue[Record] = asyncio.Queue()
        expectation = job.expectation
        if expectation is not None:
            await link.subscribe(
                lambda r: matched.put_nowait(r) if expectation.matches(r) else None
            )
        job.sent(await link.send(job.text), env)
        if expectation is None:
            return 0
        try:
            record = await asyncio.wait_for(matched.get(), expectation.within)
        except TimeoutError:
            return job.met(None, env)
        return job.met(record, env)
    finally:
        await link.close()
