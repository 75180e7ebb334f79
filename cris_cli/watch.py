"""``cris-cli watch``: stream a running endpoint's records, surviving restarts.

Also what ``serve`` does when another endpoint already owns the port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable

from . import config
from .environment import Environment
from .errors import ConnectionFailed
from .lifecycle import stop_on_signals
from .links import RemoteLink, attach
from .recorder import Recorder
from .records import Record
from .sinks import printer

BACKOFF_START = 0.2
BACKOFF_MAX = 5.0


def record_filter(
    commands: list[str] | None, accessions: list[str] | None
) -> Callable[[Record], bool]:
    """Which records to show: all, or messages with these commands and accessions."""
    wanted = {c.strip().upper() for item in commands or () for c in item.split(",") if c.strip()}
    numbers = set(accessions or ())
    if not wanted and not numbers:
        return lambda record: True

    def keep(record: Record) -> bool:
        if record.kind != "message":
            return False
        if wanted and (record.command or "").upper() not in wanted:
            return False
        message = record.message
        return not numbers or bool(
            message is not None and numbers & set(getattr(message, "accession", ()))
        )

    return keep


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    keep = record_filter(args.command_filter, args.accession)
    return asyncio.run(
        follow(settings.port, env, args.json, keep, history=args.history, redact=settings.redact)
    )


async def follow(
    port: int,
    env: Environment,
    json_output: bool,
    keep: Callable[[Record], bool],
    *,
    history: int = 0,
    redact: bool = False,
    first: RemoteLink | None = None,
    recorder: Recorder | None = None,
) -> int:
    """Show the records of the endpoint on ``port`` until interrupted, reattaching
    with backoff whenever it goes away (and write them to ``recorder``, if given)."""
    stop = asyncio.Event()
    sink, writer = printer(env, json_output=json_output, redact=redact)

    def show(record: Record) -> None:
        if recorder is not None:
            recorder(record)
        if keep(record):
            writer(record)

    backoff = BACKOFF_START
    waiting_said = False
    link = first
    with stop_on_signals(stop):
        while not stop.is_set():
            if link is None:
                try:
                    link = await attach(port)
                except ConnectionFailed as error:
                    env.say(f"cris-cli: {error}")
            if link is None:
                if not waiting_said:
                    env.say(
                        f"cris-cli: waiting for a cris-cli endpoint on port {port} "
                        "(start one with 'cris-cli serve')"
                    )
                    waiting_said = True
                await _sleep_unless(stop, backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            try:
                await link.subscribe(show, history=history)
            except ConnectionFailed:  # it went away between attaching and subscribing
                await link.close()
                link = None
                await _sleep_unless(stop, backoff)
                continue
            env.say(f"cris-cli: watching {link.description}")
            backoff, waiting_said = BACKOFF_START, False
            history = 0  # after a reconnect, only new records
            closed = asyncio.ensure_future(link.wait_closed())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if stop.is_set():
                closed.cancel()
                await link.close()
                break
            if link.dropped:
                env.say(f"cris-cli: {link.dropped} records were dropped (this watch fell behind)")
            env.say("cris-cli: the endpoint went away; reconnecting")
            await link.close()
            link = None
    sink.flush()
    return 0


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
