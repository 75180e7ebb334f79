"""Test support for abuse tests: hostile clients at the byte level, a served
endpoint with its record file and memory in view, and checks that a record
holds every message a client fully sent, exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import ssl
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import connect

from cris_cli import runtime
from cris_cli.remote import ControlClient
from processes import Running

MASK_KEY = b"\x3a\x91\x5c\x07"  # fixed: the tests are deterministic
OP_TEXT, OP_BINARY, OP_CONT, OP_CLOSE = 0x1, 0x2, 0x0, 0x8
HEALTH = "HEALTH-"  # tags of the health checks' own events (checked where they are sent)


def event(tag: str, size: int = 0) -> str:
    """A real-shaped CRIS event whose accession ``tag`` names who sent it, padded
    (with an exam code) to exactly ``size`` bytes when ``size`` is given."""
    message = {"command": "EVENT", "accession": [tag], "domain": "RXH"}
    text = json.dumps(message, separators=(",", ":"))
    if size:
        padding = size - len(text) - len(',"examCode":""')
        assert padding >= 0, f"{size} bytes is too small for an event"
        text = json.dumps(message | {"examCode": "X" * padding}, separators=(",", ":"))
        assert len(text.encode()) == size
    return text


def tag_of(raw: str | None) -> str | None:
    """The tag :func:`event` put in ``raw``, or None."""
    if raw is None:
        return None
    found = re.search(r'"accession":\s*\[\s*"([^"]*)"\s*\]', raw)
    return found.group(1) if found else None


# --- WebSocket and TLS at the byte level --------------------------------------------


def upgrade_request(port: int, path: str = "/", host: str = "localhost") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes = MASK_KEY) -> bytes:
    """One client-to-server frame (masked, as RFC 6455 requires of clients)."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head.append(0x80 | size)
    elif size < 1 << 16:
        head.append(0x80 | 126)
        head += size.to_bytes(2, "big")
    else:
        head.append(0x80 | 127)
        head += size.to_bytes(8, "big")
    head += mask
    masked = bytes(b ^ m for b, m in zip(payload, itertools.cycle(mask), strict=False))
    return bytes(head) + masked


def text_frame(text: str) -> bytes:
    return frame(OP_TEXT, text.encode("utf-8"))


def client_hello(server_hostname: str = "localhost") -> bytes:
    """The bytes of a real TLS ClientHello, as a browser's TLS stack starts."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()  # writes the ClientHello, then wants the ServerHello
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 100
    return hello


def reset_on_close(writer: asyncio.StreamWriter) -> None:
    """Make closing this connection send a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def open_raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)


