"""Using a running endpoint from another process, over its control channel
(see :mod:`cris_cli.control` for the messages).

Kept free of the server side so that ``cris-cli send`` through a running
endpoint imports as little as possible.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from .delivery import Sent
from .errors import ConnectionFailed
from .records import Record
from .runtime import RuntimeInfo, control_dial, control_failure


class ControlClient:
    """A control session with a running endpoint, from another process."""

    def __init__(self, connection: ClientConnection, info: RuntimeInfo) -> None:
        self.connection = connection
        self.info = info
        self.on_record: Callable[[Record], None] | None = None
        self.on_dropped: Callable[[int], None] | None = None
        self._pending: deque[asyncio.Future[dict[str, Any]]] = deque()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, info: RuntimeInfo, *, open_timeout: float = 5) -> ControlClient:
        uri, options = control_dial(info)
        try:
            connection = await connect(uri, open_timeout=open_timeout, max_queue=None, **options)
        except (OSError, TimeoutError, WebSocketException) as error:
            raise control_failure(info, error) from None
        return cls(connection, info)

    async def _read(self) -> None:
        try:
            async for frame in self.connection:
                try:
                    message = json.loads(frame)
                    op = message.get("op")
                    if op == "record":
                        if self.on_record is not None:
                            self.on_record(Record.from_json(message["record"]))
                    elif op == "dropped":
                        if self.on_dropped is not None:
                            self.on_dropped(int(message["count"]))
                    else:
                        self._answer(message)
                except (ValueError, KeyError, TypeError, AttributeError) as error:
                    # One frame this side cannot read must not end the session.
                    print(
                        f"cris-cli: unreadable control message ({error!r}); ignored",
                        file=sys.stderr,
                    )
        except ConnectionClosed:
            pass
        finally:
            gone = ConnectionFailed(f"the endpoint on port {self.info.port} went away")
            while self._pending:
                future = self._pending.popleft()
                if not future.done():
                    future.set_exception(gone)
            await self.connection.close()

    def _answer(self, message: dict[str, Any]) -> None:
        """The answer to the oldest request (answers come in order; one given up on is
        still answered, and its answer dropped)."""
        if self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_result(message)

    async def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self._reader.done():
            raise ConnectionFailed(f"the endpoint on port {self.info.port} went away")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        try:
            await self.connection.send(json.dumps(payload))
        except ConnectionClosed:
            raise ConnectionFailed(f"the endpoint on port {self.info.port} went away") from None
        answer = await future
        if answer.get("op") == "error":
            raise ConnectionFailed(f"the endpoint refused: {answer.get('error')}")
        return answer

    async def send(self, text: str) -> Sent:
        """Send wire text to the endpoint's CRIS clients."""
        return Sent.from_answer(await self.request({"op": "send", "text": text}))

    async def status(self) -> dict[str, Any]:
        answer = await self.request({"op": "status"})
        status: dict[str, Any] = answer["status"]
        return status

    async def subscribe(self, history: int = 0) -> None:
        await self.request({"op": "subscribe", "history": history})

    async def allow_origin(self, origin: str) -> None:
        await self.request({"op": "allow-origin", "origin": origin})

    async def wait_closed(self) -> None:
        await asyncio.shield(self._reader)

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def close(self) -> None:
        await self.connection.close()
        await asyncio.shield(self._reader)
