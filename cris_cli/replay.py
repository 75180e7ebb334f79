"""``cris-cli replay FILE``: play one side of a record again, against a live peer.

``--side cris`` (the default) replays what CRIS Reporting sent, dialling a
PACS endpoint as the simulator does; ``--side pacs`` replays what the PACS
sent, to the CRIS client of the endpoint on the port. The original gaps
between messages are kept, divided by ``--speed``. Passwords were masked in
the record: a PACS LOGIN is replayed with ``CRIS_CLI_PASSWORD``, or skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from . import config
from .environment import Environment
from .errors import CrisCliError, NoClient, UsageError
from .messages import MASK, Direction
from .records import Record, parse_time
from .sinks import printer

Send = Callable[[str], Awaitable[bool]]
Close = Callable[[], Awaitable[None]]
Writer = Callable[[Record], None]

MAX_GAP = 60.0  # a long pause in the original is not worth waiting for again


@dataclass(frozen=True)
class Step:
    """One message to send again, ``delay`` seconds after the one before."""

    delay: float
    text: str
    line: int


def steps(path: Path, direction: Direction, speed: float) -> list[Step]:
    """The messages ``direction``'s side sent in a record file, with scaled gaps."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    found: list[Step] = []
    previous: float | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            kind, sent_by, raw = data["kind"], data["direction"], data["raw"]
            moment = parse_time(data["time"])
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{path}:{number}: not a cris-cli record line") from None
        if kind != "message" or sent_by != direction.value or not isinstance(raw, str):
            continue
        gap = 0.0 if previous is None or speed <= 0 else min((moment - previous) / speed, MAX_GAP)
        previous = moment
        found.append(Step(max(gap, 0.0), raw, number))
    return found


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    direction = Direction.from_sender(args.side)
    plan = steps(Path(args.file), direction, args.speed)
    if not plan:
        raise UsageError(f"{args.file} holds no message sent by {args.side.upper()}")
    return asyncio.run(_replay(plan, direction, args, settings, env))


async def _replay(
    plan: list[Step],
    direction: Direction,
    args: argparse.Namespace,
    settings: config.Settings,
    env: Environment,
) -> int:
    sink, writer = printer(env, json_output=args.json, local=direction.sender)
    send, close = await (
        _as_cris(args, settings, env, writer)
        if direction is Direction.CRIS_TO_PACS
        else _as_pacs(args, settings, env, writer)
    )
    sent = skipped = 0
    try:
        for step in plan:
            await asyncio.sleep(step.delay)
            text = _with_password(step.text, env)
            if text is None:
                env.say(
                    f"cris-cli: line {step.line}: a LOGIN with a masked password; skipped "
                    f"(set {config.PASSWORD_ENV} to replay it)"
                )
                skipped += 1
                continue
            if not await send(text):
                raise NoClient(f"line {step.line}: nobody to send to; the replay stops here")
            sent += 1
        await asyncio.sleep(0.2)  # the answers to the last message
    finally:
        await close()
        sink.flush()
    env.say(
        f"cris-cli: replayed {sent} message{'s' * (sent != 1)}"
        + (f", skipped {skipped}" if skipped else "")
    )
    return 0


_MASKED_PASSWORD = re.compile(r'("(?i:password)"\s*:\s*)"' + re.escape(MASK) + '"')


def _with_password(text: str, env: Environment) -> str | None:
    """The text to send again: a masked password replaced, or None if none is at hand."""
    if not _MASKED_PASSWORD.search(text):
        return text
    password = env.environ.get(config.PASSWORD_ENV)
    if not password:
        return None
    return _MASKED_PASSWORD.sub(lambda m: m.group(1) + json.dumps(password), text)


async def _as_cris(
    args: argparse.Namespace, settings: config.Settings, env: Environment, writer: Writer
) -> tuple[Send, Close]:
    from .reporting import Machine, Options
    from .simulate import dial_from
    from .simulator import Simulator
    from .worklist import synthetic_worklist

    # The machine only answers what the PACS sends; the replayed messages go out raw.
    simulator = Simulator(dial_from(args, settings, env), Machine(Options(), synthetic_worklist()))
    simulator.journal.add_listener(writer)
    running = asyncio.ensure_future(simulator.run())
    connecting = asyncio.ensure_future(simulator.connected.wait())
    # Connected, or given up for good (a fatal error ends the run), or out of time.
    await asyncio.wait(
        (connecting, running), timeout=args.wait, return_when=asyncio.FIRST_COMPLETED
    )
    connecting.cancel()
    if not simulator.connected.is_set():
        await simulator.stop()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError, CrisCliError):
            await running
        if simulator.error is not None:  # retrying could not help: say why
            raise simulator.error
        raise NoClient(
            f"could not connect to the PACS at {simulator.dial.url} within {args.wait:g} s"
        )

    async def close() -> None:
        await simulator.stop()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    return simulator.send_raw, close


async def _as_pacs(
    args: argparse.Namespace, settings: config.Settings, env: Environment, writer: Writer
) -> tuple[Send, Close]:
    from .links import open_link

    link = await open_link(settings, env)
    await link.subscribe(writer)
    if not await link.wait_for_client(args.wait):
        await link.close()
        raise NoClient(f"no CRIS client connected to port {link.port} within {args.wait:g} s")

    async def send(text: str) -> bool:
        return (await link.send(text)).delivered > 0

    return send, link.close