async def raw_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket connection opened by hand, to send frames nobody else would."""
    reader, writer = await open_raw(port)
    writer.write(upgrade_request(port))
    await writer.drain()
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert response.startswith(b"HTTP/1.1 101"), response
    return reader, writer


async def vanish(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    """Close a raw connection: a FIN after everything written, or a RST."""
    if reset:
        reset_on_close(writer)
    else:
        await writer.drain()
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 5)


# --- what clients sent, and what a record must then hold ---------------------------


@dataclass
class Ledger:
    """Per client: the messages it fully sent, in order, which the record must hold."""

    sent: dict[str, list[str]] = field(default_factory=dict)
    """client name -> tags of messages it fully sent."""
    never: set[str] = field(default_factory=set)
    """tags of messages only partly sent: recording one would be inventing it."""
    maybe: set[str] = field(default_factory=set)
    """tags of messages sent after a protocol violation (the endpoint may have closed
    the connection before reading them) or written into a connection as it was
    being replaced."""

    def client(self, name: str) -> list[str]:
        return self.sent.setdefault(name, [])

    @property
    def total(self) -> int:
        return sum(len(tags) for tags in self.sent.values())

    def check(self, records: Sequence[dict[str, Any]]) -> None:
        """Every fully sent message recorded exactly once, in order per client;
        nothing recorded that no client sent; no partial message recorded."""
        recorded = [
            tag
            for r in records
            if r["kind"] == "message" and r["direction"] == "cris-to-pacs"
            for tag in [tag_of(r["raw"])]
            if tag is not None and not tag.startswith(HEALTH)
        ]
        counts: dict[str, int] = {}
        for tag in recorded:
            counts[tag] = counts.get(tag, 0) + 1
        expected = {tag for tags in self.sent.values() for tag in tags}
        missing = sorted(expected - counts.keys())
        twice = sorted(tag for tag, n in counts.items() if n > 1 and tag not in self.maybe)
        invented = sorted(counts.keys() & self.never)
        unknown = sorted(counts.keys() - expected - self.never - self.maybe)
        assert not missing, f"{len(missing)} fully sent messages not recorded: {missing[:10]}"
        assert not twice, f"recorded more than once: {twice[:10]}"
        assert not invented, f"partly sent messages recorded: {invented[:10]}"
        assert not unknown, f"recorded but never sent: {unknown[:10]}"
        position = {tag: index for index, tag in enumerate(recorded)}
        for name, tags in self.sent.items():
            order = [position[tag] for tag in tags]
            assert order == sorted(order), f"{name}: recorded out of order"


# --- a served endpoint: record file, memory, health ----------------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a record file (each must parse)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8")
    return [json.loads(line) for line in complete.splitlines()]


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


class Served:
    """``cris-cli serve --record FILE`` as a real process, with ways to look inside."""

    def __init__(
        self,
        record: Path,
        *extra: str,
        tls: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.record = record
        self.tls = tls
        args = ["serve", "--port", "0", "--record", str(record), *extra]
        if not tls:
            args.append("--no-tls")
        self.running = Running(args, env=env)
        self.port = self.running.port()
        self.pid = self.running.process.pid
        self._health = itertools.count(1)

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://localhost:{self.port}/"

    def rss(self) -> int:
        return rss(self.pid)

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.record)

    async def wait_records(
        self, match: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = 15
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            records = self.records()
            if match(records):
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"the record file never showed {what} within {timeout} s")
            assert self.running.process.poll() is None, f"serve died:\n{self.running.stderr}"
            await asyncio.sleep(0.05)

    async def wait_tag(self, tag: str, timeout: float = 15) -> list[dict[str, Any]]:
        return await self.wait_records(
            lambda records: any(tag_of(r["raw"]) == tag for r in records), tag, timeout
        )

    async def control(self) -> ControlClient:
        info = runtime.find(self.port)
        assert info is not None, "serve published no runtime file"
        return await ControlClient.connect(info)

    async def held(self) -> int:
        """How many records the endpoint holds in memory (its history), by asking
        the control channel to replay all of them."""
        control = await self.control()
        seen: list[int] = []
        control.on_record = lambda record: seen.append(record.seq)
        try:
            await control.subscribe(history=10**9)
            await asyncio.sleep(0.3)
            count = -1
            while count != len(seen):  # until the replay stops coming
                count = len(seen)
                await asyncio.sleep(0.2)
        finally:
            await control.close()
        return len(seen)

    async def assert_serves(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """A normal CRIS client: connects, its EVENT is recorded, a command reaches it."""
        tag = f"{HEALTH}{next(self._health)}"
        async with connect(self.url, ssl=ssl_context, open_timeout=10) as client:
            await client.send(event(tag))
            await self.wait_tag(tag)
            control = await self.control()
            try:
                display = json.dumps(
                    {"command": "DISPLAY", "accession": [tag]}, separators=(",", ":")
                )
                assert (await control.send(display)).delivered >= 1
            finally:
                await control.close()
            assert await asyncio.wait_for(client.recv(), 10) == display

    def assert_no_crash_output(self) -> None:
        """No traceback or asyncio error report on stderr: nothing failed unnoticed."""
        err = self.running.stderr
        for sign in (
            "Traceback",
            "Exception in callback",
            "exception was never retrieved",
            "Task was destroyed",
        ):
            assert sign not in err, f"serve's stderr shows {sign!r}:\n{err[-4000:]}"

    def stop(self) -> int:
        return self.running.stop()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.running.__exit__(*exc_info)
