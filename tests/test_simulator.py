"""The simulated CRIS Reporting: against cris-cli's endpoint over real TLS,
against an independent PACS written here, and across an endpoint restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from cris_cli import tls, trust
from cris_cli.endpoint import Endpoint
from cris_cli.errors import ConnectionFailed
from cris_cli.records import Record
from cris_cli.reporting import Action, Machine, Options, Screen
from cris_cli.simulator import Dial, Fatal, Simulator
from cris_cli.worklist import synthetic_worklist
from endpoints import Watcher, make_cert, options
from processes import Running, free_port, run_async

WORKLIST = synthetic_worklist(seed=3)
A, B = WORKLIST.exams[0].accession, WORKLIST.exams[1].accession


async def eventually(check: Callable[[], bool], what: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def simulating(dial: Dial, **option: object) -> AsyncIterator[Simulator]:
    simulator = Simulator(
        dial,
        Machine(Options(**option), WORKLIST),  # type: ignore[arg-type]
        backoff=(0.1, 0.5),
    )
    running = asyncio.ensure_future(simulator.run())
    try:
        yield simulator
    finally:
        await simulator.stop()
        await asyncio.wait_for(running, 5)  # stopping ends the run: no cancelling needed


# --- against cris-cli's own endpoint, over real TLS ---------------------------------


async def test_simulator_against_the_endpoint_over_tls(tmp_path: Path) -> None:
    cert = make_cert(tmp_path)
    async with Endpoint(options(cert, allow_origins=("https://cris.example.nhs.uk",))) as endpoint:
        watcher = Watcher(endpoint)
        dial = Dial(
            f"wss://localhost:{endpoint.port}/",
            cafile=cert.cert,
            origin="https://cris.example.nhs.uk",
        )
        async with simulating(dial) as simulator:
            await asyncio.wait_for(simulator.connected.wait(), 5)
            connected = await watcher.wait_for(lambda r: r.kind == "connect")
            assert connected.origin == "https://cris.example.nhs.uk"
            await simulator.act(Action("login"))
            await simulator.act(Action("open", (A,)))
            await watcher.wait_for(lambda r: r.command == "EVENT")
            endpoint.send(json.dumps({"command": "DISPLAY", "accession": [B]}))
            await watcher.wait_for(lambda r: r.command == "EVENT" and B in r.raw)  # type: ignore[operator]
            await simulator.act(Action("save"))
            await watcher.wait_for(lambda r: r.command == "RELEASE" and B in r.raw)  # type: ignore[operator]
        received = [
            r for r in watcher.messages() if r.direction and r.direction.value == "cris-to-pacs"
        ]
        assert [r.command for r in received] == [
            "LOGIN",
            "EVENT",
            "RELEASE",
            "EVENT",
            "COMMIT",
            "RELEASE",
        ]
        assert all(r.decoded is not None and r.decoded.valid for r in received)
        assert any(n.code == "round-trip" for r in received for n in r.notes)


async def test_the_pin_decides_trust(tmp_path: Path) -> None:
    cert = make_cert(tmp_path)
    fingerprint = trust.fingerprint(tls.read_pem(cert.cert))
    async with Endpoint(options(cert)) as endpoint:
        url = f"wss://localhost:{endpoint.port}/"
        async with simulating(Dial(url, pin_sha256=fingerprint.replace(":", "").lower())) as ok:
            await asyncio.wait_for(ok.connected.wait(), 5)
        wrong = Simulator(Dial(url, pin_sha256="AB" * 32), Machine(Options(), WORKLIST))
        with pytest.raises(Fatal, match="not the pinned AB:AB"):
            await asyncio.wait_for(wrong.run(), 5)
        untrusted = Simulator(Dial(url), Machine(Options(), WORKLIST))
        with pytest.raises(Fatal, match="certificate is not trusted") as caught:
            await asyncio.wait_for(untrusted.run(), 5)
        assert "--cafile" in (caught.value.hint or "")
        insecure = Simulator(Dial(url, insecure=True), Machine(Options(), WORKLIST))
        running = asyncio.ensure_future(insecure.run())
        await asyncio.wait_for(insecure.connected.wait(), 5)
        await insecure.stop()
        await asyncio.wait_for(running, 5)


def test_fatal_is_a_connection_failure() -> None:
    assert issubclass(Fatal, ConnectionFailed)


async def test_an_address_that_cannot_be_dialled_is_fatal() -> None:
    simulator = Simulator(Dial("ws://localhost:99999/"), Machine(Options(), WORKLIST))
    with pytest.raises(Fatal, match="not a WebSocket address: ws://localhost:99999/"):
        await asyncio.wait_for(simulator.run(), 5)


# --- against a PACS that is not cris-cli ---------------------------------------------


class IndependentPacs:
    """A minimal PACS written for this test: it only records and sends text."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.client: ServerConnection | None = None

    async def handler(self, connection: ServerConnection) -> None:
        self.client = connection
        async for text in connection:
            self.received.append(json.loads(text))

    async def command(self, message: dict[str, object]) -> None:
        assert self.client is not None
        await self.client.send(json.dumps(message))

    async def next_events(self, count: int) -> list[dict[str, object]]:
        start = len(self.received)
        await eventually(lambda: len(self.received) >= start + count, f"{count} events")
        await asyncio.sleep(0.1)  # and nothing more
        return self.received[start:]


