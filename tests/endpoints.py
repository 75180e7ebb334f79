"""Test support: endpoints on loopback port 0, CRIS test clients, record waits."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Callable
from pathlib import Path

from cris_cli import tls, trust
from cris_cli.endpoint import Endpoint, EndpointOptions
from cris_cli.records import Record


def make_cert(directory: Path) -> tls.CertificateFiles:
    files = tls.CertificateFiles(directory / "cert.pem", directory / "key.pem", "generated")
    tls.generate(files)
    return files


def trusting(files: tls.CertificateFiles) -> ssl.SSLContext:
    """A client context that trusts the test certificate (with host name checks)."""
    return trust.client_context(cafile=files.cert)


class Watcher:
    """Collects an endpoint's records and waits, with a time limit, for one to match."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.records: list[Record] = []
        self._changed = asyncio.Event()
        endpoint.add_listener(self._add)

    def _add(self, record: Record) -> None:
        self.records.append(record)
        self._changed.set()

    async def wait_for(self, match: Callable[[Record], bool], timeout: float = 5.0) -> Record:
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for record in self.records[seen:]:
                    if match(record):
                        return record
                seen = len(self.records)
                self._changed.clear()
                await self._changed.wait()

    def kinds(self) -> list[str]:
        return [r.kind for r in self.records]

    def messages(self) -> list[Record]:
        return [r for r in self.records if r.kind == "message"]


def options(files: tls.CertificateFiles | None = None, **changes: object) -> EndpointOptions:
    context = None if files is None else tls.server_context(files)
    fingerprint = None if files is None else trust.fingerprint(tls.read_pem(files.cert))
    base = EndpointOptions(host="127.0.0.1", port=0, ssl=context, fingerprint=fingerprint)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def url(endpoint: Endpoint, host: str = "localhost", path: str = "/") -> str:
    scheme = "wss" if endpoint.tls else "ws"
    return f"{scheme}://{host}:{endpoint.port}{path}"
