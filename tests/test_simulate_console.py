"""The simulated CRIS Reporting's console in-process: prompt_toolkit pipe input,
a real endpoint on loopback, and the simulator dialling it."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from websockets.asyncio.client import connect

from cris_cli import config
from cris_cli.endpoint import Endpoint
from cris_cli.reporting import Machine, Options
from cris_cli.simulate import CrisShell
from cris_cli.simulator import Dial, Simulator
from cris_cli.worklist import synthetic_worklist
from endpoints import Watcher, options
from helpers import keyboard_env

WORKLIST = synthetic_worklist(seed=3)
A = WORKLIST.exams[0].accession


@dataclass
class Console:
    shell: CrisShell
    keys: PipeInput
    out: io.StringIO
    task: asyncio.Task[int]
    endpoint: Endpoint
    watcher: Watcher

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.endpoint.port}/"

    def type(self, text: str) -> None:
        self.keys.send_text(text)

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what} did not happen; console output:\n{self.out.getvalue()}"
                )
            await asyncio.sleep(0.02)

    async def shows(self, text: str, timeout: float = 5) -> None:
        await self.until(lambda: text in self.out.getvalue(), f"output {text!r}", timeout)

    def toolbar(self) -> str:
        return "".join(text for _, text in self.shell._toolbar())


@asynccontextmanager
async def cris_console() -> AsyncIterator[Console]:
    settings = config.load(environ={})
    out = io.StringIO()
    env = keyboard_env(out)
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        simulator = Simulator(
            Dial(f"ws://127.0.0.1:{endpoint.port}/"),
            Machine(Options(), WORKLIST),
            backoff=(0.1, 0.5),
        )
        with create_pipe_input() as keys:
            shell = CrisShell(
                simulator,
                WORKLIST,
                settings,
                env,
                input=keys,
                output=DummyOutput(),
                history=InMemoryHistory(),
                width=140,
            )
            task = asyncio.ensure_future(shell.run())
            console = Console(shell, keys, out, task, endpoint, watcher)
            await console.shows("type help for the commands")
            await watcher.wait_for(lambda r: r.kind == "connect")
            try:
                yield console
            finally:
                if not task.done():
                    keys.send_text("\x03quit\r")  # Ctrl-C first: drop any half-typed line
                await asyncio.wait_for(task, 10)


async def test_the_toolbar_counts_what_cris_sent_as_out() -> None:
    async with cris_console() as console:
        await console.until(lambda: bool(console.shell.session.clients), "the connect record")
        assert "connected to the PACS" in console.toolbar()
        console.type(f"login\ropen {A}\rsave\r")
        await console.watcher.wait_for(lambda r: r.command == "RELEASE")
        await console.until(lambda: console.shell.session.sent == 4, "four messages out")
        assert console.shell.session.received == 0
        assert "in 0 · out 4" in console.toolbar()
        console.endpoint.send('{"command":"CLEAR"}')
        await console.until(lambda: console.shell.session.received == 1, "one message in")
        assert "in 1 · out 4" in console.toolbar()


async def test_help_describes_status_and_clients_from_the_cris_side() -> None:
    async with cris_console() as console:
        console.type("help\r")
        await console.shows("help COMMAND explains one")
        shown = console.out.getvalue()
        assert "allowed origins" not in shown
        assert "the connected CRIS clients" not in shown
        assert "this CRIS: the PACS it dials" in shown
        assert "the connection to the PACS" in shown
        console.type("help clients\r")
        await console.shows("its address, the origin sent, since when")


async def test_the_console_leaves_when_another_cris_takes_its_place() -> None:
    async with cris_console() as console:
        async with connect(console.url) as newer:
            assert await asyncio.wait_for(console.task, 10) == 6
            assert newer.state.name == "OPEN"  # left in peace: the console did not fight back
        await console.shows(
            "another CRIS client took this one's place on the PACS (4001); leaving\n"
            "  hint: the endpoint's --max-clients N lets more stay connected"
        )
        assert console.endpoint.counts.connections == 2
