"""The PACS endpoint: the WebSocket server CRIS Reporting connects to.

It listens on one port and answers three kinds of request there:

* ``GET /`` without an upgrade: a small page, so that a user can accept the
  certificate in the browser once;
* WebSocket upgrades on ``/``: CRIS clients, checked for ``Host`` (against DNS
  rebinding) and ``Origin`` (against other web pages);
* WebSocket upgrades on the control path: other cris-cli processes, handled
  by :mod:`cris_cli.control`.

Everything that happens becomes a :class:`~cris_cli.records.Record`, handed
to every listener in the order it happened and held in a bounded history.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import __version__
from .admission import Admission
from .codec import Malformed, parse
from .errors import PortInUse
from .handshakes import (
    CLOSE_REPLACED,
    close_details,
    explain_tls_failure,
    reporting_ssl_object,
    sniffing_connection,
)
from .journal import Journal, Listener
from .messages import Direction
from .records import Kind, Note, NoteSeverity, Record
from .runtime import CONTROL_PATH
from .safety import SafetyChecks

CLOSE_UNSUPPORTED = 1003
SLOW_READER_BUFFER = 8 * 2**20  # bytes waiting for one CRIS client before it is skipped


class ControlService(Protocol):
    """What the endpoint needs from the control channel (see :mod:`cris_cli.control`)."""

    def authorize(self, request: Request) -> tuple[int, str] | None:
        """None to accept the control request, else an HTTP status and why."""

    async def serve(self, connection: ServerConnection) -> None:
        """Run one control session."""


@dataclass(frozen=True)
class EndpointOptions:
    host: str = "127.0.0.1"
    port: int = 56998
    ssl: ssl.SSLContext | None = None
    fingerprint: str | None = None
    allow_origins: tuple[str, ...] = ()
    allow_any_origin: bool = False
    max_clients: int = 1
    max_message_size: int = 65536
    history: int = 100_000
    confirm_within: float = 5.0


@dataclass
class CrisClient:
    """A connected CRIS Reporting."""

    number: int
    connection: ServerConnection
    peer: str
    origin: str | None
    since: float
    received: int = 0
    lagging: bool = False  # skipped by sends while it does not read


@dataclass
class Counts:
    received: int = 0
    sent: int = 0
    malformed: int = 0
    refused: int = 0
    connections: int = 0


def format_peer(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address)


class _RecordingHandler(logging.Handler):
    """Turns the websockets library's warnings into notice records."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(logging.WARNING)
        self.endpoint = endpoint

    def emit(self, record: logging.LogRecord) -> None:
        detail = f": {record.exc_info[1]}" if record.exc_info and record.exc_info[1] else ""
        self.endpoint.notice(f"websocket: {record.getMessage()}{detail}", severity="warning")


