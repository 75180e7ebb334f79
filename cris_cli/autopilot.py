"""A simulated radiologist: realistic CRIS traffic, at a chosen pace.

At each step it looks at the screen CRIS is on and does what a radiologist
there would do next: log in, open the next exam, save or skip it, look at a
historic report, ask for a prefetch. The PACS can interrupt (a DISPLAY
opens another report); the pilot carries on from wherever CRIS now is, and
leaves a report the PACS asked for open a little longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from itertools import cycle

from .messages import Direction
from .records import Record
from .reporting import Action, Screen
from .simulator import Simulator
from .worklist import Worklist

PACS_HOLD = 8.0  # seconds a report the PACS asked for stays open before the pilot moves on


class Autopilot:
    """Drives a simulator's CRIS user at ``rate`` actions per second."""

    def __init__(
        self, simulator: Simulator, worklist: Worklist, rate: float, seed: int = 1
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.simulator = simulator
        self.worklist = worklist
        self.rate = rate
        self.rng = random.Random(seed)
        self._exams = cycle(worklist.exams)
        self._hold_until = 0.0
        self.actions = 0
        simulator.journal.add_listener(self._watch_pacs)

    def _watch_pacs(self, record: Record) -> None:
        if record.direction is Direction.PACS_TO_CRIS:
            self.hold(asyncio.get_running_loop().time())

    def hold(self, loop_time: float) -> None:
        """The PACS just commanded CRIS: keep what it opened for a while."""
        self._hold_until = loop_time + PACS_HOLD

    def next_action(self) -> Action | None:
        """What the radiologist does next, given the screen CRIS is on."""
        state = self.simulator.machine.state
        roll = self.rng.random()
        if state.screen is Screen.LOGGED_OUT:
            return Action("login")
        if state.screen is Screen.WORKLIST:
            exam = next(self._exams)
            if roll < 0.70:
                return Action("open", (exam.accession,))
            history = self.worklist.history_of(exam.patient)
            if roll < 0.80 and history:
                return Action("historic", (self.rng.choice(history).accession,))
            if roll < 0.92:
                upcoming = [next(self._exams).accession for _ in range(self.rng.randint(1, 3))]
                return Action("prefetch", tuple(upcoming))
            if roll < 0.96:
                return Action("logout")
            return None  # reading the worklist
        if state.screen is Screen.HISTORIC:
            return Action("skip")
        if roll < 0.60:
            return Action("save")
        if roll < 0.85:
            return Action("skip")
        if len(state.report) > 1:
            return Action("select", (self.rng.choice(state.report),))
        return Action("prefetch", (next(self._exams).accession,))

    async def fly(self, stop: asyncio.Event) -> None:
        """Act until ``stop`` is set, about ``rate`` times a second (with some jitter)."""
        loop = asyncio.get_running_loop()
        interval = 1 / self.rate
        jitter = interval / 2 if self.rate < 20 else 0.0
        while not stop.is_set():
            if not self.simulator.connected.is_set():
                # Nobody to tell: the radiologist waits for the PACS to be there.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.simulator.connected.wait(), 0.5)
                continue
            if loop.time() >= self._hold_until:
                action = self.next_action()
                if action is not None:
                    await self.simulator.act(action)
                    self.actions += 1
            pause = interval + self.rng.uniform(-jitter, jitter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(pause, 0))
