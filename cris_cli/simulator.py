"""CRIS Reporting, simulated: dials a PACS endpoint and behaves like CRIS.

The behaviour is :mod:`cris_cli.reporting`'s state machine; this module only
moves text: it connects (TLS trust by CA file, by fingerprint pin, or not at
all), reconnects with exponential backoff and logs in again, feeds the PACS's
commands and the user's actions to the machine, and sends what it yields.
Everything that happens is a record in its journal, as at the endpoint.

It does not reconnect after the PACS closes it with code 4001: the endpoint
says so when a newer CRIS client took this one's place, and reconnecting would
put that one out in turn, the two replacing each other for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.typing import Origin

from .codec import Parsed, parse, serialize
from .errors import ConnectionFailed
from .handshakes import CLOSE_REPLACED
from .journal import Journal
from .messages import CrisEvent, Direction, UserLoggedIn
from .ports import is_loopback
from .records import Kind, Note, Record
from .reporting import Action, Machine, Outcome, Screen
from .trust import client_context, normalize_fingerprint

BACKOFF_START = 0.5
BACKOFF_MAX = 10.0


@dataclass(frozen=True)
class Dial:
    """Where and how to reach the PACS endpoint."""

    url: str = "wss://localhost:56998/"
    cafile: Path | None = None
    pin_sha256: str | None = None
    insecure: bool = False
    origin: str | None = None

    @property
    def tls(self) -> bool:
        return self.url.startswith("wss://")

    def context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        if self.pin_sha256 is not None:  # the pin is checked after the handshake
            return client_context(insecure=True)
        return client_context(cafile=self.cafile, insecure=self.insecure)

    def proxy_options(self) -> dict[str, Any]:
        """A PACS on this machine is dialled directly, whatever proxy the
        environment names (hospital machines often name one for everything)."""
        try:
            host = urlsplit(self.url).hostname or ""
        except ValueError:
            return {}
        return {"proxy": None} if is_loopback(host) else {}


class Fatal(ConnectionFailed):
    """Raised when retrying cannot help (a TLS trust failure, a wrong pin, a bad URL,
    or another CRIS client taking this one's place)."""


class Simulator:
    """One simulated CRIS Reporting session against one PACS endpoint."""

    def __init__(
        self,
        dial: Dial,
        machine: Machine,
        *,
        history: int = 100_000,
        clock: Callable[[], float] = time.time,
        backoff: tuple[float, float] = (BACKOFF_START, BACKOFF_MAX),
    ) -> None:
        self.dial = dial
        self.machine = machine
        self.journal = Journal(history)
        self.clock = clock
        self.backoff = backoff
        self.connection: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        self.connected_since: float | None = None
        self.started = clock()
        self._stopping = asyncio.Event()
        self.error: ConnectionFailed | None = None
        self.last_failure: str | None = None  # why the last attempt to connect failed

    # --- records --------------------------------------------------------------------

    def _publish(self, kind: Kind, text: str | None = None, **more: Any) -> Record:
        return self.journal.publish(Record(kind, time=self.clock(), text=text, **more))

    def _notice(self, text: str, severity: str = "info") -> None:
        note = Note("simulator", text, "warning" if severity == "warning" else "info")
        self._publish("notice", text, notes=(note,))

    # --- connection -----------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until :meth:`stop`, reconnecting with backoff.

        Raises :class:`Fatal` when the PACS can never be reached as configured.
        """
        delay = self.backoff[0]
        while not self._stopping.is_set():
            try:
                await self._session()
                delay = self.backoff[0]
            except Fatal as error:
                self.error = error
                self._notice(str(error), "warning")
                raise
            except (OSError, TimeoutError, WebSocketException) as error:
                self.last_failure = _reason(error, self.dial)
                self._notice(
                    f"cannot reach the PACS at {self.dial.url}: {self.last_failure}; "
                    f"trying again in {delay:g} s",
                    "warning",
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.backoff[1])

    async def _session(self) -> None:
        context = self.dial.context()
        try:
            connection = await connect(
                self.dial.url,
                ssl=context,
                origin=Origin(self.dial.origin) if self.dial.origin else None,
                compression=None,
                open_timeout=10,
                **self.dial.proxy_options(),
            )
        except ssl.SSLCertVerificationError as error:  # a ValueError too: first
            raise Fatal(
                f"the PACS certificate is not trusted: {error.verify_message}",
                hint="give its certificate with --cafile, its fingerprint with --pin-sha256, "
                "or (for a test) --insecure",
            ) from None
        except (InvalidURI, ValueError) as error:  # a port out of range is a ValueError
            raise Fatal(f"not a WebSocket address: {self.dial.url} ({error})") from None
        except InvalidStatus as error:
            status = error.response.status_code
            raise OSError(f"the PACS refused the connection (HTTP {status})") from None
        try:
            self._check_pin(connection)
            self.connection = connection
            self.connects += 1
            self.last_failure = None
            self.connected_since = self.clock()
            self.connected.set()
            peer = self.dial.url
            again = " again" if self.connects > 1 else ""
            self._publish("connect", f"connected{again} to the PACS at {peer}", peer=peer, client=1)
            if self.connects > 1 and self.machine.state.screen is not Screen.LOGGED_OUT:
                # After a reconnect CRIS logs in again, so the PACS knows who is there.
                await self._send((UserLoggedIn(domain=self.machine.context.options.domain),))
            await self._receive(connection)
        finally:
            self.connected.clear()
            self.connection = None
            await connection.close()
        if not self._stopping.is_set():
            code, reason = connection.close_code, connection.close_reason
            if code is None or code == 1006:
                text = "lost the connection to the PACS (no close frame)"
            else:
                text = f"the PACS closed the connection ({code} {reason})".replace(" )", ")")
            self._publish("disconnect", text, peer=self.dial.url, client=1)
            if code == CLOSE_REPLACED:
                raise Fatal(
                    "another CRIS client took this one's place on the PACS (4001)",
                    hint="the endpoint's --max-clients N lets more stay connected",
                )

    def _check_pin(self, connection: ClientConnection) -> None:
        if self.dial.pin_sha256 is None:
            return
        ssl_object = connection.transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        seen = hashlib.sha256(der or b"").hexdigest()
        if normalize_fingerprint(seen) != normalize_fingerprint(self.dial.pin_sha256):
            raise Fatal(
                f"the PACS certificate's SHA-256 fingerprint is {normalize_fingerprint(seen)}, "
                f"not the pinned {normalize_fingerprint(self.dial.pin_sha256)}",
                hint="check the fingerprint the PACS prints, or 'cris-cli cert show' there",
            )

    async def _receive(self, connection: ClientConnection) -> None:
        try:
            async for frame in connection:
                if isinstance(frame, bytes):
                    self._notice(
                        f"the PACS sent a binary frame ({len(frame)} bytes); ignored", "warning"
                    )
                    continue
                await self.command(frame)
        except ConnectionClosed:
            pass

    async def stop(self) -> None:
        """End the session: close the connection (1001) and stop reconnecting."""
        self._stopping.set()
        if self.connection is not None:
            await self.connection.close(1001, "CRIS Reporting is closing")

    # --- behaviour ------------------------------------------------------------------

    async def command(self, text: str) -> Outcome | None:
        """A command from the PACS: recorded, handed to CRIS, answered with its events."""
        decoded = parse(text, Direction.PACS_TO_CRIS)
        outcome = None
        notes: tuple[Note, ...] = ()
        if isinstance(decoded, Parsed):
            outcome = self.machine.handle(decoded.message)
            notes = _notes(outcome)
        self._publish_message(Direction.PACS_TO_CRIS, text, decoded=decoded, notes=notes)
        if outcome is not None:
            await self._send(outcome.events)
        return outcome

    async def act(self, action: Action) -> Outcome:
        """Something the CRIS user does; its events go to the PACS if connected."""
        outcome = self.machine.handle(action)
        if not outcome.accepted or outcome.reason:
            verb = " ".join((action.verb, *action.args))
            prefix = "ignored" if not outcome.accepted else "note"
            self._notice(
                f"{verb}: {prefix}: {outcome.reason}", "warning" if not outcome.accepted else "info"
            )
        await self._send(outcome.events)
        return outcome

    async def _send(self, events: tuple[CrisEvent, ...]) -> None:
        for event in events:
            if not await self.send_raw(serialize(event)):
                self._notice(f"not connected to the PACS: {event.command} not sent", "warning")

    async def send_raw(self, text: str) -> bool:
        """Send text exactly as given (to test how a PACS copes); False if not connected."""
        connection = self.connection
        if connection is None:
            return False
        try:
            await connection.send(text)
        except ConnectionClosed:
            return False
        self._publish_message(Direction.CRIS_TO_PACS, text, delivered=1)
        return True

    def _publish_message(self, direction: Direction, text: str, **more: Any) -> Record:
        record = Record(
            "message",
            time=self.clock(),
            direction=direction,
            peer=self.dial.url,
            client=1,
            raw=text,
            **more,
        )
        return self.journal.publish(record)

    def status(self) -> dict[str, Any]:
        state = self.machine.state
        return {
            "url": self.dial.url,
            "tls": self.dial.tls,
            "uptime": round(self.clock() - self.started, 3),
            "connected": self.connection is not None,
            "connects": self.connects,
            "screen": state.screen.value,
            "user": state.user,
            "report": list(state.report),
            "clients": [
                {
                    "client": 1,
                    "peer": self.dial.url,
                    "origin": self.dial.origin,
                    "since": self.connected_since or self.started,
                }
            ]
            if self.connection is not None
            else [],
        }


def _notes(outcome: Outcome) -> tuple[Note, ...]:
    if not outcome.accepted:
        return (Note("ignored", f"CRIS ignores it: {outcome.reason}", "warning"),)
    if outcome.reason:
        return (Note("simulator", outcome.reason, "info"),)
    return ()


def _reason(error: BaseException, dial: Dial) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the PACS endpoint running?)"
    # A scheme that does not match the endpoint fails obscurely: say what to try.
    if isinstance(error, InvalidMessage) and not dial.tls:
        return f"{error} (if the PACS uses TLS, dial wss://)"
    if isinstance(error, ConnectionResetError) and dial.tls:
        return (
            "the connection was reset while connecting (if the PACS does not use TLS, dial ws://)"
        )
    return str(error) or error.__class__.__name__
