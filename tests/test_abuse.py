"""Abuse of a live endpoint: connection storms, clients vanishing mid-handshake
and mid-message, protocol violations, floods and readers that never read.

Every test is bounded in count and time, and ends by checking the endpoint is
still whole: a normal client is served, memory stayed bounded, nothing crashed,
and the record holds every message a client fully sent, exactly once, in order.
The numbers each scenario measured are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil
from test_send import generated_trust
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from abuse import (
    OP_BINARY,
    OP_CONT,
    OP_TEXT,
    Ledger,
    Served,
    client_hello,
    event,
    frame,
    open_raw,
    raw_websocket,
    tag_of,
    text_frame,
    upgrade_request,
    vanish,
)
from cris_cli.control import SUBSCRIBER_BUFFER, ControlServer
from cris_cli.endpoint import Endpoint
from cris_cli.recorder import Recorder
from cris_cli.records import Record
from cris_cli.runtime import CONTROL_PATH
from endpoints import Watcher, options, url
from processes import Running

MB = 1024 * 1024
HISTORY = 500  # records an abused endpoint holds: small, so a leak would show
SMALL = {"CRIS_CLI_HISTORY": str(HISTORY)}
RSS_GROWTH_LIMIT = 48 * MB  # generous: Python keeps freed memory; a leak of the abuse is larger


def say(text: str) -> None:
    print(f"\n[abuse] {text}", flush=True)


async def finish(
    served: Served, ledger: Ledger, rss_before: int, *, context: ssl.SSLContext | None = None
) -> None:
    """The checks every abuse test ends with."""
    await served.assert_serves(context)
    records = served.records()
    ledger.check(records)
    held = await served.held()
    assert held <= HISTORY, f"the endpoint holds {held} records, over its history of {HISTORY}"
    rss_after = served.rss()
    say(
        f"records written {len(records)}, messages fully sent {ledger.total}, "
        f"held in memory {held}; RSS {rss_before / MB:.1f} MB -> {rss_after / MB:.1f} MB"
    )
    assert rss_after - rss_before < RSS_GROWTH_LIMIT
    served.assert_no_crash_output()
    assert served.stop() == 0
    served.assert_no_crash_output()
    assert "endpoint stopped" in served.running.stderr


# --- connection storms ----------------------------------------------------------------


async def storm(served: Served, ledger: Ledger, cycles: int, workers: int) -> float:
    """``cycles`` connect / send one event / disconnect cycles by ``workers`` clients at
    once; every fourth vanishes without a closing handshake. Returns cycles a second."""
    numbers = itertools.count()

    async def worker() -> None:
        while (number := next(numbers)) < cycles:
            name, tag = f"storm-{number:04d}", f"S{number:04d}"
            try:
                client = await connect(served.url, open_timeout=10, close_timeout=5)
            except (OSError, TimeoutError) as error:
                raise AssertionError(f"cycle {number}: the endpoint refused: {error}") from None
            if client.protocol.state is not State.OPEN:
                ledger.never.add(tag)  # already replaced by a newer client: nothing sent
                await client.close()
                continue
            try:
                await client.send(event(tag))
            except ConnectionClosed:
                ledger.maybe.add(tag)  # written, or not, as the connection failed
                continue
            if number % 4 == 3:
                written = client.transport.get_write_buffer_size() == 0
                client.transport.abort()  # gone: no close frame, no closing handshake
                if written:
                    ledger.client(name).append(tag)
                else:
                    ledger.maybe.add(tag)
            else:
                ledger.client(name).append(tag)
                await client.close()

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(workers))), 90)
    return cycles / (time.monotonic() - started)


async def test_a_thousand_rapid_connect_disconnect_cycles(tmp_path: Path) -> None:
    """Four clients at once, each cycle connecting, sending one event and leaving: with
    the default of one CRIS client, each newcomer also replaces the one before."""
    with Served(tmp_path / "storm.jsonl", env=SMALL) as served:
        await served.assert_serves()
        rss_before = served.rss()
        ledger = Ledger()
        rate = await storm(served, ledger, 1000, workers=4)
        say(f"storm: 1000 connect/disconnect cycles at {rate:.0f} cycles/s (4 workers)")
        records = await served.wait_records(
            lambda records: sum(r["kind"] == "disconnect" for r in records) >= 1001,
            "a disconnect for every connection",
        )
        connects = sum(r["kind"] == "connect" for r in records)
        assert connects == 1001  # the first health check, and every cycle
        await finish(served, ledger, rss_before)


async def test_clients_that_come_and_go_leave_no_state_behind() -> None:
    """What the endpoint keeps per CRIS client (the client itself, the report it has
    open for the wrong-patient check) goes when the client goes: 500 clients that each
    open a report and leave must not leave 500 entries behind."""
    async with Endpoint(options(history=HISTORY)) as endpoint:
        watcher = Watcher(endpoint)
        for number in range(1, 501):
            async with connect(url(endpoint)) as client:
                opened = {"command": "EVENT", "accession": [f"O{number:03d}"], "domain": "RXH"}
                await client.send(json.dumps(opened | {"nhs": "9434765919"}))
            await watcher.wait_for(lambda r, n=number: r.kind == "disconnect" and r.client == n)
        say(
            f"500 clients gone: {len(endpoint.clients)} still counted as connected, "
            f"{len(endpoint.safety.open)} open reports still held for them"
        )
        assert not endpoint.clients
        assert len(endpoint.safety.open) == 0, (
            f"{len(endpoint.safety.open)} open reports are held for clients long gone"
        )


# --- clients vanishing mid-handshake ----------------------------------------------------


async def in_batches(count: int, batch: int, one: Callable[[int], Awaitable[None]]) -> None:
    """Run ``one(number)`` for ``count`` numbers, ``batch`` at a time."""
    for start in range(0, count, batch):
        await asyncio.gather(*(one(n) for n in range(start, min(start + batch, count))))


async def hold_half_open(port: int, count: int, data: bytes) -> list[asyncio.StreamWriter]:
    """Connections that start a handshake and then say nothing more (kept open)."""
    writers = []
    for _ in range(count):
        _, writer = await open_raw(port)
        writer.write(data)
        writers.append(writer)
    await asyncio.gather(*(w.drain() for w in writers))
    return writers


async def no_client_left(served: Served) -> None:
    control = await served.control()
    try:
        for _ in range(100):
            if not (await control.status())["clients"]:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("a vanished client is still counted as connected")
    finally:
        await control.close()


async def test_clients_vanishing_mid_handshake(tmp_path: Path) -> None:
    with Served(tmp_path / "handshakes.jsonl", env=SMALL) as served:
        await served.assert_serves()
        rss_before = served.rss()
        request, hello = upgrade_request(served.port), client_hello()
        counts = dict.fromkeys(("closed at once", "half request", "TLS hello", "full request"), 0)

        async def one(number: int) -> None:
            _, writer = await open_raw(served.port)
            variant, cut = number % 6, 1 + (number * 37) % (len(request) - 1)
            if variant == 0:
                counts["closed at once"] += 1
            elif variant in (1, 2):
                writer.write(request[:cut])  # the upgrade request, cut anywhere
                counts["half request"] += 1
            elif variant == 3:
                writer.write(hello[: 1 + (number * 53) % (len(hello) - 1)])  # wss:// to ws://
                counts["TLS hello"] += 1
            elif variant == 4:
                writer.write(request)  # a whole request, gone before the answer
                counts["full request"] += 1
            else:
                writer.write(request[:cut] + b"\x00\xff\r\n\r\n")  # garbage in the headers
                counts["half request"] += 1
            await vanish(writer, reset=number % 2 == 0)

        started = time.monotonic()
        await in_batches(300, 30, one)
        elapsed = time.monotonic() - started
        pending = await hold_half_open(served.port, 50, request[:40])
        try:
            await served.assert_serves()  # while 50 handshakes hang half done
        finally:
            for writer in pending:
                await vanish(writer, reset=False)
        say(f"mid-handshake (ws://): 300 vanishing clients in {elapsed:.2f} s {counts}")
        await no_client_left(served)
        records = served.records()
        connects = sum(r["kind"] == "connect" for r in records)
        assert connects == sum(r["kind"] == "disconnect" for r in records)
        assert connects <= 2 + counts["full request"]  # only whole handshakes became clients
        assert all(
            (tag_of(r["raw"]) or "").startswith("HEALTH") for r in records if r["kind"] == "message"
        )
        assert any("tried to speak TLS" in (r["text"] or "") for r in records)
        await finish(served, Ledger(), rss_before)


async def test_tls_clients_vanishing_mid_client_hello(tmp_path: Path) -> None:
    with Served(tmp_path / "tls.jsonl", tls=True, env=SMALL) as served:
        trusted = generated_trust()
        await served.assert_serves(trusted)
        rss_before = served.rss()
        hello, request = client_hello(), upgrade_request(served.port)
        insecure = generated_trust()
        insecure.check_hostname = False

        async def one(number: int) -> None:
            variant = number % 5
            if variant == 4:  # TLS done, then half an upgrade request
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        "127.0.0.1", served.port, ssl=insecure, server_hostname="localhost"
                    ),
                    10,
                )
                writer.write(request[: 1 + (number * 31) % (len(request) - 1)])
                await vanish(writer, reset=number % 2 == 0)
                return
            _, writer = await open_raw(served.port)
            if variant in (1, 2):
                writer.write(hello[: 1 + (number * 53) % (len(hello) - 1)])  # mid-ClientHello
            elif variant == 3:
                writer.write(hello)  # a whole ClientHello, gone before the ServerHello
            await vanish(writer, reset=variant == 2)

        started = time.monotonic()
        await in_batches(200, 20, one)
        elapsed = time.monotonic() - started
        pending = await hold_half_open(served.port, 30, hello[:100])
        try:
            await served.assert_serves(trusted)
        finally:
            for writer in pending:
                await vanish(writer, reset=True)
        say(f"mid-handshake (wss://): 200 vanishing clients in {elapsed:.2f} s")
        await no_client_left(served)
        records = served.records()
        assert sum(r["kind"] == "connect" for r in records) == 2  # the two health checks
        await finish(served, Ledger(), rss_before, context=trusted)


# --- clients vanishing mid-message ------------------------------------------------------


def partial_frame(variant: int, tag: str) -> bytes:
    """The start of a frame, never finished."""
    whole = text_frame(event(tag))
    if variant == 0:
        return whole[:1]  # the first header byte
    if variant == 1:
        return whole[:6] + whole[6:16]  # header and mask, ten bytes of the payload
    if variant == 2:
        return frame(OP_TEXT, b"x" * 300)[:3]  # half of a 16-bit extended length
    if variant == 3:
        return whole[:6]  # header and mask key, no payload
    if variant == 4:
        return frame(OP_TEXT, event(tag).encode(), fin=False)  # a message's first fragment
    return b""


async def test_clients_vanishing_mid_message(tmp_path: Path) -> None:
    with Served(tmp_path / "frames.jsonl", env=SMALL | {"CRIS_CLI_MAX_CLIENTS": "64"}) as served:
        await served.assert_serves()
        rss_before = served.rss()
        ledger = Ledger()

        async def one(number: int) -> None:
            name = f"cut-{number:03d}"
            _, writer = await raw_websocket(served.port)
            tags = [f"M{number:03d}-{index}" for index in range(number % 5)]
            for tag in tags:
                writer.write(text_frame(event(tag)))
                if number % 3 == 0:  # some in separate writes, some in one
                    await writer.drain()
                    await asyncio.sleep(0.001)
            ledger.client(name).extend(tags)
            last = f"M{number:03d}-partial"
            ledger.never.add(last)
            writer.write(partial_frame(number % 6, last))
            await vanish(writer, reset=number % 2 == 1)

        started = time.monotonic()
        await in_batches(120, 20, one)
        elapsed = time.monotonic() - started
        records = await served.wait_records(
            lambda records: sum(r["kind"] == "disconnect" for r in records) >= 121,
            "every cut connection's disconnect",
        )
        say(f"mid-message: 120 clients cut mid-frame in {elapsed:.2f} s")
        assert sum(r["kind"] == "connect" for r in records) == 121
        await finish(served, ledger, rss_before)


# --- protocol violations ----------------------------------------------------------------

MAX_SIZE = 1024

VIOLATIONS: dict[str, tuple[bytes, int]] = {
    # name: (what the client sends, the close code the endpoint must give)
    "binary": (frame(OP_BINARY, b"\x00\x01binary"), 1003),
    "invalid-utf8": (frame(OP_TEXT, b'{"command":"EVENT\xff\xfe"}'), 1007),
    "utf8-cut-across-fragments": (
        frame(OP_TEXT, b'{"command":"\xe2\x82', fin=False) + frame(OP_CONT, b"\xff}"),
        1007,
    ),
    "oversized": (text_frame(event("OVER", MAX_SIZE + 1)), 1009),
    "oversized-in-fragments": (
        frame(OP_TEXT, b"x" * 400, fin=False)
        + frame(OP_CONT, b"x" * 400, fin=False)
        + frame(OP_CONT, b"x" * 400),
        1009,
    ),
    "unmasked": (bytes([0x81, 0x05]) + b"hello", 1002),
    "reserved-bit": (bytes([0xC1]) + frame(OP_TEXT, b"{}")[1:], 1002),
    "unknown-opcode": (frame(0x3, b"{}"), 1002),
    "continuation-first": (frame(OP_CONT, b"{}"), 1002),
    "ping-too-long": (frame(0x9, b"p" * 126), 1002),
    "close-code-999": (frame(0x8, (999).to_bytes(2, "big") + b"bye"), 1002),
}


async def test_protocol_violations_close_the_client_and_keep_what_came_before(
    tmp_path: Path,
) -> None:
    limits = SMALL | {"CRIS_CLI_MAX_CLIENTS": "64"}
    with Served(
        tmp_path / "violations.jsonl", env=limits | {"CRIS_CLI_MAX_MESSAGE_SIZE": "1024"}
    ) as served:
        await served.assert_serves()
        rss_before = served.rss()
        ledger = Ledger()
        expected_code: dict[str, int] = {}  # first tag of a client -> its close code

        async def one(number: int) -> None:
            kind = list(VIOLATIONS)[number % len(VIOLATIONS)]
            violation, code = VIOLATIONS[kind]
            reader, writer = await raw_websocket(served.port)
            # Before the violation, whole messages (one exactly at the size limit) ...
            tags = [f"V{number:03d}-{index}" for index in range(1 + number % 3)]
            texts = [event(tag, MAX_SIZE if index == 0 else 0) for index, tag in enumerate(tags)]
            expected_code[tags[0]] = code
            data = b"".join(text_frame(text) for text in texts) + violation
            # ... and after it, messages the endpoint need not read.
            after = [f"V{number:03d}-after-{index}" for index in range(2)]
            ledger.maybe.update(after)
            data += b"".join(text_frame(event(tag)) for tag in after)
            ledger.client(f"violator-{number:03d}").extend(tags)
            if number % 2:
                writer.write(data)  # all in one segment
            else:
                try:
                    for piece in range(0, len(data), 7):  # dribbled, seven bytes at a time
                        writer.write(data[piece : piece + 7])
                        await writer.drain()
                except ConnectionError:
                    pass  # closed after the violation, before the messages after it
            try:
                closing = await asyncio.wait_for(reader.read(2), 10)  # the endpoint's close
                assert closing[:1] == b"\x88", (kind, closing)
            finally:
                await vanish(writer, reset=False)

        started = time.monotonic()
        await in_batches(8 * len(VIOLATIONS), 22, one)
        elapsed = time.monotonic() - started
        clients = 1 + 8 * len(VIOLATIONS)
        records = await served.wait_records(
            lambda records: sum(r["kind"] == "disconnect" for r in records) >= clients,
            "every violator's disconnect",
        )
        say(f"violations: {clients - 1} clients, {len(VIOLATIONS)} kinds, in {elapsed:.2f} s")
        client_of = {tag_of(r["raw"]): r["client"] for r in records if r["kind"] == "message"}
        gone = {r["client"]: r for r in records if r["kind"] == "disconnect"}
        for first, code in expected_code.items():
            text = gone[client_of[first]]["text"]
            assert f"closed by the endpoint, {code} " in text, (first, code, text)
            if code == 1009:
                assert [n["code"] for n in gone[client_of[first]]["notes"]] == ["oversized"]
            if code == 1007:
                assert [n["code"] for n in gone[client_of[first]]["notes"]] == ["invalid-utf8"]
        await finish(served, ledger, rss_before)


# --- floods -----------------------------------------------------------------------------


async def flood(
    served: Served, ledger: Ledger, count: int, *, size: int = 0, share: bool = False
) -> float:
    """``count`` events as fast as one client can send them (reconnecting when a newer
    client replaces it); ``share`` lets other clients of this loop in between sends.
    Returns messages a second."""
    sent, connection = 0, 0
    started = time.monotonic()
    while sent < count:
        client = await connect(served.url, open_timeout=10, close_timeout=10)
        name = f"flood-{connection}"
        connection += 1
        try:
            while sent < count and client.protocol.state is State.OPEN:
                tag = f"F{sent:05d}"
                sent += 1
                try:
                    await client.send(event(tag, size))
                except ConnectionClosed:
                    ledger.maybe.add(tag)
                    break
                ledger.client(name).append(tag)
                if share and sent % 10 == 0:
                    await asyncio.sleep(0)
        finally:
            await client.close()
    return count / (time.monotonic() - started)


async def test_a_flood_of_ten_thousand_messages_from_one_client(tmp_path: Path) -> None:
    with Served(tmp_path / "flood.jsonl", env=SMALL) as served:
        await served.assert_serves()
        rss_before = served.rss()
        ledger = Ledger()
        started = time.monotonic()
        rate = await flood(served, ledger, 10_000)
        await served.wait_tag("F09999", timeout=60)
        recorded = time.monotonic() - started
        say(f"flood: 10,000 messages sent at {rate:.0f}/s, all recorded after {recorded:.2f} s")
        assert len(ledger.sent) == 1  # one connection: nothing replaced it
        await finish(served, ledger, rss_before)


# --- readers that never read ------------------------------------------------------------


async def test_a_cris_client_that_never_reads_neither_blocks_nor_bloats_the_endpoint() -> None:
    """The endpoint sends CRIS commands without waiting; what waits for a client that
    never reads must stay bounded (as it does for control subscribers), or the
    client must be let go."""
    limit = 2 * SUBSCRIBER_BUFFER
    async with Endpoint(options(history=HISTORY, max_clients=2)) as endpoint:
        connected = asyncio.Event()
        endpoint.add_listener(lambda r: connected.set() if r.kind == "connect" else None)
        _, stalled = await raw_websocket(endpoint.port)  # never read from again
        await asyncio.wait_for(connected.wait(), 5)
        (client,) = endpoint.clients.values()
        connection = client.connection
        accessions = [f"A{i:07d}" for i in range(2000)]
        command = json.dumps({"command": "FETCHED", "accession": accessions})
        lagging: list[str] = []
        endpoint.add_listener(
            lambda r: lagging.append(r.text) if r.text and "is not reading" in r.text else None
        )
        me = psutil.Process()
        rss_before = me.memory_info().rss
        started = time.monotonic()
        slowest = 0.0
        for index in range(2500):  # 2,500 commands of 24 kB: 57 MB for a client that never reads
            before = time.monotonic()
            endpoint.send(command)
            slowest = max(slowest, time.monotonic() - before)
            if index % 50 == 0:
                await asyncio.sleep(0)  # the loop runs between commands, as it would
        elapsed = time.monotonic() - started
        buffered = connection.transport.get_write_buffer_size()
        rss_after = me.memory_info().rss
        say(
            f"slow CRIS client: {2500 * len(command) / MB:.0f} MB of commands sent in "
            f"{elapsed:.2f} s (slowest send {slowest * 1000:.1f} ms); still buffered for it: "
            f"{buffered / MB:.1f} MB; RSS {rss_before / MB:.0f} MB -> {rss_after / MB:.0f} MB"
        )
        # Sending never waits for the reader (send is not a coroutine); past the bound
        # the reader is skipped, said once, and the records say nothing reached it.
        assert len(lagging) == 1, lagging
        last = endpoint.history[-1]
        assert last.kind == "message" and last.delivered == 0
        watcher = Watcher(endpoint)
        async with connect(url(endpoint)) as normal:  # another client is served meanwhile
            await normal.send(event("NORMAL"))
            await watcher.wait_for(lambda r: tag_of(r.raw) == "NORMAL")
            endpoint.send('{"command":"CLEAR"}')
            assert await asyncio.wait_for(normal.recv(), 5) == '{"command":"CLEAR"}'
        assert len(endpoint.history) <= HISTORY
        let_go = connection.protocol.state is not State.OPEN
        stalled.transport.abort()
        assert let_go or buffered <= limit, (
            f"{buffered / MB:.1f} MB wait in memory for a CRIS client that never reads "
            f"(control subscribers are held to {SUBSCRIBER_BUFFER / MB:.0f} MB)"
        )


async def test_held_records_keep_only_their_raw_text() -> None:
    """A record in the history keeps its raw text, not its parsed form (which is made
    again when asked for), so that a long history stays small: commands sent to CRIS
    as much as events received from it."""
    import tracemalloc

    async with Endpoint(options(history=5000)) as endpoint:
        async with connect(url(endpoint)) as client:
            received = 0

            async def read() -> None:
                nonlocal received
                async for _ in client:
                    received += 1

            reading = asyncio.ensure_future(read())
            texts = [
                json.dumps(
                    {"command": "FETCHED", "accession": [f"{n:04d}-{i:03d}" for i in range(200)]}
                )
                for n in range(1000)
            ]
            raw_bytes = sum(len(text) for text in texts)
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                for index, text in enumerate(texts):
                    endpoint.send(text)
                    await client.send(event(f"R{index:04d}", 2400))
                    if index % 20 == 0:
                        await asyncio.sleep(0.001)
                for _ in range(500):
                    if received == len(texts) and endpoint.counts.received == len(texts):
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.1)
                grown = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            reading.cancel()
        held = len(endpoint.history)
        say(
            f"held records: {held} records from {2 * raw_bytes / MB:.1f} MB of raw text "
            f"grew traced memory by {grown / MB:.1f} MB"
        )
        assert received == len(texts) == endpoint.counts.received
        assert grown < 3 * raw_bytes, (
            f"{held} held records take {grown / MB:.1f} MB for {2 * raw_bytes / MB:.1f} MB "
            "of raw text: parsed forms are being held"
        )


class SpyingControl(ControlServer):
    """The control server, noting each control connection (to look at its buffer)."""

    connections: list[ServerConnection]

    async def serve(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        await super().serve(connection)


async def test_a_control_subscriber_that_never_reads_loses_records_not_memory(
    tmp_path: Path,
) -> None:
    async with Endpoint(options(history=HISTORY)) as endpoint:
        spy = SpyingControl(endpoint, "t0ken")
        spy.connections = []
        watcher = Watcher(endpoint)
        with Recorder(tmp_path / "subscriber.jsonl") as recorder:
            endpoint.add_listener(recorder)
            subscriber = await connect(
                url(endpoint, path=CONTROL_PATH),
                additional_headers={"Authorization": "Bearer t0ken"},
                max_queue=1,  # stops reading from the socket at once: a reader that never reads
                max_size=None,
            )
            await subscriber.send(json.dumps({"op": "subscribe"}))
            assert json.loads(await subscriber.recv()) == {"op": "subscribed"}
            (server_side,) = spy.connections
            published, peak = 0, 0

            def sample(record: Record) -> None:  # after the subscriber's turn at each record
                nonlocal published, peak
                published += 1
                peak = max(peak, server_side.transport.get_write_buffer_size())

            endpoint.add_listener(sample)
            ledger = Ledger()
            started = time.monotonic()
            async with connect(url(endpoint)) as cris:
                for index in range(10_000):
                    tag = f"C{index:05d}"
                    await cris.send(event(tag, 2048))
                    ledger.client("cris").append(tag)
            await watcher.wait_for(lambda r: r.kind == "disconnect", timeout=60)
            elapsed = time.monotonic() - started
            # Now read: records as they come, and what was dropped.
            received, dropped = await drain(subscriber, endpoint)
            say(
                f"stalled subscriber: 10,000 messages of 2 kB in {elapsed:.2f} s; "
                f"its buffer peaked at {peak / MB:.1f} MB (limit {SUBSCRIBER_BUFFER / MB:.0f} MB); "
                f"{received} records delivered, {dropped} dropped, {published} published"
            )
            await subscriber.close()
        assert peak <= SUBSCRIBER_BUFFER + 64 * 1024
        assert dropped > 0
        assert received + dropped == published  # every record delivered or counted
        ledger.check([r.as_json() for r in watcher.records])
        from abuse import read_records

        ledger.check(read_records(tmp_path / "subscriber.jsonl"))


async def drain(subscriber: ClientConnection, endpoint: Endpoint) -> tuple[int, int]:
    """Read everything queued for a subscriber, then publish one more record so the
    endpoint tells it what it dropped; return (records received, dropped count)."""
    received = dropped = 0
    triggered = False
    while True:
        try:
            frame_text = await asyncio.wait_for(subscriber.recv(), 0.5 if not triggered else 10)
        except TimeoutError:
            assert not triggered, "the trigger record never came"
            endpoint.notice("trigger", severity="warning")
            triggered = True
            continue
        message = json.loads(frame_text)
        if message["op"] == "dropped":
            dropped += message["count"]
        elif message["op"] == "record":
            received += 1
            if triggered and message["record"]["text"] == "trigger":
                return received, dropped


async def test_a_stalled_watch_process_loses_records_not_the_endpoints_memory(
    tmp_path: Path,
) -> None:
    """A real ``cris-cli watch``, stopped (SIGSTOP) while 10,000 messages arrive: the
    endpoint's memory stays bounded, and afterwards the watch says how many records
    it lost; shown plus lost is every record."""
    with Served(tmp_path / "watched.jsonl", env=SMALL) as served:
        with Running(["watch", "--port", str(served.port), "--json"]) as watch:
            watch.wait_for("watching endpoint")
            await served.assert_serves()
            watch.wait_for("HEALTH-1", stream="out")
            rss_before = served.rss()
            ledger = Ledger()
            watch.process.send_signal(signal.SIGSTOP)
            try:
                rate = await flood(served, ledger, 10_000, size=2048)
                await served.wait_tag("F09999", timeout=60)
                rss_peak = served.rss()
            finally:
                watch.process.send_signal(signal.SIGCONT)
            # Once the watch has caught up, the next record tells it what it lost.
            for attempt in range(60):
                async with connect(served.url) as client:
                    await client.send(event(f"T{attempt:02d}"))
                ledger.client(f"trigger-{attempt}").append(f"T{attempt:02d}")
                try:
                    watch.wait_for(r'"accession":\["T\d\d"\]', stream="out", timeout=0.5)
                    break
                except AssertionError:
                    continue
            await asyncio.sleep(0.3)
            assert await asyncio.to_thread(served.stop) == 0
            lost = int(watch.wait_for(r"(\d+) records were dropped").group(1))
            watch.wait_for("the endpoint went away; reconnecting")
            assert watch.stop() == 0
        shown = [json.loads(line)["seq"] for line in watch.stdout.splitlines()]
        say(
            f"stopped watch: flood at {rate:.0f}/s; serve RSS {rss_before / MB:.1f} MB -> "
            f"{rss_peak / MB:.1f} MB at the peak; the watch showed {len(shown)} records and "
            f"lost {lost}"
        )
        assert rss_peak - rss_before < RSS_GROWTH_LIMIT
        assert lost > 0
        assert shown == sorted(set(shown))
        assert len(shown) + lost == shown[-1] - shown[0] + 1
        ledger.check(served.records())
        served.assert_no_crash_output()


# --- everything at once -----------------------------------------------------------------


async def test_everything_at_once(tmp_path: Path) -> None:
    """Storm, flood, half handshakes, cut frames and violations together, against one
    endpoint that lets a newer client replace an older one (the default)."""
    with Served(tmp_path / "gauntlet.jsonl", env=SMALL) as served:
        await served.assert_serves()
        rss_before = served.rss()
        ledger = Ledger()
        request = upgrade_request(served.port)

        async def handshakes() -> None:
            async def one(number: int) -> None:
                _, writer = await open_raw(served.port)
                writer.write(request[: 1 + number % (len(request) - 1)])
                await vanish(writer, reset=number % 2 == 0)

            await in_batches(200, 20, one)

        async def cut_frames() -> None:
            async def one(number: int) -> None:
                try:
                    _, writer = await raw_websocket(served.port)
                except (ConnectionError, asyncio.IncompleteReadError):
                    return
                tag = f"G{number:03d}"
                ledger.never.add(tag)
                writer.write(partial_frame(number % 5, tag))
                await vanish(writer, reset=number % 2 == 0)

            await in_batches(100, 10, one)

        async def violations() -> None:
            async def one(number: int) -> None:
                try:
                    _, writer = await raw_websocket(served.port)
                except (ConnectionError, asyncio.IncompleteReadError):
                    return
                kind = list(VIOLATIONS)[number % len(VIOLATIONS)]
                writer.write(VIOLATIONS[kind][0])
                ledger.maybe.add("OVER")  # not over this endpoint's limit: it may be recorded
                await vanish(writer, reset=False)

            await in_batches(len(VIOLATIONS) * 5, 11, one)

        started = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(
                storm(served, ledger, 500, workers=3),
                flood(served, ledger, 5_000, share=True),
                handshakes(),
                cut_frames(),
                violations(),
            ),
            120,
        )
        elapsed = time.monotonic() - started
        await served.wait_tag("F04999", timeout=30)
        await asyncio.sleep(0.5)
        floods = sum(name.startswith("flood-") for name in ledger.sent)
        say(f"everything at once: {elapsed:.2f} s; the flood was replaced {floods - 1} times")
        await finish(served, ledger, rss_before)
