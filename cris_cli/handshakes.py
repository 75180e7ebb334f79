"""How connections fail and end, made visible.

The commonest CRIS Connect setup problems happen before any WebSocket exists:
the browser has not accepted the certificate yet, or one side speaks TLS and
the other does not. Left alone, both are silent (the connection just closes).
These hooks turn them into a notice that says what to do. And when a
connection ends, :func:`close_details` says who closed it and why.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection

Report = Callable[[str], None]

REFUSED_CERTIFICATE = ("CERTIFICATE_UNKNOWN", "UNKNOWN_CA", "BAD_CERTIFICATE")
CLOSE_REPLACED = 4001  # private close code: a newer CRIS connection took this one's place


def explain_tls_failure(reason: str, page_url: str) -> str:
    """What a TLS handshake failure means for the user, in one line."""
    if any(code in reason for code in REFUSED_CERTIFICATE):
        return (
            "a client refused this endpoint's certificate during the TLS handshake; "
            f"if it is CRIS Reporting in a browser, open {page_url} once in that browser "
            "and accept the certificate"
        )
    if "HTTP_REQUEST" in reason:
        return (
            "a client spoke plain http:// or ws:// to this TLS endpoint; "
            "it must use wss:// (or run this endpoint with --no-tls)"
        )
    return f"a TLS handshake failed: {reason.lower().replace('_', ' ')}"


def reporting_ssl_object(report: Report, *, quiet_for: float = 5.0) -> type[ssl.SSLObject]:
    """An ``SSLObject`` class that reports handshake failures (the same reason at
    most once per ``quiet_for`` seconds, since browsers retry at once)."""
    last: dict[str, float] = {}

    def tell(error: ssl.SSLError) -> None:
        reason = str(error.reason or error.__class__.__name__)
        now = time.monotonic()
        if now - last.get(reason, -quiet_for) >= quiet_for:
            last[reason] = now
            report(reason)

    class ReportingSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except ssl.SSLError as error:
                tell(error)
                raise

    return ReportingSSLObject


TLS_RECORD_HANDSHAKE = 0x16


class SniffingConnection(ServerConnection):
    """A connection on a plain (``ws://``) endpoint that notices a TLS client."""

    report: Report | None = None

    def data_received(self, data: bytes) -> None:
        if self.request is None and data[:1] == bytes([TLS_RECORD_HANDSHAKE]):
            peer = self.transport.get_extra_info("peername")
            if self.report is not None:
                self.report(f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer))
            self.transport.abort()
            return
        super().data_received(data)


def sniffing_connection(report: Report) -> type[SniffingConnection]:
    """A connection class reporting, by peer address, clients that try TLS."""
    return type("EndpointConnection", (SniffingConnection,), {"report": staticmethod(report)})


def close_details(connection: ServerConnection) -> tuple[int | None, str, str]:
    """The close code, reason, and which side closed."""
    protocol = connection.protocol
    received, sent = protocol.close_rcvd, protocol.close_sent
    if received is not None and (sent is None or protocol.close_rcvd_then_sent):
        return received.code, _reason(received.code, received.reason), "closed by the client"
    if sent is not None:
        return sent.code, _reason(sent.code, sent.reason), "closed by the endpoint"
    return None, "", "connection lost without a close frame"


_CLOSE_NAMES = {
    1000: "normal closure",
    1001: "going away",
    1003: "unsupported data",
    1006: "abnormal closure",
    1007: "invalid data",
    1008: "policy violation",
    1009: "message too big",
    1011: "internal error",
    4001: "replaced",  # the endpoint's own code: a newer client took its place
}


def _reason(code: int, reason: str) -> str:
    return reason or _CLOSE_NAMES.get(code, "no reason given")
