"""The control channel and runtime files, in-process over real loopback TLS."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from cris_cli import config, runtime
from cris_cli.environment import Environment
from cris_cli.errors import ConnectionFailed
from cris_cli.links import LocalLink, RemoteLink, attach, host
from cris_cli.records import Record
from cris_cli.remote import ControlClient

CLIENT_URL = "wss://localhost:{port}/"


def settings(**changes: object) -> config.Settings:
    return config.load(environ={}).replace(port=0, **changes)


async def hosted(**changes: object) -> LocalLink:
    return await host(settings(**changes), Environment())


def trust(link: LocalLink) -> object:
    from cris_cli import trust

    assert link.certificate is not None
    return trust.pinned_client_context(link.certificate.pem)


async def test_runtime_file_is_private_and_removed_on_exit() -> None:
    link = await hosted()
    file = runtime.runtime_file(link.port)
    assert file.stat().st_mode & 0o777 == 0o600
    data = json.loads(file.read_text())
    assert data["port"] == link.port
    assert data["pid"] == os.getpid()
    assert data["tls"] is True
    assert len(data["token"]) >= 40
    assert data["fingerprint"] == link.certificate.fingerprint  # type: ignore[union-attr]
    await link.close()
    assert not file.exists()


async def test_send_status_and_subscribe_over_control() -> None:
    link = await hosted()
    remote = await attach(link.port)
    assert isinstance(remote, RemoteLink)
    try:
        seen: list[Record] = []
        await remote.subscribe(seen.append)
        assert (await remote.send('{"command":"CLEAR"}')).delivered == 0
        async with connect(CLIENT_URL.format(port=link.port), ssl=trust(link)) as cris:  # type: ignore[arg-type]
            await cris.send('{"command":"LOGIN","domain":"RXH"}')
            for _ in range(100):
                if any(r.command == "LOGIN" for r in seen):
                    break
                await asyncio.sleep(0.02)
            sent = await remote.send('{"command":"DISPLAY","accession":["A1","A2"]}')
            assert sent.delivered == 1
            assert await asyncio.wait_for(cris.recv(), 5) == (
                '{"command":"DISPLAY","accession":["A1","A2"]}'
            )
            status = await remote.status()
            assert status["pid"] == os.getpid()
            assert [c["received"] for c in status["clients"]] == [1]
        assert [r.kind for r in seen][:2] == ["connect", "message"]
        assert seen[1].command == "LOGIN" and seen[1].seq == 2
        assert any(r.command == "DISPLAY" and r.delivered == 1 for r in seen)
    finally:
        await remote.close()
        await link.close()


async def test_subscribe_with_history_replays_held_records() -> None:
    link = await hosted(tls=False)
    async with connect(f"ws://127.0.0.1:{link.port}/") as cris:
        await cris.send('{"command":"LOGIN","domain":"RXH"}')
        await cris.send('{"command":"LOGOUT","domain":"RXH"}')
        for _ in range(100):
            if link.endpoint.counts.received == 2:
                break
            await asyncio.sleep(0.02)
    remote = await attach(link.port)
    assert remote is not None
    seen: list[Record] = []
    await remote.subscribe(seen.append, history=2)
    for _ in range(100):
        if len(seen) >= 2:
            break
        await asyncio.sleep(0.02)
    assert [r.command or r.kind for r in seen] == ["LOGOUT", "disconnect"]
    await remote.close()
    await link.close()


async def test_control_refuses_a_missing_or_wrong_token() -> None:
    link = await hosted()
    path = f"wss://127.0.0.1:{link.port}{runtime.CONTROL_PATH}"
    wrong = ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"})
    for headers in (*wrong, {"Authorization": "Bearer jérôme"}):  # non-ASCII: still a 401
        with pytest.raises(InvalidStatus) as refused:
            async with connect(path, ssl=trust(link), additional_headers=headers):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 401
    refusals = [r for r in link.endpoint.history if r.kind == "refused"]
    assert len(refusals) == 4
    assert "missing or wrong control token" in (refusals[0].text or "")
    await link.close()


async def test_control_refuses_any_request_with_an_origin() -> None:
    link = await hosted(allow_any_origin=True)
    assert link.info is not None
    path = f"wss://127.0.0.1:{link.port}{runtime.CONTROL_PATH}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            path,
            ssl=trust(link),  # type: ignore[arg-type]
            origin=Origin(f"https://localhost:{link.port}"),
            additional_headers={"Authorization": f"Bearer {link.info.token}"},
        ):
            pass
    assert refused.value.response.status_code == 403
    assert b"from a browser are refused" in refused.value.response.body
    await link.close()


async def test_control_client_pins_the_endpoint_certificate() -> None:
    link = await hosted()
    assert link.info is not None
    from cris_cli import tls

    impostor = tls.CertificateFiles(
        runtime.runtime_file(1).parent / "other-cert.pem",
        runtime.runtime_file(1).parent / "other-key.pem",
        "generated",
    )
    tls.generate(impostor)
    other = dataclasses.replace(link.info, cert_pem=tls.read_pem(impostor.cert))
    with pytest.raises(ConnectionFailed, match="cannot reach"):
        await ControlClient.connect(other)
    await link.close()


def test_a_dead_process_leaves_a_stale_file_that_is_replaced() -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = runtime.RuntimeInfo(
        port=45678,
        host="127.0.0.1",
        pid=int(dead.stdout),
        tls=False,
        cert_pem=None,
        fingerprint=None,
        token="x",
    )
    file = runtime.publish(stale)
    assert file.exists()
    assert runtime.find(45678) is None
    assert not file.exists()


async def test_a_live_process_not_listening_is_stale_too() -> None:
    # Our own pid is alive, but nothing listens on the port: attach removes the file.
    from processes import free_port

    port = free_port()
    runtime.publish(
        runtime.RuntimeInfo(
            port=port,
            host="127.0.0.1",
            pid=os.getpid(),
            tls=False,
            cert_pem=None,
            fingerprint=None,
            token="x",
        )
    )
    assert await attach(port) is None
    assert not runtime.runtime_file(port).exists()


def test_corrupt_runtime_file_is_ignored() -> None:
    file = runtime.runtime_file(45679)
    file.write_text("{not json", encoding="utf-8")
    assert runtime.find(45679) is None
    assert not file.exists()


async def test_attached_link_reports_the_endpoint_going_away() -> None:
    link = await hosted(tls=False)
    remote = await attach(link.port)
    assert remote is not None
    await link.close()
    await asyncio.wait_for(remote.wait_closed(), 5)
    with pytest.raises(ConnectionFailed, match="went away"):
        await remote.send('{"command":"CLEAR"}')


async def test_a_request_given_up_on_leaves_the_session_working() -> None:
    link = await hosted(tls=False)
    remote = await attach(link.port)
    assert remote is not None
    try:
        asking = asyncio.ensure_future(remote.status())
        await asyncio.sleep(0)  # sent, not yet answered
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        # Its answer still comes, goes to nobody, and the next request gets its own.
        assert (await remote.status())["pid"] == os.getpid()
        assert (await remote.send('{"command":"CLEAR"}')).delivered == 0
    finally:
        await remote.close()  # closes cleanly: nothing left half-answered
        await link.close()


async def test_a_failing_listener_does_not_end_an_attached_session(
    capsys: pytest.CaptureFixture[str],
) -> None:
    link = await hosted(tls=False)
    remote = await attach(link.port)
    assert remote is not None
    seen: list[str] = []

    def failing(record: Record) -> None:
        raise RuntimeError("a listener's own bug")

    try:
        await remote.subscribe(failing)
        await remote.subscribe(lambda record: seen.append(record.text or ""))
        link.endpoint.notice("first")
        link.endpoint.notice("second")
        for _ in range(250):
            if seen == ["first", "second"]:
                break
            await asyncio.sleep(0.02)
        assert seen == ["first", "second"]
        assert not remote.client.closed
        assert (await remote.status())["pid"] == os.getpid()
    finally:
        await remote.close()
        await link.close()
    reports = capsys.readouterr().err.splitlines()
    assert reports == [
        "cris-cli: internal error in test_a_failing_listener_does_not_end_an_attached_session"
        '.<locals>.failing: RuntimeError("a listener\'s own bug") (please report it)'
    ]


@pytest.mark.parametrize("attached", [False, True])
async def test_subscribing_again_after_the_last_listener_left(attached: bool) -> None:
    local = await hosted(tls=False)
    link = await attach(local.port) if attached else local
    assert link is not None
    try:
        first: list[Record] = []
        await link.subscribe(first.append)
        link.unsubscribe(first.append)
        again: list[Record] = []
        await link.subscribe(again.append)  # neither refused nor subscribed twice
        local.endpoint.notice("once")
        for _ in range(250):
            if again:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert [r.text for r in again] == ["once"]
        assert first == []
    finally:
        if link is not local:
            await link.close()
        await local.close()


async def test_subscribe_refuses_a_history_that_is_not_a_count() -> None:
    link = await hosted(tls=False)
    assert link.info is not None
    client = await ControlClient.connect(link.info)
    try:
        for history in ("x", -5, 1.5):
            with pytest.raises(ConnectionFailed, match="history must be a count"):
                await client.request({"op": "subscribe", "history": history})
        await client.subscribe(0)  # the session goes on
        assert (await client.status())["pid"] == os.getpid()
    finally:
        await client.close()
        await link.close()


async def test_a_cris_client_that_stops_reading_is_named_as_such() -> None:
    """Sends skip a client that has stopped reading; what is said then is that, not
    'no CRIS client is connected' (here, hosted and attached alike)."""
    from abuse import raw_websocket

    link = await hosted(tls=False)
    remote = await attach(link.port)
    assert remote is not None
    reader, stalled = await raw_websocket(link.port)  # not read from, until the end
    try:
        for _ in range(250):
            if link.endpoint.clients:
                break
            await asyncio.sleep(0.02)
        command = json.dumps(
            {"command": "FETCHED", "accession": [f"A{i:07d}" for i in range(2000)]}
        )
        sent = await link.send(command)
        for _ in range(2000):  # 24 kB each: past the bound well before the end
            if sent.nothing_sent:
                break
            sent = await link.send(command)
            await asyncio.sleep(0)
        assert sent.delivered == 0 and sent.clients == 1
        assert sent.nothing_sent is not None and "not reading" in sent.nothing_sent
        attached = await remote.send(command)
        assert (attached.delivered, attached.clients) == (0, 1)
        assert attached.nothing_sent == sent.nothing_sent
        (client,) = (await remote.status())["clients"]
        assert client["reading"] is False
        # Read at last: once it has caught up, it is sent to again, and told so.
        (connected,) = link.endpoint.clients.values()
        for _ in range(10_000):
            if connected.connection.transport.get_write_buffer_size() == 0:
                break
            await asyncio.wait_for(reader.read(1 << 20), 5)
        assert (await link.send(command)).delivered == 1
        assert any("reads again" in (r.text or "") for r in link.endpoint.history)
    finally:
        stalled.transport.abort()
        await remote.close()
        await link.close()


async def test_the_control_channel_never_goes_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hospital machines often name a proxy for everything; the loopback control
    channel must not try it (here, a proxy address where nothing listens)."""
    from cris_cli.blocking import BlockingControl

    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    link = await hosted()
    assert link.info is not None
    try:
        remote = await attach(link.port)
        assert remote is not None
        assert (await remote.status())["pid"] == os.getpid()
        await remote.close()
        info = link.info

        def blocking_status() -> list[dict[str, object]]:
            with BlockingControl.connect(info) as control:
                return control.clients()

        assert await asyncio.to_thread(blocking_status) == []
    finally:
        await link.close()
