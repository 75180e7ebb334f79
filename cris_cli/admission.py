"""Who may talk to the endpoint: the ``Host`` check against DNS rebinding,
the browser ``Origin`` allow-list, and the plain HTTP answers the endpoint
gives to what is not a WebSocket it accepts."""

from __future__ import annotations

import http
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .runtime import CONTROL_PATH


class ControlGate(Protocol):
    def authorize(self, request: Request) -> tuple[int, str] | None:
        """None to accept a control request, else an HTTP status and why."""


def normalize_origin(origin: str) -> str:
    """Origins compare without case or a trailing slash (``https://Cris.example/``)."""
    return origin.strip().rstrip("/").lower()


def split_host(header: str) -> tuple[str, int | None]:
    """``localhost:56998`` -> (``localhost``, 56998); ``[::1]:56998`` -> (``::1``, 56998)."""
    header = header.strip()
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif header.count(":") == 1:
        name, _, port_text = header.partition(":")
    else:
        name, port_text = header, ""
    port = int(port_text) if port_text.isdigit() else None
    return name.lower().rstrip("."), port


def origin_refusal(origin: str, peer: str) -> str:
    return (
        f"refused browser origin {origin} from {peer}: not on the allow-list; "
        f'to allow it: --allow-origin {origin}, or allow_origins = ["{origin}"] '
        "under [endpoint] in the config file"
    )


@dataclass(frozen=True)
class Decision:
    """What to do with a request: answer it (``response``), or let the WebSocket open
    (None); and, for a refusal, what to record."""

    response: Response | None
    refusal: str | None = None
    origin: str | None = None


class Admission:
    """The endpoint's rules for ``Host`` and ``Origin``."""

    def __init__(
        self, host: str, port: int, allow_origins: tuple[str, ...], allow_any_origin: bool
    ) -> None:
        self.host = host
        self.port = port
        self.allow_any_origin = allow_any_origin
        self.allowed_origins = {normalize_origin(o) for o in allow_origins}

    def allow_origin(self, origin: str) -> None:
        self.allowed_origins.add(normalize_origin(origin))

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None or self.allow_any_origin:
            return True
        return normalize_origin(origin) in self.allowed_origins

    def screen(
        self,
        request: Request,
        peer: str,
        control: ControlGate | None,
        page: Callable[[], str],
    ) -> Decision:
        """Decide on one HTTP request: refuse it, answer it, or let the WebSocket open."""
        path = request.path.split("?", 1)[0]
        upgrade = "websocket" in ",".join(request.headers.get_all("Upgrade")).lower()
        hosts, origins = request.headers.get_all("Host"), request.headers.get_all("Origin")
        if len(hosts) != 1 or len(origins) > 1:
            return Decision(
                respond(http.HTTPStatus.BAD_REQUEST, "One Host and at most one Origin header.\n"),
                f"refused a request from {peer}: repeated Host or Origin header",
            )
        if not self.host_allowed(hosts[0]):
            return Decision(
                respond(http.HTTPStatus.FORBIDDEN, "Host not allowed.\n"),
                f"refused a request from {peer} for Host {hosts[0]!r}: "
                "not this machine's name (DNS rebinding protection)",
            )
        if path == CONTROL_PATH and upgrade:
            if control is None:
                return Decision(respond(http.HTTPStatus.NOT_FOUND, "No control channel here.\n"))
            refusal = control.authorize(request)
            if refusal is None:
                return Decision(None)
            return Decision(
                respond(refusal[0], refusal[1] + "\n"),
                f"refused a control request from {peer}: {refusal[1]}",
            )
        if path != "/":
            text = "Nothing here: CRIS Reporting connects to /.\n"
            return Decision(respond(http.HTTPStatus.NOT_FOUND, text))
        if not upgrade:
            return Decision(html(page()))
        origin = origins[0] if origins else None
        if origin is not None and not self.origin_allowed(origin):
            return Decision(
                respond(
                    http.HTTPStatus.FORBIDDEN,
                    f"Origin {origin} is not allowed to use this PACS endpoint.\n"
                    f"Allow it with: cris-cli --allow-origin {origin}\n",
                ),
                origin_refusal(origin, peer),
                origin,
            )
        return Decision(None)

    def host_allowed(self, host_header: str | None) -> bool:
        """True for a Host naming this machine by loopback name, IP literal or bound name.

        DNS rebinding needs a host *name* that resolves to us; IP literals and
        ``localhost`` cannot be rebound, other names are refused.
        """
        if not host_header:
            return False
        name, port = split_host(host_header)
        if port != self.port and not (port is None and self.port in (80, 443)):
            return False
        if name in ("localhost", self.host.lower()):
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            pass
        if self.host in ("0.0.0.0", "::", ""):  # noqa: S104 - compared, not bound
            return name in {socket.gethostname().lower(), socket.getfqdn().lower()}
        return False


def respond(status: int, text: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    body = text.encode("utf-8")
    headers["Content-Length"] = str(len(body))
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def html(page: str) -> Response:
    body = page.encode("utf-8")
    headers = Headers(
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
            ("Connection", "close"),
        ]
    )
    return Response(200, "OK", headers, body)
