"""Scripts: command lines run in order, with ``wait``, ``expect``, ``sleep``
and ``echo``, for repeatable integration tests.

``cris-cli < FILE`` and ``cris-cli run FILE`` play the PACS; ``cris-cli
simulate < FILE`` plays CRIS Reporting. A step that fails stops the script
with its line number, what was expected and what arrived instead, and the
exit status of its kind (see the README). Every wait has a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import stat
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from . import config
from .codec import Malformed, Parsed, parse, serialize
from .environment import Environment
from .errors import CrisCliError, ExitCode, ScriptFailed, UsageError
from .expectation import Expectation
from .grammar import (
    CRIS_VERBS,
    PACS_VERBS,
    SCRIPT_VERBS,
    Invocation,
    Verb,
    pacs_message,
    parse_line,
    seconds,
    verbs_by_name,
)
from .messages import CRIS_EVENTS, PACS_COMMANDS, Direction, accessions_of
from .recorder import Recorder
from .records import Record
from .sinks import printer

if TYPE_CHECKING:
    from .links import Link
    from .simulator import Simulator
    from .worklist import Worklist

QUIT = Verb("quit", (), "end the script here", ("quit",), aliases=("exit",))


class Role(ABC):
    """The side a script plays: what it sends, and what it waits for."""

    incoming: Direction
    peer: str
    verbs: tuple[Verb, ...]

    @abstractmethod
    async def subscribe(self, listener: Callable[[Record], None]) -> None: ...

    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    async def perform(self, invocation: Invocation, env: Environment) -> None:
        """Carry out a sending step; raise when it cannot be done."""

    @abstractmethod
    async def close(self) -> None: ...

    def failure(self) -> CrisCliError | None:
        """Why this side can never go on (a connection that retrying cannot mend)."""
        return None


class PacsRole(Role):
    incoming = Direction.CRIS_TO_PACS
    peer = "CRIS client"
    verbs = PACS_VERBS

    def __init__(self, link: Link) -> None:
        self.link = link
        self.clients = 0

    async def subscribe(self, listener: Callable[[Record], None]) -> None:
        def count(record: Record) -> None:
            if record.kind == "connect":
                self.clients += 1
            elif record.kind == "disconnect":
                self.clients = max(self.clients - 1, 0)
            listener(record)

        # Subscribed first, then counted: a client connecting in between is not missed.
        await self.link.subscribe(count)
        self.clients = len(await self.link.clients())

    def connected(self) -> bool:
        return self.clients > 0

    async def perform(self, invocation: Invocation, env: Environment) -> None:
        password = None
        if invocation.verb.name == "login":
            password = env.environ.get(config.PASSWORD_ENV)
            if not password:
                raise UsageError(
                    f"login in a script reads its password from {config.PASSWORD_ENV}, "
                    "which is not set"
                )
        message = pacs_message(invocation, password)
        text = message.raw if isinstance(message, Parsed) else serialize(message)
        sent = await self.link.send(text)
        if sent.nothing_sent:
            raise ScriptFailed(
                sent.nothing_sent,
                exit_code=ExitCode.NO_CLIENT,
                hint=None if sent.clients else "add 'wait client' before it",
            )

    async def close(self) -> None:
        await self.link.close()


class CrisRole(Role):
    incoming = Direction.PACS_TO_CRIS
    peer = "PACS"
    verbs = tuple(v for v in CRIS_VERBS if v.name != "worklist")

    def __init__(self, simulator: Simulator, runner: asyncio.Future[None]) -> None:
        self.simulator = simulator
        self.runner = runner

    async def subscribe(self, listener: Callable[[Record], None]) -> None:
        self.simulator.journal.add_listener(listener)

    def connected(self) -> bool:
        return self.simulator.connected.is_set()

    def failure(self) -> CrisCliError | None:
        return self.simulator.error

    async def perform(self, invocation: Invocation, env: Environment) -> None:
        if not self.connected():
            raise ScriptFailed(
                "not connected to the PACS; nothing sent",
                exit_code=ExitCode.NO_CLIENT,
                hint="add 'wait client' before it",
            )
        if invocation.verb.name == "raw":
            decoded = parse(invocation.text, Direction.CRIS_TO_PACS)
            if isinstance(decoded, Malformed):
                raise UsageError(f"raw needs a JSON object: {decoded.reason}; nothing sent")
            await self.simulator.send_raw(invocation.text)
            return
        from .reporting import Action

        await self.simulator.act(Action(invocation.verb.name, invocation.args))

    async def close(self) -> None:
        await self.simulator.stop()
        self.runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, CrisCliError):
            await self.runner


class Script:
    """Runs command lines for one role, checking each step."""

    def __init__(
        self,
        role: Role,
        env: Environment,
        *,
        json_output: bool,
        step_timeout: float,
        source: str,
        out: Callable[[Record], None],
    ) -> None:
        self.role = role
        self.env = env
        self.json_output = json_output
        self.step_timeout = step_timeout
        self.source = source
        self.out = out
        self.verbs = verbs_by_name((*role.verbs, *SCRIPT_VERBS, QUIT))
        self.unread: deque[Record] = deque()  # what the other side sent since the last step
        self._changed = asyncio.Event()

    def _see(self, record: Record) -> None:
        self.out(record)
        if record.kind == "message" and record.direction is self.role.incoming:
            self.unread.append(record)
        self._changed.set()

    def check(self, number: int, line: str) -> Invocation | None:
        """The parsed step, or a usage error naming the line."""
        try:
            invocation = parse_line(line, self.verbs)
            if invocation is not None:
                self._check_arguments(invocation)
            return invocation
        except UsageError as error:
            raise UsageError(f"{self.source}:{number}: {error}", hint=error.hint) from None

    def _check_arguments(self, invocation: Invocation) -> None:
        name, args = invocation.verb.name, invocation.args
        if name == "wait":
            if args[0].lower() != "client":
                raise UsageError(f"wait takes 'client' [SECONDS], not {args[0]!r}")
            if len(args) > 1:
                seconds(args[1], "wait client SECONDS")
        elif name == "sleep":
            seconds(args[0], "sleep SECONDS")
        elif name == "expect":
            self.expectation(invocation)
        elif (
            name == "login"
            and self.role.incoming is Direction.CRIS_TO_PACS  # the PACS sends a password
            and not self.env.environ.get(config.PASSWORD_ENV)
        ):
            raise UsageError(
                f"login in a script reads its password from {config.PASSWORD_ENV}, which is not set"
            )

    def expectation(self, invocation: Invocation) -> Expectation:
        words = list(invocation.args)
        within = self.step_timeout
        if len(words) >= 2 and words[-2].lower() == "within":
            within = seconds(words[-1], "expect ... within SECONDS")
            words = words[:-2]
        if not words:
            raise UsageError(
                "expect needs a COMMAND: expect COMMAND [ACCESSION ...] [within SECONDS]"
            )
        command = words[0].upper()
        known = [
            t.command
            for t in (
                CRIS_EVENTS if self.role.incoming is Direction.CRIS_TO_PACS else PACS_COMMANDS
            )
        ]
        if command not in known:
            raise UsageError(f"expect {words[0]}: the {self.role.peer} sends {', '.join(known)}")
        return Expectation(command, tuple(words[1:]), self.role.incoming, within)

    async def run(self, lines: AsyncIterator[tuple[int, str]]) -> int:
        await self.role.subscribe(self._see)
        async for number, line in lines:
            invocation = self.check(number, line)
            if invocation is None:
                continue
            if invocation.verb.name == "quit":
                break
            try:
                await self.step(invocation)
            except ScriptFailed as failure:
                raise ScriptFailed(
                    f"{self.source}:{number}: {failure}",
                    exit_code=failure.exit_code,
                    hint=failure.hint,
                ) from None
            except CrisCliError as error:
                raise type(error)(f"{self.source}:{number}: {error}", hint=error.hint) from None
        return 0

    async def step(self, invocation: Invocation) -> None:
        self._check_role()
        name, args = invocation.verb.name, invocation.args
        if name == "wait":
            within = seconds(args[1], "wait") if len(args) > 1 else self.step_timeout
            if not await self._until(self.role.connected, within):
                raise ScriptFailed(
                    f"expected a {self.role.peer} within {within:g} s; none connected",
                    exit_code=ExitCode.NO_CLIENT,
                )
        elif name == "expect":
            await self._expect(self.expectation(invocation))
        elif name == "sleep":
            await asyncio.sleep(seconds(args[0], "sleep"))
        elif name == "echo":
            self._echo(invocation.text)
        else:
            self.unread.clear()  # only answers to this step count for the next expect
            await self.role.perform(invocation, self.env)

    async def _expect(self, expected: Expectation) -> None:
        found: list[Record] = []

        def arrived() -> bool:
            while self.unread:
                record = self.unread.popleft()
                if expected.matches(record):
                    return True
                found.append(record)
            return False

        if not await self._until(arrived, expected.within):
            seen = (
                ", ".join(
                    f"{r.command or 'malformed'} {' '.join(_accessions(r))} (#{r.seq})".replace(
                        "  ", " "
                    )
                    for r in found[-5:]
                )
                or "nothing"
            )
            raise ScriptFailed(
                f"expected {expected} within {expected.within:g} s; arrived instead: {seen}",
                exit_code=ExitCode.TIMEOUT,
            )

    def _check_role(self) -> None:
        failure = self.role.failure()
        if failure is not None:
            raise failure

    async def _until(self, ready: Callable[[], bool], within: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not ready():
            self._check_role()
            left = deadline - loop.time()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return True

    def _echo(self, text: str) -> None:
        if self.json_output:
            echo = {"kind": "echo", "text": text}  # as compact as every other NDJSON line
            self.env.stdout.write(
                json.dumps(echo, ensure_ascii=False, separators=(",", ":")) + "\n"
            )
        else:
            self.env.stdout.write(text + "\n")
        self.env.stdout.flush()


def _accessions(record: Record) -> tuple[str, ...]:
    message = record.message
    return accessions_of(message) if message is not None else ()


async def read_lines(stream: IO[str]) -> AsyncIterator[tuple[int, str]]:
    """Numbered lines of a stream as they come (a pipe may deliver them slowly)."""
    loop = asyncio.get_running_loop()
    number = 0
    while True:
        line = await loop.run_in_executor(None, stream.readline)
        if not line:
            return
        number += 1
        yield number, line.rstrip("\r\n")


async def _listed(lines: Iterable[tuple[int, str]]) -> AsyncIterator[tuple[int, str]]:
    for item in lines:
        yield item


def _numbered(text: str) -> list[tuple[int, str]]:
    return [(n, line.removesuffix("\r")) for n, line in enumerate(text.split("\n"), 1)]


def stdin_lines(
    env: Environment,
) -> tuple[AsyncIterator[tuple[int, str]], list[tuple[int, str]] | None]:
    """The script on stdin, and what to check before it runs: all of it when stdin
    is a file (``< FILE``); nothing when it is a pipe, which runs as it is read."""
    try:
        regular = stat.S_ISREG(os.fstat(env.stdin.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):  # not a real stream (in-process use)
        regular = False
    if not regular:
        return read_lines(env.stdin), None
    try:
        lines = _numbered(env.stdin.read())
    except UnicodeDecodeError as error:
        raise UsageError(f"cannot read the script on stdin: {error}") from None
    return _listed(lines), lines


async def play(
    role: Role,
    lines: AsyncIterator[tuple[int, str]],
    *,
    source: str,
    args: argparse.Namespace,
    settings: config.Settings,
    env: Environment,
    local: str,
    precheck: list[tuple[int, str]] | None = None,
) -> int:
    """Run a script for ``role``, printing and recording every record."""
    sink, writer = printer(env, json_output=args.json, redact=settings.redact, local=local)
    recorder = Recorder(Path(args.record)) if getattr(args, "record", None) else None

    def out(record: Record) -> None:
        writer(record)
        if recorder is not None:
            recorder(record)

    script = Script(
        role, env, json_output=args.json, step_timeout=settings.step_timeout, source=source, out=out
    )
    try:
        for number, line in precheck or ():
            script.check(number, line)  # a file is checked whole before anything is sent
        return await script.run(lines)
    finally:
        await role.close()
        sink.flush()
        if recorder is not None:
            recorder.close()


def _as_pacs(
    args: argparse.Namespace,
    env: Environment,
    lines: AsyncIterator[tuple[int, str]],
    source: str,
    precheck: list[tuple[int, str]] | None = None,
) -> int:
    settings = config.from_args(args, env.environ)

    async def main() -> int:
        from .links import open_link

        link = await open_link(settings, env)
        return await play(
            PacsRole(link),
            lines,
            source=source,
            args=args,
            settings=settings,
            env=env,
            local="pacs",
            precheck=precheck,
        )

    return asyncio.run(main())


def run_pacs_script(args: argparse.Namespace, env: Environment) -> int:
    """``cris-cli < FILE``: the PACS side, command lines from stdin."""
    lines, precheck = stdin_lines(env)
    return _as_pacs(args, env, lines, "stdin", precheck=precheck)


def run_file(args: argparse.Namespace, env: Environment) -> int:
    """``cris-cli run FILE``: the same, from a file checked whole before it runs."""
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"cannot read {args.file}: {reason}") from None
    lines = _numbered(text)
    return _as_pacs(args, env, _listed(lines), args.file, precheck=lines)


def run_simulator_script(
    simulator: Simulator,
    worklist: Worklist,
    args: argparse.Namespace,
    settings: config.Settings,
    env: Environment,
) -> int:
    """``cris-cli simulate < FILE``: CRIS Reporting's side, command lines from stdin."""

    lines, precheck = stdin_lines(env)

    async def main() -> int:
        runner = asyncio.ensure_future(simulator.run())
        return await play(
            CrisRole(simulator, runner),
            lines,
            source="stdin",
            args=args,
            settings=settings,
            env=env,
            local="cris",
            precheck=precheck,
        )

    return asyncio.run(main())
