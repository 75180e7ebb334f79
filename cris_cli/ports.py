"""Which program holds a TCP port, where the platform lets us see it."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PortHolder:
    pid: int | None
    name: str | None
    command: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another program (this platform does not say which)"
        what = self.command or self.name or "?"
        return f"process {self.pid} ({what})"


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
                command = " ".join(process.cmdline()[:4]) or None
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


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (which never leave the machine)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        import ipaddress

        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
