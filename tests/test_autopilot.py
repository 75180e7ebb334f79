"""The simulated radiologist: what it does on each screen, and a session of it."""

from __future__ import annotations

import asyncio
from collections import Counter

from cris_cli.autopilot import Autopilot
from cris_cli.codec import parse
from cris_cli.messages import Direction
from cris_cli.reporting import Machine, Options, Screen, State
from cris_cli.simulator import Dial, Simulator
from cris_cli.worklist import synthetic_worklist

WORKLIST = synthetic_worklist(seed=9)


def pilot(state: State, seed: int = 1) -> Autopilot:
    simulator = Simulator(Dial("ws://127.0.0.1:1/"), Machine(Options(), WORKLIST, state))
    return Autopilot(simulator, WORKLIST, rate=10, seed=seed)


def test_logged_out_it_logs_in() -> None:
    action = pilot(State()).next_action()
    assert action is not None and action.verb == "login"


def test_on_the_worklist_it_mostly_opens_the_next_exam() -> None:
    verbs: Counter[str] = Counter()
    radiologist = pilot(State(Screen.WORKLIST, "rad1"))
    for _ in range(300):  # the screen stays the worklist: only the choice is tested
        action = radiologist.next_action()
        verbs[action.verb if action else "read"] += 1
    assert verbs["open"] > 150
    assert {"historic", "prefetch", "logout"} <= set(verbs)


def test_in_a_report_it_saves_or_skips() -> None:
    accession = WORKLIST.exams[0].accession
    verbs: Counter[str] = Counter()
    for seed in range(200):
        action = pilot(State(Screen.REPORT, "rad1", (accession,)), seed).next_action()
        assert action is not None
        verbs[action.verb] += 1
    assert verbs["save"] > verbs["skip"] > 0


def test_a_historic_report_is_closed() -> None:
    action = pilot(State(Screen.HISTORIC, "rad1", ("H1",))).next_action()
    assert action is not None and action.verb == "skip"


async def test_a_session_sends_only_valid_events() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    received: list[str] = []

    async def pacs(connection: ServerConnection) -> None:
        async for text in connection:
            received.append(str(text))

    async with serve(pacs, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        simulator = Simulator(Dial(f"ws://127.0.0.1:{port}/"), Machine(Options(), WORKLIST))
        autopilot = Autopilot(simulator, WORKLIST, rate=200, seed=4)
        stop = asyncio.Event()
        running = asyncio.ensure_future(simulator.run())
        flying = asyncio.ensure_future(autopilot.fly(stop))
        await asyncio.sleep(1.0)
        stop.set()
        await flying
        await simulator.stop()
        await running
    assert len(received) > 50
    commands: Counter[str] = Counter()
    for text in received:
        decoded = parse(text, Direction.CRIS_TO_PACS)
        assert decoded.valid, (text, decoded.deviations)
        commands[decoded.message.command] += 1
    assert received and parse(received[0], Direction.CRIS_TO_PACS).message.command == "LOGIN"  # type: ignore[union-attr]
    assert {"LOGIN", "EVENT", "COMMIT", "RELEASE"} <= set(commands)
