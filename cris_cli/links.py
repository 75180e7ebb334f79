"""One interface to a PACS endpoint, whether this process hosts it or attaches
to one that another cris-cli process runs.

Front ends (the shell, scripts, ``send``, ``watch``, ``serve``) talk to a
:class:`Link` and never care which kind they got: :func:`open_link` attaches
when an endpoint already owns the port, and hosts one otherwise.
"""

from __future__ import annotations

import asyncio
import os
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from . import runtime
from .delivery import Sent
from .errors import ConnectionFailed
from .journal import Listener, Listeners
from .records import Record

if TYPE_CHECKING:
    from .config import Settings
    from .endpoint import Endpoint
    from .environment import Environment
    from .hosting import Certificate
    from .remote import ControlClient


class Link(ABC):
    """A PACS endpoint this process can send through and listen to."""

    hosted: bool

    def __init__(self) -> None:
        self.listeners = Listeners()
        self._listening = False

    @abstractmethod
    async def send(self, text: str) -> Sent: ...

    @abstractmethod
    async def status(self) -> dict[str, Any]: ...

    @abstractmethod
    async def allow_origin(self, origin: str) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _start_listening(self, history: int) -> None: ...

    @property
    @abstractmethod
    def description(self) -> str: ...

    @property
    @abstractmethod
    def port(self) -> int: ...

    async def subscribe(self, listener: Listener, *, history: int = 0) -> None:
        """Hand every record from now on to ``listener``; the first subscriber also
        gets the last ``history`` records held."""
        self.listeners.add(listener)
        if not self._listening:  # records flow from the first subscription on, for good
            self._listening = True
            try:
                await self._start_listening(history)
            except BaseException:
                self._listening = False
                self.listeners.remove(listener)
                raise

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.remove(listener)

    def _dispatch(self, record: Record) -> None:
        self.listeners.dispatch(record)

    async def clients(self) -> list[dict[str, Any]]:
        clients: list[dict[str, Any]] = (await self.status())["clients"]
        return clients

    async def wait_for_client(self, within: float) -> bool:
        """True once a CRIS client is connected; False if none connects ``within`` seconds."""
        connected = asyncio.Event()

        def watch(record: Record) -> None:
            if record.kind == "connect":
                connected.set()

        if await self.clients():
            return True
        await self.subscribe(watch)
        try:
            if await self.clients():  # one may have connected while subscribing
                return True
            try:
                await asyncio.wait_for(connected.wait(), within)
            except TimeoutError:
                return False
            return True
        finally:
            self.unsubscribe(watch)


class LocalLink(Link):
    """An endpoint this process hosts, announced to others by a runtime file."""

    hosted = True

    def __init__(self, endpoint: Endpoint, certificate: Certificate | None) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.certificate = certificate
        self.info: runtime.RuntimeInfo | None = None

    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def description(self) -> str:
        return f"endpoint {self.endpoint.url} (this process)"

    async def start(self) -> None:
        from .control import ControlServer

        await self.endpoint.start()
        token = runtime.new_token()
        ControlServer(self.endpoint, token)
        cert = self.certificate
        self.info = runtime.RuntimeInfo(
            port=self.endpoint.port,
            host=self.endpoint.options.host,
            pid=os.getpid(),
            tls=self.endpoint.tls,
            cert_pem=None if cert is None else cert.pem,
            fingerprint=None if cert is None else cert.fingerprint,
            token=token,
            started=time.time(),
        )
        runtime.publish(self.info)

    async def send(self, text: str) -> Sent:
        record = self.endpoint.send(text)
        clients = len(self.endpoint.clients)
        if record is None:
            return Sent(0, None, clients)
        return Sent(record.delivered or 0, record.seq, clients)

    async def status(self) -> dict[str, Any]:
        return self.endpoint.status() | {"pid": os.getpid()}

    async def allow_origin(self, origin: str) -> None:
        self.endpoint.allow_origin(origin)

    async def _start_listening(self, history: int) -> None:
        for record in list(self.endpoint.history)[-history:] if history else ():
            self._dispatch(record)
        self.endpoint.add_listener(self._dispatch)

    async def close(self) -> None:
        if self.info is not None:
            runtime.withdraw(self.info)
        await self.endpoint.close()


class RemoteLink(Link):
    """An endpoint another cris-cli process hosts, reached over its control channel."""

    hosted = False

    def __init__(self, client: ControlClient) -> None:
        super().__init__()
        self.client = client
        self.dropped = 0
        client.on_record = self._dispatch
        client.on_dropped = self._note_dropped

    @property
    def port(self) -> int:
        return self.client.info.port

    @property
    def description(self) -> str:
        info = self.client.info
        scheme = "wss" if info.tls else "ws"
        return f"endpoint {scheme}://localhost:{info.port}/ (process {info.pid})"

    def _note_dropped(self, count: int) -> None:
        self.dropped += count

    async def send(self, text: str) -> Sent:
        return await self.client.send(text)

    async def status(self) -> dict[str, Any]:
        return await self.client.status()

    async def allow_origin(self, origin: str) -> None:
        await self.client.allow_origin(origin)

    async def _start_listening(self, history: int) -> None:
        await self.client.subscribe(history)

    async def wait_closed(self) -> None:
        await self.client.wait_closed()

    async def close(self) -> None:
        await self.client.close()


async def attach(port: int) -> RemoteLink | None:
    """A link to the cris-cli endpoint running on ``port``, or None if there is none.

    A runtime file whose endpoint cannot be reached is stale: it is removed.
    """
    if port == 0:
        return None
    info = runtime.find(port)
    if info is None:
        return None
    from .remote import ControlClient  # the asyncio client loads only to attach

    try:
        return RemoteLink(await ControlClient.connect(info))
    except ConnectionFailed:
        if runtime.discard_if_unreachable(info):
            return None
        raise


async def host(settings: Settings, env: Environment, *, port: int | None = None) -> LocalLink:
    """Start an endpoint in this process, as the settings say."""
    from .endpoint import Endpoint
    from .hosting import endpoint_options

    options, certificate = endpoint_options(settings, env, port=port)
    link = LocalLink(Endpoint(options), certificate)
    await link.start()
    return link


async def open_link(settings: Settings, env: Environment) -> Link:
    """Attach to the endpoint on the configured port, or host one there."""
    attached = await attach(settings.port)
    if attached is not None:
        return attached
    return await host(settings, env)