class Endpoint:
    """The PACS side of CRIS Connect, listening for CRIS Reporting."""

    def __init__(self, options: EndpointOptions, *, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.clients: dict[int, CrisClient] = {}
        self.journal = Journal(options.history)
        self.safety = SafetyChecks(options.confirm_within)
        self._closing: set[asyncio.Future[None]] = set()
        self.counts = Counts()
        self.admission = Admission(
            options.host, options.port, options.allow_origins, options.allow_any_origin
        )
        self.control: ControlService | None = None
        self.started = clock()
        self.port = options.port
        self._numbers = itertools.count(1)
        self._server: Server | None = None
        # A logger of its own, not registered with logging (so none is left behind
        # per endpoint), at WARNING: websockets skips its debug work below that.
        self._logger = logging.Logger("cris_cli.endpoint", logging.WARNING)
        self._logger.addHandler(_RecordingHandler(self))

    # --- lifecycle ------------------------------------------------------------------

    @property
    def tls(self) -> bool:
        return self.options.ssl is not None

    @property
    def url(self) -> str:
        """The address CRIS Reporting is configured with."""
        return f"{'wss' if self.tls else 'ws'}://{self.display_host}:{self.port}/"

    @property
    def page_url(self) -> str:
        """The page to open once in the browser to accept the certificate."""
        return f"{'https' if self.tls else 'http'}://{self.display_host}:{self.port}/"

    @property
    def display_host(self) -> str:
        host = self.options.host
        if host in ("127.0.0.1", "::1", "localhost"):
            return "localhost"
        return f"[{host}]" if ":" in host else host

    async def start(self) -> None:
        """Bind and listen. Raises :class:`PortInUse` when the port is taken."""
        if self.options.ssl is not None:
            self.options.ssl.sslobject_class = reporting_ssl_object(self._tls_failed)
        try:
            self._server = await serve(
                self._serve_connection,
                self.options.host,
                self.options.port,
                ssl=self.options.ssl,
                create_connection=None if self.tls else sniffing_connection(self._tls_attempted),
                process_request=self._process_request,
                compression=None,  # loopback: compression costs time and saves nothing
                max_size=self.options.max_message_size,
                max_queue=64,
                server_header=f"cris-cli/{__version__}",
                logger=self._logger,
            )
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
                from .ports import holder_of

                holder = holder_of(self.options.port)
                raise PortInUse(
                    f"port {self.options.port} is already in use by {holder.describe()}",
                    hint="stop that program, or choose another port with --port "
                    "(56996 is CRIS Connect's documented alternative)",
                ) from None
            raise
        self.port = self.admission.port = self._server.sockets[0].getsockname()[1]
        self.started = self.clock()

    async def close(self) -> None:
        """Close every connection with a close frame (1001, going away), then stop."""
        if self._server is not None:
            self._server.close(close_connections=True, reason="the PACS endpoint is stopping")
            await self._server.wait_closed()
            self._server = None
        for handler in list(self._logger.handlers):
            self._logger.removeHandler(handler)

    async def __aenter__(self) -> Endpoint:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- records --------------------------------------------------------------------

    @property
    def history(self) -> deque[Record]:
        return self.journal.history

    def add_listener(self, listener: Listener) -> None:
        self.journal.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        self.journal.remove_listener(listener)

    def publish(self, record: Record) -> Record:
        """Number ``record``, hand it to every listener, and hold it."""
        return self.journal.publish(record)

    def _record(
        self, kind: Kind, text: str, client: CrisClient | None = None, **more: object
    ) -> Record:
        return Record(
            kind,
            time=self.clock(),
            peer=None if client is None else client.peer,
            client=None if client is None else client.number,
            origin=None if client is None else client.origin,
            text=text,
            **more,  # type: ignore[arg-type]
        )

    def notice(self, text: str, *, severity: NoteSeverity = "warning") -> Record:
        """Publish a notice about the link itself (not a message)."""
        note = Note("endpoint", text, severity)
        return self.publish(Record("notice", time=self.clock(), text=text, notes=(note,)))

    def _tls_failed(self, reason: str) -> None:
        self.notice(explain_tls_failure(reason, self.page_url))

    def _tls_attempted(self, peer: str) -> None:
        self.notice(
            f"{peer} tried to speak TLS (wss://) but this endpoint runs without it (--no-tls); "
            "drop --no-tls, or configure the client for ws://"
        )

    # --- sending --------------------------------------------------------------------

    def send(self, text: str) -> Record | None:
        """Send wire text to every connected CRIS client.

        Returns the record of the sent message, or None when no client is
        connected (then nothing is sent and nothing recorded).
        """
        if not self.clients:
            return None
        connections = []
        for client in self.clients.values():
            if client.connection.transport.get_write_buffer_size() > SLOW_READER_BUFFER:
                self._slow_reader(client)  # not read for megabytes: skipped, not buffered
            else:
                if client.lagging:
                    client.lagging = False
                    self.notice(
                        f"CRIS client {client.number} reads again: messages go to it again",
                        severity="info",
                    )
                connections.append(client.connection)
        failed = len(self.clients) - len(connections)
        try:
            broadcast(connections, text, raise_exceptions=True)
        except ExceptionGroup as group:
            failed += len(group.exceptions)
        delivered = len(self.clients) - failed
        self.counts.sent += 1
        peer = next(iter(self.clients.values())).peer if len(self.clients) == 1 else "all"
        record = Record(
            "message",
            time=self.clock(),
            direction=Direction.PACS_TO_CRIS,
            peer=peer,
            client=next(iter(self.clients)) if len(self.clients) == 1 else None,
            raw=text,
            decoded=parse(text, Direction.PACS_TO_CRIS),
            delivered=delivered,
        )
        self.journal.number(record)
        self.safety.sent(record)  # before publishing, which compacts the record
        self.publish(record)
        if self.safety.pending:
            loop = asyncio.get_running_loop()
            loop.call_later(self.options.confirm_within + 0.01, self._report_overdue)
        return record

    def _slow_reader(self, client: CrisClient) -> None:
        if not client.lagging:
            client.lagging = True
            self.notice(
                f"CRIS client {client.number} ({client.peer}) is not reading what it is sent: "
                f"over {SLOW_READER_BUFFER // 2**20} MiB wait for it, so messages to it are "
                "dropped until it catches up"
            )

    def _report_overdue(self) -> None:
        for note in self.safety.overdue(self.clock()):
            self.publish(Record("notice", time=self.clock(), text=note.text, notes=(note,)))

    # --- HTTP and handshake checks -------------------------------------------------

    def allow_origin(self, origin: str) -> None:
        self.admission.allow_origin(origin)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        peer = format_peer(connection.remote_address)
        decision = self.admission.screen(request, peer, self.control, self._page)
        if decision.refusal is not None:
            self._refuse(peer, decision.origin, decision.refusal)
        return decision.response

    def _page(self) -> str:
        from .pages import endpoint_page

        return endpoint_page(self.url, self.options.fingerprint, __version__)

    def _refuse(self, peer: str, origin: str | None, text: str) -> None:
        self.counts.refused += 1
        self.publish(Record("refused", time=self.clock(), peer=peer, origin=origin, text=text))

    # --- connections ----------------------------------------------------------------

    async def _serve_connection(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        if request.path.split("?", 1)[0] == CONTROL_PATH:
            assert self.control is not None
            await self.control.serve(connection)
            return
        origins = request.headers.get_all("Origin")
        client = self._admit(connection, origins[0] if origins else None)
        try:
            await self._receive(client)
        finally:
            self.clients.pop(client.number, None)
            self.safety.forget(client.number)
            self.publish(self._closed(client, connection))

    def _admit(self, connection: ServerConnection, origin: str | None) -> CrisClient:
        client = CrisClient(
            number=next(self._numbers),
            connection=connection,
            peer=format_peer(connection.remote_address),
            origin=origin,
            since=self.clock(),
        )
        self.counts.connections += 1
        while len(self.clients) >= max(self.options.max_clients, 1):
            oldest = min(self.clients.values(), key=lambda c: c.since)
            self.clients.pop(oldest.number)
            closing = asyncio.ensure_future(
                oldest.connection.close(CLOSE_REPLACED, f"replaced by CRIS client {client.number}")
            )
            self._closing.add(closing)  # held until done: a task nobody holds may vanish
            closing.add_done_callback(self._closing.discard)
        self.clients[client.number] = client
        source = f"origin {origin}" if origin else "no origin: a native client"
        self.publish(
            self._record(
                "connect",
                f"CRIS client {client.number} connected from {client.peer} ({source})",
                client,
            )
        )
        return client

    async def _receive(self, client: CrisClient) -> None:
        connection = client.connection
        try:
            async for frame in connection:
                if isinstance(frame, bytes):
                    self.counts.malformed += 1
                    self.notice(
                        f"CRIS client {client.number} sent a binary frame ({len(frame)} bytes); "
                        "CRIS Connect messages are JSON text, so the connection was closed"
                    )
                    await connection.close(
                        CLOSE_UNSUPPORTED, "binary frames are not supported; send JSON text"
                    )
                    return
                try:
                    self.ingest(client, frame)
                except Exception as error:  # one bad message must not end the session
                    self.notice(
                        f"internal error reading a message from CRIS client {client.number}: "
                        f"{error!r} (please report it); the connection stays open"
                    )
        except ConnectionClosed:
            pass

    def ingest(self, client: CrisClient, text: str) -> Record:
        """One text message from CRIS: parsed, recorded, published."""
        client.received += 1
        self.counts.received += 1
        decoded = parse(text, Direction.CRIS_TO_PACS)
        if isinstance(decoded, Malformed):
            self.counts.malformed += 1
        record = Record(
            "message",
            time=self.clock(),
            direction=Direction.CRIS_TO_PACS,
            peer=client.peer,
            client=client.number,
            origin=client.origin,
            raw=text,
            decoded=decoded,
        )
        self.journal.number(record)
        notes = self.safety.received(record)
        if notes:
            record.with_notes(*notes)
        return self.publish(record)

    def _closed(self, client: CrisClient, connection: ServerConnection) -> Record:
        code, reason, who = close_details(connection)
        text = f"CRIS client {client.number} disconnected ({who}"
        text += f", {code} {reason})" if code is not None else ")"
        notes: tuple[Note, ...] = ()
        if code == 1009:
            notes = (
                Note(
                    "oversized",
                    f"a message over {self.options.max_message_size} bytes was "
                    "refused; raise endpoint.max_message_size if CRIS really sends such messages",
                    "warning",
                ),
            )
        elif code == 1007:
            notes = (
                Note("invalid-utf8", "the client sent text that is not valid UTF-8", "warning"),
            )
        return self._record("disconnect", text, client, notes=notes)

    def status(self) -> dict[str, object]:
        """Everything ``status`` shows, as JSON-ready values."""
        now = self.clock()
        return {
            "url": self.url,
            "tls": self.tls,
            "fingerprint": self.options.fingerprint,
            "uptime": round(now - self.started, 3),
            "max_clients": self.options.max_clients,
            "clients": [
                {
                    "client": c.number,
                    "peer": c.peer,
                    "origin": c.origin,
                    "since": c.since,
                    "received": c.received,
                    "reading": not c.lagging,  # False while sends skip it
                }
                for c in self.clients.values()
            ],
            "counts": vars(self.counts).copy(),
            "last_activity": self.journal.last_activity,
            "allowed_origins": sorted(self.admission.allowed_origins),
            "allow_any_origin": self.options.allow_any_origin,
        }
