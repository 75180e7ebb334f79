"""The PACS endpoint over real sockets on loopback, with real TLS."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State
from websockets.typing import Origin

from cris_cli import tls
from cris_cli.admission import split_host
from cris_cli.codec import Malformed, Parsed
from cris_cli.endpoint import Endpoint
from cris_cli.errors import PortInUse
from cris_cli.messages import Direction, ReportOpened
from cris_cli.records import Note, Record
from endpoints import Watcher, make_cert, options, trusting, url

EVERY_EVENT = [
    '{"command":"LOGIN","domain":"RXH"}',
    '{"command":"EVENT","accession":["A1"],"domain":"RXH","examCode":"XCHES",'
    '"nhs":"9434765919","chi":"0101501234","remoteImage":false}',
    '{"command":"COMMIT","accession":["A1"],"domain":"RXH"}',
    '{"command":"RELEASE","accession":["A1"],"domain":"RXH"}',
    '{"command":"READONLY","accession":["A0"],"domain":"RXH","examCode":"MHEAD"}',
    '{"command":"PREFETCH","accession":["A2","A3"],"domain":"RXH"}',
    '{"command":"LOGOUT","domain":"RXH"}',
]


@pytest.fixture
def cert(tmp_path: Path) -> tls.CertificateFiles:
    return make_cert(tmp_path)


async def test_receives_every_event_over_tls(cert: tls.CertificateFiles) -> None:
    async with Endpoint(options(cert)) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(url(endpoint), ssl=trusting(cert)) as client:
            for text in EVERY_EVENT:
                await client.send(text)
            await watcher.wait_for(lambda r: r.command == "LOGOUT")
        received = watcher.messages()
        assert [r.raw for r in received] == EVERY_EVENT
        assert all(r.direction is Direction.CRIS_TO_PACS for r in received)
        assert all(r.decoded is not None and r.decoded.valid for r in received)
        assert received[1].message == ReportOpened(
            accession=("A1",),
            domain="RXH",
            exam_code="XCHES",
            nhs="9434765919",
            chi="0101501234",
            remote_image=False,
        )
        connected = watcher.records[0]
        assert connected.kind == "connect"
        assert connected.origin is None
        assert "no origin: a native client" in (connected.text or "")
        assert endpoint.counts.received == len(EVERY_EVENT)


async def test_malformed_input_is_a_warning_row_and_the_session_goes_on() -> None:
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(url(endpoint)) as client:
            await client.send("this is not json")
            await client.send('["EVENT"]')
            await client.send('{"command":"EVENT","accession":"A1"}')
            await client.send('{"command":"RELEASE","accession":["A1"],"domain":"RXH"}')
            await watcher.wait_for(lambda r: r.command == "RELEASE")
        first, second, third, fourth = watcher.messages()
        assert isinstance(first.decoded, Malformed) and first.raw == "this is not json"
        assert isinstance(second.decoded, Malformed)
        assert second.decoded.deviations[0].code == "not-object"
        assert isinstance(third.decoded, Parsed) and third.decoded.valid
        assert {d.code for d in third.decoded.deviations} == {
            "accession-not-list",
            "missing-expected",
        }
        assert fourth.decoded is not None and fourth.decoded.valid
        assert endpoint.counts.malformed == 2


async def test_an_internal_error_on_one_message_is_a_notice_and_the_session_goes_on() -> None:
    async with Endpoint(options()) as endpoint:
        checks = endpoint.safety.received

        def failing(record: Record) -> tuple[Note, ...]:
            if record.raw and "BROKEN" in record.raw:
                raise KeyError("BROKEN")
            return checks(record)

        endpoint.safety.received = failing  # type: ignore[method-assign]
        watcher = Watcher(endpoint)
        async with connect(url(endpoint)) as client:
            await client.send('{"command":"RELEASE","accession":["BROKEN"],"domain":"RXH"}')
            await client.send('{"command":"RELEASE","accession":["A1"],"domain":"RXH"}')
            await watcher.wait_for(lambda r: r.command == "RELEASE")
            (notice,) = [r for r in watcher.records if r.kind == "notice"]
            assert notice.text is not None
            assert "internal error reading a message from CRIS client 1" in notice.text
            assert "KeyError('BROKEN')" in notice.text
            assert client.protocol.state is State.OPEN
        assert [r.raw for r in watcher.messages()][-1].endswith('["A1"],"domain":"RXH"}')


async def test_oversized_message_is_refused_and_the_endpoint_serves_on() -> None:
    async with Endpoint(options(max_message_size=1024)) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(url(endpoint), max_size=None) as client:
            await client.send(json.dumps({"command": "EVENT", "accession": ["X" * 2000]}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(client.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        gone = await watcher.wait_for(lambda r: r.kind == "disconnect")
        assert "1009" in (gone.text or "")
        assert any(n.code == "oversized" and "1024 bytes" in n.text for n in gone.notes)
        async with connect(url(endpoint)) as again:
            await again.send('{"command":"LOGIN","domain":"RXH"}')
            await watcher.wait_for(lambda r: r.command == "LOGIN")


async def test_binary_frame_is_refused_with_a_clear_reason() -> None:
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(url(endpoint)) as client:
            await client.send(b"\x00\x01binary")
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(client.recv(), 5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1003
        assert closed.value.rcvd.reason == "binary frames are not supported; send JSON text"
        notice = await watcher.wait_for(lambda r: r.kind == "notice")
        assert "binary frame (8 bytes)" in (notice.text or "")
        await watcher.wait_for(lambda r: r.kind == "disconnect")


async def test_invalid_utf8_closes_with_1007_and_a_note() -> None:
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        reader, writer = await _raw_upgrade(endpoint)
        # A masked text frame holding invalid UTF-8 (0xff), mask key zero.
        writer.write(b"\x81\x81\x00\x00\x00\x00\xff")
        await writer.drain()
        opcode, length = await asyncio.wait_for(reader.readexactly(2), 5)
        payload = await reader.readexactly(length & 0x7F)
        assert opcode == 0x88  # a close frame...
        assert int.from_bytes(payload[:2], "big") == 1007  # ...saying "invalid data"
        writer.write(b"\x88\x82\x00\x00\x00\x00" + payload[:2])  # and we answer it
        await writer.drain()
        writer.close()
        gone = await watcher.wait_for(lambda r: r.kind == "disconnect")
        assert "1007" in (gone.text or "")
        assert any(n.code == "invalid-utf8" for n in gone.notes)


async def _raw_upgrade(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: localhost:{endpoint.port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert response.startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_origin_allowed_refused_and_absent() -> None:
    allowed = "https://cris.example.nhs.uk"
    async with Endpoint(options(allow_origins=(allowed + "/",))) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(url(endpoint), origin=Origin(allowed.upper())) as client:
            await client.send('{"command":"LOGIN","domain":"RXH"}')
            await watcher.wait_for(lambda r: r.command == "LOGIN")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url(endpoint), origin=Origin("https://evil.example")):
                pass
        assert refused.value.response.status_code == 403
        assert b"--allow-origin https://evil.example" in refused.value.response.body
        record = await watcher.wait_for(lambda r: r.kind == "refused")
        assert record.origin == "https://evil.example"
        assert "--allow-origin https://evil.example" in (record.text or "")
        assert 'allow_origins = ["https://evil.example"]' in (record.text or "")
        async with connect(url(endpoint)) as native:
            await native.send('{"command":"LOGOUT","domain":"RXH"}')
            await watcher.wait_for(lambda r: r.command == "LOGOUT")
        assert endpoint.counts.refused == 1


async def test_allow_once_at_run_time() -> None:
    async with Endpoint(options()) as endpoint:
        with pytest.raises(InvalidStatus):
            async with connect(url(endpoint), origin=Origin("https://cris.example")):
                pass
        endpoint.allow_origin("https://cris.example")
        async with connect(url(endpoint), origin=Origin("https://cris.example")):
            pass


async def test_any_origin_when_asked() -> None:
    async with (
        Endpoint(options(allow_any_origin=True)) as endpoint,
        connect(url(endpoint), origin=Origin("https://anything.example")),
    ):
        pass


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:{port}", True),
        ("127.0.0.1:{port}", True),
        ("[::1]:{port}", True),
        ("LOCALHOST.:{port}", True),
        ("evil.example:{port}", False),
        ("localhost:1", False),
        ("localhost", False),
        ("", False),
    ],
)
async def test_host_header_against_dns_rebinding(host: str, allowed: bool) -> None:
    async with Endpoint(options()) as endpoint:
        header = host.format(port=endpoint.port)
        assert endpoint.admission.host_allowed(header) is allowed
        reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
        writer.write(f"GET / HTTP/1.1\r\nHost: {header}\r\n\r\n".encode())
        status = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        assert status.startswith(b"HTTP/1.1 200" if allowed else b"HTTP/1.1 403"), status


def test_split_host() -> None:
    assert split_host("localhost:56998") == ("localhost", 56998)
    assert split_host("[::1]:56998") == ("::1", 56998)
    assert split_host("Example.org.") == ("example.org", None)
    assert split_host("::1") == ("::1", None)


async def test_bad_host_is_refused_with_403_and_shown() -> None:
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                url(endpoint, host="127.0.0.1"), additional_headers={"Host": "evil.example"}
            ):
                pass
        assert refused.value.response.status_code in (400, 403)
        record = await watcher.wait_for(lambda r: r.kind == "refused")
        assert "Host" in (record.text or "")


async def test_new_client_replaces_the_old_one() -> None:
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        first = await connect(url(endpoint))
        await watcher.wait_for(lambda r: r.kind == "connect")
        async with connect(url(endpoint)) as second:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(first.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4001
            assert closed.value.rcvd.reason == "replaced by CRIS client 2"
            await watcher.wait_for(lambda r: r.kind == "disconnect" and r.client == 1)
            assert list(endpoint.clients) == [2]
            sent = endpoint.send('{"command":"CLEAR"}')
            assert sent is not None and sent.delivered == 1
            assert await asyncio.wait_for(second.recv(), 5) == '{"command":"CLEAR"}'


async def test_more_clients_all_receive_commands() -> None:
    async with Endpoint(options(max_clients=2)) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(url(endpoint)) as one, connect(url(endpoint)) as two:
            await watcher.wait_for(lambda r: r.kind == "connect" and r.client == 2)
            sent = endpoint.send('{"command":"DISPLAY","accession":["A1"]}')
            assert sent is not None and sent.delivered == 2 and sent.peer == "all"
            for client in (one, two):
                assert await asyncio.wait_for(client.recv(), 5) == (
                    '{"command":"DISPLAY","accession":["A1"]}'
                )
        assert endpoint.status()["max_clients"] == 2


async def test_send_without_a_client_sends_and_records_nothing() -> None:
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        assert endpoint.send('{"command":"CLEAR"}') is None
        assert watcher.records == []


async def test_shutdown_closes_clients_with_a_close_frame(cert: tls.CertificateFiles) -> None:
    endpoint = Endpoint(options(cert))
    await endpoint.start()
    client: ClientConnection = await connect(url(endpoint), ssl=trusting(cert))
    await endpoint.close()
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(client.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001


async def test_get_slash_is_the_certificate_page(cert: tls.CertificateFiles) -> None:
    async with Endpoint(options(cert)) as endpoint:
        context = trusting(cert)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", endpoint.port, ssl=context, server_hostname="localhost"
        )
        writer.write(f"GET / HTTP/1.1\r\nHost: localhost:{endpoint.port}\r\n\r\n".encode())
        response = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert b"Content-Type: text/html; charset=utf-8" in head
        page = body.decode()
        assert "cris-cli PACS endpoint is running" in page
        assert "the certificate is accepted" in page.lower()
        assert "you can close this tab" in page.lower()
        assert endpoint.options.fingerprint is not None
        assert endpoint.options.fingerprint in page


async def test_other_paths_are_not_found() -> None:
    async with Endpoint(options()) as endpoint:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url(endpoint, path="/elsewhere")):
                pass
        assert refused.value.response.status_code == 404


async def test_compression_is_off() -> None:
    async with Endpoint(options()) as endpoint, connect(url(endpoint)) as client:
        assert client.response is not None
        assert "Sec-WebSocket-Extensions" not in client.response.headers


async def test_port_in_use_names_the_holder() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse) as caught:
            async with Endpoint(options(port=port)):
                pass
        assert f"port {port} is already in use by" in str(caught.value)
        assert caught.value.hint is not None and "--port" in caught.value.hint


async def test_status_reports_clients_and_counts(cert: tls.CertificateFiles) -> None:
    async with Endpoint(options(cert, allow_origins=("https://cris.example",))) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(
            url(endpoint), ssl=trusting(cert), origin=Origin("https://cris.example")
        ) as c:
            await c.send('{"command":"LOGIN","domain":"RXH"}')
            await watcher.wait_for(lambda r: r.command == "LOGIN")
            status = endpoint.status()
        assert status["tls"] is True
        assert status["url"] == f"wss://localhost:{endpoint.port}/"
        (client,) = status["clients"]  # type: ignore[misc]
        assert client["origin"] == "https://cris.example"
        assert client["received"] == 1
        assert status["counts"]["received"] == 1  # type: ignore[index]


def test_tls_refuses_an_untrusted_client_context(cert: tls.CertificateFiles) -> None:
    async def attempt() -> None:
        async with Endpoint(options(cert)) as endpoint:
            with pytest.raises(ssl.SSLCertVerificationError):
                async with connect(url(endpoint), ssl=ssl.create_default_context()):
                    pass

    asyncio.run(attempt())


async def test_plain_http_to_a_tls_endpoint_is_explained(cert: tls.CertificateFiles) -> None:
    async with Endpoint(options(cert)) as endpoint:
        watcher = Watcher(endpoint)
        _reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
        writer.write(f"GET / HTTP/1.1\r\nHost: localhost:{endpoint.port}\r\n\r\n".encode())
        await writer.drain()
        notice = await watcher.wait_for(lambda r: r.kind == "notice")
        writer.close()
        assert "spoke plain http:// or ws:// to this TLS endpoint" in (notice.text or "")


async def test_tls_to_a_plain_endpoint_is_explained(cert: tls.CertificateFiles) -> None:
    async with Endpoint(options()) as endpoint:
        watcher = Watcher(endpoint)
        with pytest.raises((ssl.SSLError, OSError, ConnectionClosed)):
            async with connect(url(endpoint).replace("ws://", "wss://"), ssl=trusting(cert)):
                pass
        notice = await watcher.wait_for(lambda r: r.kind == "notice")
        assert "tried to speak TLS (wss://)" in (notice.text or "")
        assert "--no-tls" in (notice.text or "")
