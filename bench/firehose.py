"""A sender fast enough to measure a receiver: WebSocket frames built once, in
advance, and written to the socket in large blocks.

A websockets client in Python sends far fewer messages a second than a
server can take, so it would measure itself. This one does the opening
handshake, then writes pre-masked frames (mask key zero, which leaves the
payload as it is) and a close frame, and waits for the server's close frame:
by then the server has read every message before it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

BLOCK = 256 * 1024


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame with a zero mask key."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + b"\x00\x00\x00\x00" + payload


def events(count: int) -> list[bytes]:
    """Real-shaped EVENT messages, a few hundred distinct ones, repeated."""
    distinct = [
        json.dumps(
            {
                "command": "EVENT",
                "accession": [f"HSS{17170000 + n:08d}"],
                "domain": "RXH",
                "examCode": ("XCHES", "CHEAD", "MKNEL", "UABDO")[n % 4],
                "nhs": "9434765919",
            },
            separators=(",", ":"),
        ).encode()
        for n in range(500)
    ]
    return [distinct[n % len(distinct)] for n in range(count)]


def send(host: str, port: int, messages: list[bytes], timeout: float = 600) -> float:
    """Send every message to ws://host:port/ and close; seconds until the server closed too."""
    wire = b"".join(frame(m) for m in messages) + frame(struct.pack("!H", 1000), opcode=0x8)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed during the handshake")
            response += chunk
        if not response.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"handshake refused: {response.splitlines()[0]!r}")
        start = time.perf_counter()
        view = memoryview(wire)
        for offset in range(0, len(wire), BLOCK):
            sock.sendall(view[offset : offset + BLOCK])
        # The server answers the close frame once it has read everything before it
        # (it sends nothing else, so the first bytes back are that answer).
        sock.recv(65536)
        return time.perf_counter() - start
