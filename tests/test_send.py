"""``cris-cli send`` as real processes against a CRIS test client on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
from websockets.asyncio.client import ClientConnection, connect

from cris_cli import tls, trust
from cris_cli.errors import ExitCode
from processes import Running, free_port, run_async

PASSWORD = "correct horse 7"


def generated_trust() -> ssl.SSLContext:
    return trust.client_context(cafile=tls.default_files().cert)


@asynccontextmanager
async def cris_client(port: int, *, secure: bool = True) -> AsyncIterator[ClientConnection]:
    """A CRIS stand-in that connects as soon as the endpoint listens (bounded retries)."""
    scheme = "wss" if secure else "ws"
    for _ in range(200):
        try:
            context = generated_trust() if secure else None
            async with connect(f"{scheme}://localhost:{port}/", ssl=context) as client:
                yield client
                return
        except (OSError, ssl.SSLError):
            await asyncio.sleep(0.05)
    raise AssertionError(f"no endpoint came up on port {port}")


async def answer_display(client: ClientConnection) -> list[str]:
    """Receive commands; answer each DISPLAY with the EVENT CRIS would send."""
    received = []
    async for text in client:
        assert isinstance(text, str)
        received.append(text)
        message = json.loads(text)
        if message["command"] == "DISPLAY":
            await client.send(
                json.dumps(
                    {"command": "EVENT", "accession": message["accession"][:1], "domain": "RXH"}
                )
            )
    return received


def serve_process(*extra: str) -> Running:
    return Running(["serve", "--port", "0", *extra])


async def test_send_through_a_running_endpoint_delivers_exactly_the_display() -> None:
    with serve_process() as serve:
        port = serve.port()
        async with cris_client(port) as client:
            code, out, err = await run_async(["send", "--port", str(port), "display", "A1", "A2"])
            assert code == 0, err
            assert await asyncio.wait_for(client.recv(), 5) == (
                '{"command":"DISPLAY","accession":["A1","A2"]}'
            )
        assert err.strip() == "cris-cli: sent display to 1 CRIS client"
        assert out == ""
        serve.wait_for(r"→CRIS DISPLAY accession=A1 A2 \(delivered to 1\)", stream="out")
        assert serve.stop() == 0


async def test_every_verb_goes_out_as_specified() -> None:
    expected = {
        ("clear",): '{"command":"CLEAR"}',
        ("logout",): '{"command":"LOGOUT"}',
        ("fetched", "A9"): '{"command":"FETCHED","accession":["A9"]}',
        ("raw", '{"command": "CLEAR",  "x": 1}'): '{"command": "CLEAR",  "x": 1}',
    }
    with serve_process() as serve:
        port = serve.port()
        async with cris_client(port) as client:
            for words, wire in expected.items():
                code, _, err = await run_async(["send", "--port", str(port), *words])
                assert code == 0, err
                assert await asyncio.wait_for(client.recv(), 5) == wire
                if words[0] == "raw":
                    assert "raw message: warning: CLEAR does not use x" not in err
                    assert "unknown field 'x'" in err


async def test_send_without_an_endpoint_waits_for_a_client_then_delivers() -> None:
    port = free_port()
    sending = asyncio.ensure_future(
        run_async(["send", "--port", str(port), "--no-tls", "--wait", "20", "clear"])
    )
    async with cris_client(port, secure=False) as client:
        assert await asyncio.wait_for(client.recv(), 20) == '{"command":"CLEAR"}'
    code, _, err = await sending
    assert code == 0, err
    assert f"no endpoint was running; listening on ws://localhost:{port}/" in err
    assert "sent clear to 1 CRIS client" in err


async def test_send_hosting_with_tls_and_expect() -> None:
    port = free_port()
    sending = asyncio.ensure_future(
        run_async(
            ["send", "--port", str(port), "display", "ACC7", "--expect", "EVENT", "ACC7", "--json"]
        )
    )
    for _ in range(200):  # the certificate is made by the send process on first use
        if tls.default_files().cert.exists():
            break
        await asyncio.sleep(0.05)
    async with cris_client(port) as client:
        await asyncio.wait_for(answer_display(client), 20)
    code, out, err = await sending
    assert code == 0, err
    record = json.loads(out)
    assert record["command"] == "EVENT"
    assert record["fields"]["accession"] == ["ACC7"]
    assert record["direction"] == "cris-to-pacs"


async def test_no_client_at_all_exits_with_no_client_code() -> None:
    port = free_port()
    code, _, err = await run_async(
        ["send", "--port", str(port), "--no-tls", "--wait", "1", "clear"]
    )
    assert code == ExitCode.NO_CLIENT == 4
    assert f"no CRIS client connected to port {port} within 1 s; nothing sent" in err
    assert "hint:" in err


async def test_expect_met_through_a_running_endpoint() -> None:
    with serve_process() as serve:
        port = serve.port()
        async with cris_client(port) as client:
            answering = asyncio.ensure_future(answer_display(client))
            code, out, err = await run_async(
                ["send", "--port", str(port), "display", "A1", "--expect", "event", "A1"]
            )
            answering.cancel()
        assert code == 0, err
        assert "CRIS→ EVENT accession=A1 domain=RXH" in out


async def test_expect_not_met_exits_with_timeout_code() -> None:
    with serve_process() as serve:
        port = serve.port()
        async with cris_client(port):
            code, _, err = await run_async(
                [
                    "send",
                    "--port",
                    str(port),
                    "display",
                    "A1",
                    "--expect",
                    "EVENT",
                    "A1",
                    "--timeout",
                    "0.5",
                ]
            )
        assert code == ExitCode.TIMEOUT == 5
        assert "no EVENT A1 from CRIS within 0.5 s" in err


async def test_usage_errors_send_nothing() -> None:
    cases = {
        ("frobnicate",): "unknown command 'frobnicate'; expected one of:",
        ("display",): "display needs at least one ACCESSION: display ACCESSION [ACCESSION ...]",
        ("clear", "now"): "clear takes no arguments: clear",
        ("display", "A1", "--expect", "DISPLAY"): "--expect DISPLAY: CRIS sends EVENT",
        ("raw", "{nope"): "raw needs a JSON object",
        ("login", "rad1"): "login needs a password and there is no terminal to ask on",
        ("display", "A1", ""): "display: an empty argument stands for nothing; nothing sent",
        ("fetched", " "): "fetched: an empty argument stands for nothing; nothing sent",
    }
    for words, message in cases.items():
        code, out, err = await run_async(["send", "--wait", "0", *words])
        assert code == ExitCode.USAGE, (words, err)
        assert message in err, (words, err)
        assert out == ""


async def test_connection_failure_to_a_broken_endpoint() -> None:
    # A runtime file naming a live endpoint whose token is wrong: refused, exit 6.
    with serve_process() as serve:
        port = serve.port()
        from cris_cli import runtime

        info = runtime.find(port)
        assert info is not None
        runtime.publish(runtime.RuntimeInfo(**(vars(info) | {"token": "wrong"})))
        code, _, err = await run_async(["send", "--port", str(port), "--wait", "0", "clear"])
        assert code == ExitCode.CONNECTION == 6
        assert "refused the control connection (HTTP 401)" in err


async def test_login_password_never_in_argv_output_or_files(isolated_dirs: Path) -> None:
    with serve_process("--json") as serve:
        port = serve.port()
        async with cris_client(port) as client:
            sending = asyncio.ensure_future(
                run_async(
                    ["send", "--port", str(port), "login", "rad1", "--password-stdin"],
                    stdin=PASSWORD + "\n",
                )
            )
            arguments = []
            for _ in range(100):  # look at every process's argv while it runs
                for process in psutil.process_iter(["cmdline"]):
                    arguments.append(" ".join(process.info["cmdline"] or ()))
                if sending.done():
                    break
                await asyncio.sleep(0.02)
            code, out, err = await sending
            assert code == 0, err
            login = json.loads(await asyncio.wait_for(client.recv(), 5))
            assert login == {"command": "LOGIN", "username": "rad1", "password": PASSWORD}
            code, out2, err2 = await run_async(
                ["send", "--port", str(port), "login", "rad2"], env={"CRIS_CLI_PASSWORD": PASSWORD}
            )
            assert code == 0, err2
            await asyncio.wait_for(client.recv(), 5)
        serve.wait_for('"username":"rad2"', stream="out")
        assert serve.stop() == 0
    assert all(PASSWORD not in argv for argv in arguments)
    for text in (out, err, out2, err2, serve.stdout, serve.stderr):
        assert PASSWORD not in text
    assert '"password":"********"' in serve.stdout
    for root, _, files in os.walk(isolated_dirs):
        for name in files:
            assert PASSWORD.encode() not in (Path(root) / name).read_bytes(), name
