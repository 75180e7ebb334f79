"""What is on a TCP port: which program holds it (where the platform lets us
see that), and whether it answers TLS or plain HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

COMMAND_LIMIT = 80  # characters of a holder's command line shown in a one-line message
PROBE_SECONDS = 2.0  # per probe: a busy endpoint answers in milliseconds

# What listens on a port: answers TLS, answers plain HTTP, says nothing in
# time, or hangs up without a word.
Listener = Literal["tls", "plain", "silent", "closed"]


@dataclass(frozen=True, slots=True)
class PortHolder:
    pid: int | None
    name: str | None
    command: str | None  # the whole command line, as :func:`command_line` writes it

    def describe(self) -> str:
        """``process PID (COMMAND)`` on one line, the command escaped and cut short."""
        if self.pid is None:
            return "another program (this platform does not say which)"
        # Only the error paths describe a holder: render's helpers are loaded then, not before.
        from .render import clipped, printable

        what = clipped(printable(self.command or self.name or "?"), COMMAND_LIMIT)
        return f"process {self.pid} ({what})"


def command_line(args: Sequence[str]) -> str | None:
    """A process's arguments as one line, the program without its folder (and the
    script, when the program is an interpreter): folders would fill the message."""
    if not args:
        return None
    program, *rest = args
    shown = [PurePath(program).name or program]
    if shown[0].lower().startswith("python") and rest and not rest[0].startswith("-"):
        shown.append(PurePath(rest.pop(0)).name)
    return " ".join(shown + rest)


def holder_of(port: int) -> PortHolder:
    """The process listening on ``port``, or an unnamed holder when hidden from us."""
    try:
        import psutil

        for connection in psutil.net_connections(kind="tcp"):
            if connection.status != psutil.CONN_LISTEN or not connection.laddr:
                continue
            if connection.laddr.port != port or connection.pid is None:
                continue
            try:
                process = psutil.Process(connection.pid)
                command = command_line(process.cmdline())
                return PortHolder(connection.pid, process.name(), command)
            except psutil.Error:
                return PortHolder(connection.pid, None, None)
    except Exception:  # any failure here only loses a detail of the message
        return PortHolder(None, None, None)
    return PortHolder(None, None, None)


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listener_on(host: str, port: int, *, expect_tls: bool) -> Listener | None:
    """What listens on ``host:port``, or None for nothing.

    The protocol the caller expects is tried first, so that a healthy endpoint
    sees no stray handshake in the other protocol.
    """
    probes: list[tuple[Listener, Callable[[socket.socket], bool]]] = [
        ("tls", _answers_tls),
        ("plain", _answers_http),
    ]
    if not expect_tls:
        probes.reverse()
    timed_out = False
    for kind, answers in probes:
        try:
            raw = socket.create_connection((host, port), timeout=PROBE_SECONDS)
        except OSError:
            return None
        with raw:
            try:
                if answers(raw):
                    return kind
            except TimeoutError:
                timed_out = True
            except OSError:  # ssl.SSLError included: it spoke, but not this protocol
                pass
    return "silent" if timed_out else "closed"


def _answers_tls(raw: socket.socket) -> bool:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(raw, server_hostname="localhost"):
        return True


def _answers_http(raw: socket.socket) -> bool:
    # GET / without Upgrade: a cris-cli endpoint answers with its page and
    # records nothing, where a WebSocket handshake would show as a CRIS client.
    port = raw.getpeername()[1]
    raw.sendall(f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n".encode())
    head = b""
    while len(head) < 5:
        chunk = raw.recv(5 - len(head))
        if not chunk:
            break
        head += chunk
    return head == b"HTTP/"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (which never leave the machine)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        import ipaddress

        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
