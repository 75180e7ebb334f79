"""The control channel: other cris-cli processes using a running endpoint.

It shares the endpoint's port, on its own path. A request must carry the
endpoint's token (from the runtime file only the user can read) and must not
carry an ``Origin`` header, so that no web page can ever reach it.

Each control message is a JSON object with an ``op``:

=================================  =====================================
client asks                        endpoint answers
=================================  =====================================
``{"op":"send","text":TEXT}``      ``{"op":"sent","delivered":N,"seq":S,"clients":C}``
``{"op":"status"}``                ``{"op":"status","status":{...}}``
``{"op":"subscribe","history":N}`` ``{"op":"subscribed"}`` then
                                   ``{"op":"record","record":{...}}`` for
                                   the last N held and every new record
``{"op":"allow-origin","origin":O}`` ``{"op":"allowed","origin":O}``
=================================  =====================================

Errors are ``{"op":"error","error":TEXT}``. A subscriber too slow to read
loses records rather than growing the endpoint's memory; it is then sent
``{"op":"dropped","count":N}``.
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.protocol import State

from .endpoint import Endpoint
from .records import Record

SUBSCRIBER_BUFFER = 8 * 1024 * 1024  # bytes queued for one subscriber before it loses records


class ControlServer:
    """Serves control sessions for one endpoint."""

    def __init__(self, endpoint: Endpoint, token: str) -> None:
        self.endpoint = endpoint
        self._expected = f"Bearer {token}"
        endpoint.control = self

    def authorize(self, request: Request) -> tuple[int, str] | None:
        if request.headers.get_all("Origin"):
            return 403, "control requests from a browser are refused"
        offered = request.headers.get_all("Authorization")
        # Bytes, not text: compare_digest refuses non-ASCII text, and anyone may send it.
        if len(offered) != 1 or not hmac.compare_digest(
            offered[0].encode("utf-8", "surrogateescape"), self._expected.encode()
        ):
            return 401, "missing or wrong control token"
        return None

    async def serve(self, connection: ServerConnection) -> None:
        subscriber: _Subscriber | None = None
        try:
            async for frame in connection:
                try:
                    request = json.loads(frame)
                    op = request["op"]
                except (ValueError, TypeError, KeyError):
                    await _reply(connection, {"op": "error", "error": "not a control request"})
                    continue
                if op == "subscribe" and subscriber is None:
                    wanted = request.get("history") or 0
                    if type(wanted) is not int or wanted < 0:
                        await _reply(
                            connection, {"op": "error", "error": "history must be a count"}
                        )
                        continue
                    subscriber = _Subscriber(connection)
                    history = list(self.endpoint.history)[-wanted:] if wanted else []
                    self.endpoint.add_listener(subscriber)
                    await _reply(connection, {"op": "subscribed"})
                    for record in history:
                        subscriber(record)
                else:
                    await _reply(connection, self._answer(op, request))
        except ConnectionClosed:
            pass
        finally:
            if subscriber is not None:
                self.endpoint.remove_listener(subscriber)

    def _answer(self, op: str, request: dict[str, Any]) -> dict[str, Any]:
        if op == "send":
            text = request.get("text")
            if not isinstance(text, str):
                return {"op": "error", "error": "send needs text"}
            record = self.endpoint.send(text)
            return {
                "op": "sent",
                "delivered": 0 if record is None else record.delivered,
                "seq": None if record is None else record.seq,
                "clients": len(self.endpoint.clients),  # connected, whether they read or not
            }
        if op == "status":
            return {"op": "status", "status": self.endpoint.status() | {"pid": os.getpid()}}
        if op == "allow-origin":
            origin = request.get("origin")
            if not isinstance(origin, str):
                return {"op": "error", "error": "allow-origin needs origin"}
            self.endpoint.allow_origin(origin)
            return {"op": "allowed", "origin": origin}
        return {"op": "error", "error": f"unknown op {op!r}"}


async def _reply(connection: ServerConnection, answer: dict[str, Any]) -> None:
    await connection.send(json.dumps(answer))


class _Subscriber:
    """Forwards records to one control connection without ever waiting on it."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.dropped = 0

    def __call__(self, record: Record) -> None:
        connection = self.connection
        if connection.protocol.state is not State.OPEN:
            return
        if connection.transport.get_write_buffer_size() > SUBSCRIBER_BUFFER:
            self.dropped += 1
            return
        if self.dropped:
            broadcast([connection], json.dumps({"op": "dropped", "count": self.dropped}))
            self.dropped = 0
        broadcast([connection], '{"op":"record","record":' + record.to_line().rstrip("\n") + "}")
