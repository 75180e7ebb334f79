"""``cris-cli demo``: everything at once, with nothing to set up.

The PACS console hosts an endpoint on a free loopback port (plain ``ws://``:
no certificate to accept), and a simulated CRIS Reporting connects to it,
where a simulated radiologist works through the worklist at a gentle pace.
Without a terminal the demo plays a short tour instead and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from . import config
from .autopilot import Autopilot
from .environment import Environment
from .links import LocalLink, host
from .messages import Direction
from .records import Record
from .reporting import Machine, Options
from .simulator import Dial, Fatal, Simulator
from .sinks import printer
from .worklist import synthetic_worklist

TOUR_DURATION = 10.0
TOUR_DISPLAY_AT = 3.0


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ).replace(
        host="127.0.0.1", port=0, tls=False, max_clients=1
    )
    return asyncio.run(play(settings, args, env))


async def play(
    settings: config.Settings,
    args: argparse.Namespace,
    env: Environment,
    **shell_options: Any,
) -> int:
    """The demo; ``shell_options`` reach the console (tests give it pipe input)."""
    link = await host(settings, env, port=0)
    worklist = synthetic_worklist(seed=args.seed)
    # Real CRIS ignores DISPLAY on its worklist; the demo's CRIS obliges, so that
    # 'display ACC' always shows its round trip.
    options = Options(display_from_worklist=True)
    simulator = Simulator(Dial(f"ws://127.0.0.1:{link.port}/"), Machine(options, worklist))
    pilot = Autopilot(simulator, worklist, rate=1 / max(args.pace, 0.05), seed=args.seed)
    stop = asyncio.Event()
    connecting = asyncio.ensure_future(simulator.run())
    flying = asyncio.ensure_future(pilot.fly(stop))
    try:
        if env.interactive and args.duration is None:
            accessions = [e.accession for e in worklist.exams]
            return await _console(link, settings, env, accessions, shell_options)
        # The last exam: the simulated radiologist will not have it open.
        return await _tour(link, worklist.exams[-1].accession, args, env)
    finally:
        stop.set()
        await flying
        await simulator.stop()
        connecting.cancel()
        # Fatal: another CRIS took the demo's place (it said so); leaving is still fine.
        with contextlib.suppress(asyncio.CancelledError, Fatal):
            await connecting
        await link.close()


async def _console(
    link: LocalLink,
    settings: config.Settings,
    env: Environment,
    accessions: list[str],
    shell_options: dict[str, Any],
) -> int:
    from .repl import PacsShell

    banner = [
        "cris-cli demo: this is the PACS console, and a simulated CRIS Reporting is connected",
        "to it; a simulated radiologist logs in and opens reports every few seconds.",
        f"Try: display {accessions[4]}   (Tab completes accessions; 'help' lists commands)",
    ]
    shell = PacsShell(link, settings, env, banner=banner, **shell_options)
    shell.session.remember(reversed(accessions), "on the demo's worklist")
    return await shell.run()


async def _tour(link: LocalLink, accession: str, args: argparse.Namespace, env: Environment) -> int:
    duration = args.duration if args.duration is not None else TOUR_DURATION
    sink, writer = printer(env, json_output=args.json)
    confirmed, displayed = asyncio.Event(), asyncio.Event()

    def watch(record: Record) -> None:
        writer(record)
        message = record.message
        if (
            displayed.is_set()
            and record.direction is Direction.CRIS_TO_PACS
            and record.command == "EVENT"
            and message is not None
            and accession in getattr(message, "accession", ())
        ):
            confirmed.set()

    await link.subscribe(watch)
    env.say(
        f"cris-cli demo: a PACS endpoint on {link.endpoint.url} and a simulated CRIS "
        f"Reporting connected to it; playing for {duration:g} s"
    )
    await asyncio.sleep(min(TOUR_DISPLAY_AT, duration / 2))
    await link.wait_for_client(5)
    env.say(f"cris-cli demo: the PACS sends: display {accession}")
    from .codec import serialize
    from .messages import Display

    sent_at = asyncio.get_running_loop().time()
    displayed.set()  # only an EVENT after the DISPLAY confirms it
    await link.send(serialize(Display(accession=(accession,))))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(confirmed.wait(), 5)
    if confirmed.is_set():
        took = (asyncio.get_running_loop().time() - sent_at) * 1000
        env.say(f"cris-cli demo: CRIS opened {accession} and sent its EVENT back ({took:.1f} ms)")
    else:
        env.say(f"cris-cli demo: CRIS did not confirm {accession} (see the rows above)")
    remaining = duration - min(TOUR_DISPLAY_AT, duration / 2)
    await asyncio.sleep(max(remaining, 0))
    sink.flush()
    env.say("cris-cli demo: done. On a terminal, 'cris-cli demo' is interactive: try it.")
    return 0