async def test_simulator_against_an_independent_pacs() -> None:
    pacs = IndependentPacs()
    async with serve(pacs.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with simulating(Dial(f"ws://127.0.0.1:{port}/"), domain="SCO") as simulator:
            await eventually(lambda: pacs.client is not None, "the simulator connects")
            exam_a, exam_b = WORKLIST.find(A), WORKLIST.find(B)
            assert exam_a is not None and exam_b is not None

            await pacs.command({"command": "LOGIN", "username": "rad1", "password": "wrong"})
            await asyncio.sleep(0.2)
            assert pacs.received == []  # a wrong password leaves CRIS logged out
            assert simulator.machine.state.screen is Screen.LOGGED_OUT

            await pacs.command({"command": "LOGIN", "username": "rad1", "password": "cris-demo"})
            assert await pacs.next_events(1) == [{"command": "LOGIN", "domain": "SCO"}]
            # Connected since the connect record, however much happened after it.
            (connected,) = [r for r in simulator.journal.history if r.kind == "connect"]
            since = simulator.status()["clients"][0]["since"]
            assert connected.time - 1 < since <= connected.time < simulator.journal.history[-1].time

            await pacs.command({"command": "DISPLAY", "accession": [A]})
            await asyncio.sleep(0.2)
            assert len(pacs.received) == 1  # DISPLAY from the worklist does nothing

            await simulator.act(Action("open", (A,)))
            (event,) = await pacs.next_events(1)
            expected = {
                "command": "EVENT",
                "accession": [A],
                "domain": "SCO",
                "examCode": exam_a.exam_code,
                "nhs": exam_a.patient.nhs,
                "remoteImage": exam_a.remote_image,
            }
            if exam_a.patient.chi:
                expected["chi"] = exam_a.patient.chi
            assert event == expected

            await pacs.command({"command": "DISPLAY", "accession": [B]})
            release, opened = await pacs.next_events(2)
            assert release == {"command": "RELEASE", "accession": [A], "domain": "SCO"}
            assert opened["command"] == "EVENT" and opened["accession"] == [B]
            assert opened["nhs"] == exam_b.patient.nhs

            await pacs.command({"command": "FETCHED", "accession": [B]})
            await asyncio.sleep(0.2)
            assert len(pacs.received) == 4  # FETCHED: announced, no answer yet

            await pacs.command({"command": "CLEAR"})
            assert await pacs.next_events(1) == [
                {"command": "RELEASE", "accession": [B], "domain": "SCO"}
            ]

            await pacs.command({"command": "LOGOUT"})
            assert await pacs.next_events(1) == [{"command": "LOGOUT", "domain": "SCO"}]

            await pacs.command({"command": "ANNOTATE", "x": 1})
            await asyncio.sleep(0.2)
            assert len(pacs.received) == 6
            ignored = [r for r in simulator.journal.history if r.command == "ANNOTATE"]
            assert "CRIS does not know 'ANNOTATE'" in ignored[0].notes[0].text


# --- reconnecting ---------------------------------------------------------------------


async def test_reconnects_after_the_endpoint_is_killed_and_logs_in_again() -> None:
    port = free_port()
    first = Running(["serve", "--port", str(port), "--no-tls", "--json"])
    first.port()
    try:
        async with simulating(Dial(f"ws://127.0.0.1:{port}/")) as simulator:
            await asyncio.wait_for(simulator.connected.wait(), 5)
            await simulator.act(Action("login"))
            first.wait_for(r'"command":"LOGIN"', stream="out")
            first.process.kill()  # SIGKILL
            first.wait()
            await eventually(lambda: not simulator.connected.is_set(), "the loss is noticed")

            def retried() -> bool:
                return any(
                    "cannot reach the PACS" in (r.text or "")
                    and "trying again in" in (r.text or "")
                    for r in simulator.journal.history
                )

            await eventually(retried, "a failed retry, with backoff")
            with Running(["serve", "--port", str(port), "--no-tls", "--json"]) as second:
                second.port()
                await eventually(lambda: simulator.connects == 2, "a reconnect", timeout=10)
                second.wait_for(r'"command":"LOGIN"', stream="out")  # logged in again
                # In a thread: this loop must stay free to answer the closing handshake.
                assert await asyncio.to_thread(second.stop) == 0
        assert any("connected again" in (r.text or "") for r in simulator.journal.history)
    finally:
        if first.process.poll() is None:
            first.process.kill()


# --- replaced by another CRIS client ------------------------------------------------

REPLACED = "another CRIS client took this one's place on the PACS (4001)"


async def test_a_replaced_simulator_does_not_fight_back() -> None:
    """The endpoint closes the older CRIS with 4001 when a newer one connects; the
    older one reconnecting would put the newer one out, and so on for ever."""
    async with Endpoint(options()) as endpoint:
        url = f"ws://127.0.0.1:{endpoint.port}/"
        older = Simulator(Dial(url), Machine(Options(), WORKLIST), backoff=(0.1, 0.5))
        running = asyncio.ensure_future(older.run())
        await asyncio.wait_for(older.connected.wait(), 5)
        async with simulating(Dial(url)) as newer:
            await asyncio.wait_for(newer.connected.wait(), 5)
            with pytest.raises(Fatal) as caught:
                await asyncio.wait_for(running, 5)  # the run ends: it cannot reconnect
            assert str(caught.value) == REPLACED
            assert "--max-clients" in (caught.value.hint or "")
            assert older.error is caught.value and older.connects == 1
            texts = [r.text or "" for r in older.journal.history]
            assert "the PACS closed the connection (4001 replaced by CRIS client 2)" in texts
            assert texts[-1] == REPLACED  # the notice, last
            assert newer.connected.is_set() and newer.connects == 1
            assert list(endpoint.clients) == [2]


async def replacing(args: list[str], stdin: str | None = None) -> tuple[int, str]:
    """Run ``cris-cli simulate`` against an endpoint, and once it is connected,
    connect another CRIS client; the exit status and stderr."""
    from websockets.asyncio.client import connect

    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        url = f"ws://127.0.0.1:{endpoint.port}/"
        process = asyncio.ensure_future(
            run_async(["simulate", "--url", url, *args], stdin=stdin, timeout=40)
        )
        await watcher.wait_for(lambda r: r.kind == "connect", timeout=20)
        async with connect(url) as newer:
            code, _, err = await process
            assert newer.state.name == "OPEN"  # left in peace
        assert endpoint.counts.connections == 2
    return code, err


async def test_simulate_auto_ends_with_status_6_when_replaced() -> None:
    code, err = await replacing(["--auto", "5"])
    assert code == 6, err
    assert f"cris-cli: {REPLACED}\n" in err
    assert "hint: the endpoint's --max-clients N lets more stay connected" in err


async def test_a_simulate_script_step_fails_when_replaced() -> None:
    code, err = await replacing([], stdin="wait client 10\nexpect CLEAR within 30\n")
    assert code == 6, err
    assert f"cris-cli: stdin:2: {REPLACED}\n" in err


def test_records_of_both_directions_use_the_cris_labels() -> None:
    from cris_cli.messages import Direction
    from cris_cli.render import plain_line

    sent = Record(
        "message",
        time=1.0,
        direction=Direction.CRIS_TO_PACS,
        raw='{"command":"LOGIN","domain":"RXH"}',
    )
    received = Record(
        "message", time=1.0, direction=Direction.PACS_TO_CRIS, raw='{"command":"CLEAR"}'
    )
    assert "→PACS LOGIN" in plain_line(sent, local="cris")
    assert "PACS→ CLEAR" in plain_line(received, local="cris")


# --- the command --------------------------------------------------------------------


def test_simulate_auto_against_serve_then_stops_after_its_duration() -> None:
    with Running(["serve", "--port", "0", "--no-tls", "--json"]) as serve_process:
        port = serve_process.port()
        with Running(
            [
                "simulate",
                "--url",
                f"ws://127.0.0.1:{port}/",
                "--auto",
                "20",
                "--duration",
                "2",
                "--json",
            ]
        ) as simulate:
            assert simulate.wait(20) == 0
        assert "actions played" in simulate.stderr
        sent = [json.loads(line) for line in simulate.stdout.splitlines()]
        commands = [r["command"] for r in sent if r["direction"] == "cris-to-pacs"]
        assert commands[0] == "LOGIN"
        assert {"EVENT", "RELEASE"} <= set(commands)
        serve_process.wait_for(r'"command":"EVENT"', stream="out")
        assert serve_process.stop() == 0
    seen = [json.loads(line) for line in serve_process.stdout.splitlines()]
    assert all(r["valid"] for r in seen if r["kind"] == "message")


def test_simulate_trusts_a_local_cris_cli_endpoint_by_itself() -> None:
    with Running(["serve", "--port", "0", "--json"]) as serve_process:
        port = serve_process.port()
        with Running(
            ["simulate", "--url", f"wss://localhost:{port}/", "--auto", "5", "--duration", "1"]
        ) as simulate:
            assert simulate.wait(20) == 0
        assert f"trusting the cris-cli endpoint on port {port}" in simulate.stderr
        serve_process.wait_for(r'"command":"LOGIN"', stream="out")
        assert serve_process.stop() == 0


def test_simulate_refuses_a_bad_url_and_pin() -> None:
    for url in ("http://localhost:1/", "wss://localhost:99999/", "ws://localhost:abc/"):
        with Running(["simulate", "--url", url, "--auto", "1"]) as bad:
            assert bad.wait() == 2
        assert f"--url must be ws://HOST:PORT/ or wss://HOST:PORT/, not '{url}'" in bad.stderr
    with Running(["simulate", "--pin-sha256", "xyz", "--auto", "1"]) as pin:
        assert pin.wait() == 2
    assert "64 hex digits expected" in pin.stderr


# --- never connected -------------------------------------------------------------------


async def test_simulate_auto_that_never_connects_ends_with_status_6() -> None:
    port = free_port()
    code, out, err = await run_async(
        ["simulate", "--url", f"ws://127.0.0.1:{port}/", "--auto", "1", "--duration", "2"]
    )
    assert code == 6, err
    assert err.splitlines()[-1] == (
        f"cris-cli: never connected to the PACS at ws://127.0.0.1:{port}/ in 2 s: "
        "connection refused (is the PACS endpoint running?)"
    )
    assert "actions played" not in err
    assert "cannot reach the PACS" in out  # each attempt was shown as it failed


@pytest.mark.parametrize(
    ("scheme", "endpoint_tls", "reason"),
    [
        ("ws", True, "did not receive a valid HTTP response (if the PACS uses TLS, dial wss://)"),
        ("wss", False, "reset while connecting (if the PACS does not use TLS, dial ws://)"),
    ],
)
async def test_simulate_auto_with_the_wrong_scheme_says_so(
    tmp_path: Path, scheme: str, endpoint_tls: bool, reason: str
) -> None:
    async with Endpoint(options(make_cert(tmp_path) if endpoint_tls else None)) as endpoint:
        url = f"{scheme}://127.0.0.1:{endpoint.port}/"
        insecure = ["--insecure"] if scheme == "wss" else []
        code, _, err = await run_async(
            ["simulate", "--url", url, *insecure, "--auto", "1", "--duration", "2"]
        )
    assert code == 6, err
    (last,) = err.splitlines()[-1:]
    assert last.startswith(f"cris-cli: never connected to the PACS at {url} in 2 s: ")
    assert last.endswith(reason)


def test_simulate_auto_stopped_by_the_user_ends_with_status_0_even_unconnected() -> None:
    """Stopping a long-running command is how it is used (the README's promise);
    the notices on the way said it never connected."""
    port = free_port()
    with Running(["simulate", "--url", f"ws://127.0.0.1:{port}/", "--auto", "1"]) as simulate:
        simulate.wait_for("cannot reach the PACS", stream="out")
        assert simulate.stop() == 0
    assert "0 actions played, 0 connections" in simulate.stderr


async def test_a_pacs_on_this_machine_is_dialled_without_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy named in the environment (where nothing listens, here) is not used
    for a PACS on loopback."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert Dial("wss://pacs.example.nhs.uk:56998/").proxy_options() == {}
    endpoint = Endpoint(options())
    async with endpoint, simulating(Dial(f"ws://127.0.0.1:{endpoint.port}/")) as simulator:
        await asyncio.wait_for(simulator.connected.wait(), 5)
