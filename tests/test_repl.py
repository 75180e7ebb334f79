"""The interactive shell in-process: prompt_toolkit pipe input, a real endpoint
on loopback, and a CRIS test client receiving what the shell sends."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from cris_cli import config, paths
from cris_cli.history import SafeFileHistory
from cris_cli.links import LocalLink, attach, host
from cris_cli.repl import PacsShell
from helpers import keyboard_env, run_cli

SECRET = "pw-never-shown-42"


@dataclass
class Running:
    shell: PacsShell
    keys: PipeInput
    out: io.StringIO
    task: asyncio.Task[int]
    link: LocalLink

    def type(self, text: str) -> None:
        self.keys.send_text(text)

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen; shell output:\n{self.out.getvalue()}")
            await asyncio.sleep(0.02)

    async def shows(self, text: str, timeout: float = 5) -> None:
        await self.until(lambda: text in self.out.getvalue(), f"output {text!r}", timeout)

    async def cris(self, origin: str | None = None) -> ClientConnection:
        client = await connect(
            f"ws://127.0.0.1:{self.link.port}/", origin=Origin(origin) if origin else None
        )
        await self.until(lambda: bool(self.shell.session.clients), "a CRIS client")
        return client


@asynccontextmanager
async def shell_on_endpoint(history: object = None, **changes: object) -> AsyncIterator[Running]:
    settings = config.load(environ={}).replace(port=0, tls=False, **changes)
    out = io.StringIO()
    env = keyboard_env(out)
    link = await host(settings, env)
    with create_pipe_input() as keys:
        shell = PacsShell(
            link,
            settings,
            env,
            input=keys,
            output=DummyOutput(),
            history=history or InMemoryHistory(),
            width=140,
        )  # type: ignore[arg-type]
        task = asyncio.ensure_future(shell.run())
        running = Running(shell, keys, out, task, link)
        await running.shows("type help for the commands")
        try:
            yield running
        finally:
            if not task.done():
                keys.send_text("\x03quit\r")  # Ctrl-C first: drop any half-typed line
            code = await asyncio.wait_for(task, 10)
            assert code == 0


async def received(client: ClientConnection) -> dict[str, object]:
    message: dict[str, object] = json.loads(await asyncio.wait_for(client.recv(), 5))
    return message


async def nothing_received(client: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.recv(), 0.3)


async def test_every_command_reaches_cris_exactly() -> None:
    async with shell_on_endpoint() as running:
        client = await running.cris()
        running.type("display HSS0001 HSS0002\r")
        assert await received(client) == {"command": "DISPLAY", "accession": ["HSS0001", "HSS0002"]}
        running.type("clear\r")
        assert await received(client) == {"command": "CLEAR"}
        running.type("fetched HSS0001\r")
        assert await received(client) == {"command": "FETCHED", "accession": ["HSS0001"]}
        running.type("logout\r")
        assert await received(client) == {"command": "LOGOUT"}
        running.type('raw {"command":"DISPLAY","accession":"HSS0009"}\r')
        assert await asyncio.wait_for(client.recv(), 5) == (
            '{"command":"DISPLAY","accession":"HSS0009"}'
        )
        await running.shows("raw message: warning: accession is a string, not a list")
        running.type(f"login rad1\r{SECRET}\r")
        assert await received(client) == {
            "command": "LOGIN",
            "username": "rad1",
            "password": SECRET,
        }
        await running.shows("→CRIS LOGIN")
        await client.close()
    output = running.out.getvalue()
    assert SECRET not in output
    assert "→CRIS DISPLAY    HSS0001 HSS0002" in output


async def test_events_stream_in_as_rows() -> None:
    async with shell_on_endpoint() as running:
        client = await running.cris()
        await client.send(
            '{"command":"EVENT","accession":["HSS0003"],"domain":"RXH",'
            '"examCode":"XCHES","nhs":"9434765919","chi":"3102501234"}'
        )
        await running.shows("CRIS→ EVENT")
        row = next(line for line in running.out.getvalue().splitlines() if "CRIS→ EVENT" in line)
        assert "HSS0003" in row and "XCHES" in row and "RXH" in row
        assert "9434765919✓" in row and "3102501234✗" in row
        assert "31/02/50 is not a real date of birth" in running.out.getvalue()
        await client.close()


async def test_bad_input_says_what_was_expected_and_sends_nothing() -> None:
    async with shell_on_endpoint() as running:
        client = await running.cris()
        running.type("dispaly A1\r")
        await running.shows("unknown command 'dispaly'; expected one of: allow, clear")
        running.type("display\r")
        await running.shows(
            "display needs at least one ACCESSION: display ACCESSION [ACCESSION ...]"
        )
        running.type("clear now\r")
        await running.shows("clear takes no arguments: clear")
        running.type("raw {not json\r")
        await running.shows("raw needs a JSON object")
        running.type("show 999\r")
        await running.shows("no record #999 is held")
        running.type("events many\r")
        await running.shows("events N: 'many' is not a number")
        await nothing_received(client)
        await client.close()


async def test_sending_without_a_client_says_so() -> None:
    async with shell_on_endpoint() as running:
        running.type("display A1\r")
        await running.shows("no CRIS client is connected; nothing sent")
        running.type("login rad1\r")  # no password is asked when nobody could receive it
        await running.shows("no CRIS client is connected; nothing sent")
        assert "password for" not in running.out.getvalue()


async def test_look_commands() -> None:
    async with shell_on_endpoint() as running:
        client = await running.cris()
        await client.send('{"command":"EVENT","accession":["HSS0004"],"domain":"RXH"}')
        await running.shows("CRIS→ EVENT")
        running.type("events 5\r")
        await running.shows("┃ time ")
        running.type("show 2\r")
        await running.shows('"accession": [')
        await running.shows("no findings: the message follows the protocol")
        running.type("status\r")
        await running.shows("1 of at most 1 (a new one replaces the old)")
        running.type("clients\r")
        await running.shows("none (native client)")
        running.type("help\r")
        await running.shows("display ACCESSION [ACCESSION ...]")
        running.type("help display\r")
        await running.shows("display HSS07170319 HSS07170320")
        await client.close()


async def test_ctrl_c_drops_the_line_and_the_shell_goes_on() -> None:
    async with shell_on_endpoint() as running:
        client = await running.cris()
        running.type("display HALF")
        await asyncio.sleep(0.2)
        running.type("\x03")  # Ctrl-C
        running.type("clear\r")
        assert await received(client) == {"command": "CLEAR"}
        await client.close()


async def test_ctrl_d_leaves_and_closes_connections() -> None:
    async with shell_on_endpoint() as running:
        client = await running.cris()
        running.type("\x04")  # Ctrl-D on an empty line
        assert await asyncio.wait_for(running.task, 5) == 0
        with pytest.raises(Exception, match="1001"):
            await asyncio.wait_for(client.recv(), 5)


async def test_history_keeps_commands_but_never_passwords(tmp_path: Path) -> None:
    file = tmp_path / "history"
    async with shell_on_endpoint(history=SafeFileHistory(str(file))) as running:
        client = await running.cris()
        running.type("display HSS0005\r")
        await received(client)
        running.type(f"login rad1\r{SECRET}\r")
        await received(client)
        running.type(f'raw {{"command":"LOGIN","username":"u","password":"{SECRET}"}}\r')
        await received(client)
        running.type(f"login rad1 {SECRET}\r")  # the password typed after the user, by habit
        await running.shows("login takes at most 1 argument")
        await nothing_received(client)
        # The questions prompt keeps no history: the up arrow cannot bring a password back.
        assert list(running.shell.asker.history.get_strings()) == []
        await client.close()
    stored = file.read_text()
    assert "display HSS0005" in stored
    assert "login rad1" in stored
    assert SECRET not in stored
    assert "raw" not in stored


async def test_completion_offers_accessions_seen_on_the_wire() -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    async with shell_on_endpoint() as running:
        client = await running.cris()
        for accession in ("HSS1", "HSS2", "HSS3"):
            await client.send(
                json.dumps({"command": "EVENT", "accession": [accession], "domain": "RXH"})
            )
        await running.shows("HSS3")
        completer = running.shell.prompt.completer
        assert completer is not None
        found = [
            c.text for c in completer.get_completions(Document("display HSS"), CompleteEvent())
        ]
        assert found == ["HSS3", "HSS2", "HSS1"]
        await client.close()


async def test_a_refused_origin_is_asked_about_and_always_saves_it() -> None:
    async with shell_on_endpoint() as running:
        running.type("disp")  # a half-typed line, put back after the question
        await asyncio.sleep(0.2)
        with pytest.raises(InvalidStatus):
            await connect(
                f"ws://127.0.0.1:{running.link.port}/", origin=Origin("https://cris.example.nhs.uk")
            )
        await running.shows("a browser page from https://cris.example.nhs.uk tried to connect")
        running.type("a\r")
        await running.shows("saved to")
        saved = config.load(environ={})
        assert saved.allow_origins == ["https://cris.example.nhs.uk"]
        assert paths.config_file().exists()
        async with connect(
            f"ws://127.0.0.1:{running.link.port}/", origin=Origin("https://cris.example.nhs.uk")
        ):
            await running.until(lambda: bool(running.shell.session.clients), "the page connects")
        assert running.shell.prompt.default_buffer.text.startswith("disp")


async def test_a_refused_origin_answered_no_stays_refused() -> None:
    async with shell_on_endpoint() as running:
        with pytest.raises(InvalidStatus):
            await connect(
                f"ws://127.0.0.1:{running.link.port}/", origin=Origin("https://evil.example")
            )
        await running.shows("tried to connect")
        running.type("n\r")
        await running.shows("https://evil.example stays refused")
        with pytest.raises(InvalidStatus):
            await connect(
                f"ws://127.0.0.1:{running.link.port}/", origin=Origin("https://evil.example")
            )
        await asyncio.sleep(0.2)
        assert running.out.getvalue().count("tried to connect") == 1  # asked once only


async def test_a_second_shell_attaches_and_drives_the_same_endpoint() -> None:
    async with shell_on_endpoint() as first:
        client = await first.cris()
        remote = await attach(first.link.port)
        assert remote is not None
        settings = config.load(environ={}).replace(port=first.link.port, tls=False)
        out = io.StringIO()
        env = keyboard_env(out)
        with create_pipe_input() as keys:
            second = PacsShell(
                remote,
                settings,
                env,
                input=keys,
                output=DummyOutput(),
                history=InMemoryHistory(),
                width=120,
            )
            task = asyncio.ensure_future(second.run())
            keys.send_text("display VIA-ATTACHED\r")
            assert await received(client) == {"command": "DISPLAY", "accession": ["VIA-ATTACHED"]}
            keys.send_text("quit\r")
            assert await asyncio.wait_for(task, 5) == 0
        assert "→CRIS DISPLAY    VIA-ATTACHED" in out.getvalue()  # its own rows, via control
        await first.shows("→CRIS DISPLAY    VIA-ATTACHED")
        await client.close()


async def run_failing_to_start(opener: Callable[[], Awaitable[object]], typed: str = "") -> None:
    """A shell whose opener fails, with ``typed`` keys pressed at once; it must end."""
    settings = config.load(environ={}).replace(port=0, tls=False)
    env = keyboard_env()
    with create_pipe_input() as keys:
        shell = PacsShell(
            None,
            settings,
            env,
            opener=opener,  # type: ignore[arg-type]
            input=keys,
            output=DummyOutput(),
            history=InMemoryHistory(),
            width=120,
        )
        keys.send_text(typed)
        await asyncio.wait_for(shell.run(), 5)


async def test_a_failure_to_start_leaves_the_shell_with_that_error() -> None:
    from cris_cli.errors import PortInUse

    async def opener() -> tuple[object, list[str]]:
        raise PortInUse("port 1 is already in use by process 7 (someone)")

    with pytest.raises(PortInUse, match="already in use"):
        await run_failing_to_start(opener)


async def test_a_command_typed_while_starting_fails_with_the_start() -> None:
    """A line typed before the endpoint is ready waits for it; when starting fails,
    the shell ends with that error instead of waiting for ever."""
    from cris_cli.errors import ConnectionFailed

    async def opener() -> tuple[object, list[str]]:
        await asyncio.sleep(0.3)
        raise ConnectionFailed("cannot reach the cris-cli endpoint (timed out)")

    with pytest.raises(ConnectionFailed, match="timed out"):
        await run_failing_to_start(opener, typed="status\r")  # it waits for the start


def test_port_in_use_ends_the_console_with_its_exit_code() -> None:
    import socket

    import pexpect

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        child = pexpect.spawn(
            sys.executable,
            ["-m", "cris_cli", "--port", str(port), "--no-tls"],
            encoding="utf-8",
            dimensions=(30, 120),
            timeout=15,
        )
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 8
    assert f"port {port} is already in use by" in (child.before or "")


def test_a_pfx_password_is_asked_before_the_prompt_takes_the_terminal(tmp_path: Path) -> None:
    import os

    import pexpect

    pfx = tmp_path / "endpoint.pfx"
    password = "pfx-s3cret-77"
    exported = run_cli(
        ["cert", "export", "--pfx", str(pfx)], environ={"CRIS_CLI_PFX_PASSWORD": password}
    )
    assert exported.code == 0, exported.err
    environ = {k: v for k, v in os.environ.items() if k != "CRIS_CLI_PFX_PASSWORD"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "cris_cli", "--pfx", str(pfx), "--port", "0"],
        env=environ,
        encoding="utf-8",
        dimensions=(30, 120),
        timeout=15,
    )
    try:
        child.expect(f"password for {pfx}")
        child.send(password + "\r")  # Enter, as a terminal sends it
        child.expect("type help for the commands")
        shown = child.before or ""
        child.send("quit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert "PFX file" in shown and password not in shown
