"""A blocking control session, for one-shot commands.

``cris-cli send`` through a running endpoint does one thing and exits, so it
needs no event loop: websockets' threading client starts measurably faster
than its asyncio one, and start-up is most of a one-shot command's time.
Long-lived front ends use :class:`cris_cli.remote.ControlClient` instead; the
messages are the same (see :mod:`cris_cli.control`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect

from .delivery import Sent
from .errors import ConnectionFailed
from .records import Record
from .runtime import RuntimeInfo, control_dial, control_failure


class BlockingControl:
    """A control session that waits for each answer."""

    def __init__(
        self,
        connection: ClientConnection,
        info: RuntimeInfo,
        held: contextlib.ExitStack,
        answer_within: float | None = None,
    ) -> None:
        self.connection = connection
        self.info = info
        self._held = held
        self.answer_within = answer_within  # None: wait for each answer as long as it takes
        self.records: deque[Record] = deque()
        self.subscribed = False

    @classmethod
    def connect(
        cls, info: RuntimeInfo, *, open_timeout: float = 5, answer_within: float | None = None
    ) -> BlockingControl:
        uri, options = control_dial(info)
        held = contextlib.ExitStack()
        try:
            # Entered as a context manager, as websockets wants; left in __exit__.
            connection = held.enter_context(connect(uri, open_timeout=open_timeout, **options))
        except (OSError, TimeoutError, WebSocketException) as error:
            raise control_failure(info, error) from None
        return cls(connection, info, held, answer_within)

    def __enter__(self) -> BlockingControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._held.close()

    def _next(self, deadline: float | None) -> dict[str, Any] | None:
        """The next control message; records are kept aside. None at the deadline."""
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
        try:
            message: dict[str, Any] = json.loads(self.connection.recv(remaining))
        except TimeoutError:
            return None
        except ConnectionClosed:
            raise ConnectionFailed(f"the endpoint on port {self.info.port} went away") from None
        if message.get("op") == "record":
            self.records.append(Record.from_json(message["record"]))
        return message

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            self.connection.send(json.dumps(payload))
        except ConnectionClosed:
            raise ConnectionFailed(f"the endpoint on port {self.info.port} went away") from None
        within = self.answer_within
        deadline = None if within is None else time.monotonic() + within
        while True:
            answer = self._next(deadline)
            if answer is None:
                raise ConnectionFailed(
                    f"the endpoint on port {self.info.port} did not answer within {within:g} s"
                )
            if answer.get("op") in ("record", "dropped"):
                continue
            if answer.get("op") == "error":
                raise ConnectionFailed(f"the endpoint refused: {answer.get('error')}")
            return answer

    def subscribe(self) -> None:
        if not self.subscribed:
            self.request({"op": "subscribe"})
            self.subscribed = True

    def send(self, text: str) -> Sent:
        """Send wire text to the endpoint's CRIS clients."""
        return Sent.from_answer(self.request({"op": "send", "text": text}))

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.request({"op": "status"})["status"]
        return status

    def clients(self) -> list[dict[str, Any]]:
        clients: list[dict[str, Any]] = self.status()["clients"]
        return clients

    def wait_for(self, match: Callable[[Record], bool], within: float) -> Record | None:
        """The first record (from subscribing on) that matches, or None after ``within`` s."""
        deadline = time.monotonic() + within
        while True:
            while self.records:
                record = self.records.popleft()
                if match(record):
                    return record
            if self._next(deadline) is None:
                return None

    def wait_for_client(self, within: float) -> bool:
        """True once a CRIS client is connected; False if none connects in time."""
        if self.clients():
            return True
        self.subscribe()
        if self.clients():  # one may have connected while subscribing
            return True
        return self.wait_for(lambda record: record.kind == "connect", within) is not None
