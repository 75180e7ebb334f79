"""A real browser against the PACS endpoint, as CRIS Reporting meets it.

Headless Chromium loads a page from one loopback port (standing in for CRIS
Reporting) whose JavaScript opens ``wss://localhost:PORT/`` on the endpoint's
port, trusting the endpoint's freshly generated self-signed certificate by its
public key (``--ignore-certificate-errors-spki-list``), exactly as a user's
browser trusts it once accepted. The page reports what it sees back to its own
server, so each test checks both ends: the endpoint's records and the browser's
events.

The first of these tests may install Chromium (see :mod:`browser`), hence the
long pytest timeout; every wait inside a test is bounded by ``browser.WAIT``.
"""

# ruff: noqa: F811 - the fixtures imported from browser are redefined as test parameters
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from browser import (  # noqa: F401 - chromium and page_server are fixtures
    Chromium,
    PageServer,
    chromium,
    eventually,
    page_server,
)
from cris_cli import tls
from cris_cli.endpoint import Endpoint, EndpointOptions
from cris_cli.messages import Direction, ReportOpened
from cris_cli.records import Record
from debian import INSTALL_TIMEOUT

pytestmark = pytest.mark.timeout(2 * INSTALL_TIMEOUT + 120)  # the first test may run apt-get

EVENT = {
    "command": "EVENT",
    "accession": ["BRW0001"],
    "domain": "RXH",
    "examCode": "XCHES",
    "nhs": "9434765919",
}
DISPLAY = '{"command":"DISPLAY","accession":["BRW0002"]}'


@dataclass(frozen=True)
class Certificate:
    files: tls.CertificateFiles
    fingerprint: str
    spki: str

    def options(self, *allow_origins: str) -> EndpointOptions:
        return EndpointOptions(
            host="127.0.0.1",
            port=0,
            ssl=tls.server_context(self.files),
            fingerprint=self.fingerprint,
            allow_origins=allow_origins,
        )

    def trust(self) -> str:
        """The flag that makes Chromium accept this certificate, and only it."""
        return f"--ignore-certificate-errors-spki-list={self.spki}"


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    files = tls.CertificateFiles(tmp_path / "cert.pem", tmp_path / "key.pem", "generated")
    tls.generate(files)
    info = tls.describe(tls.read_pem(files.cert))
    return Certificate(files, info.fingerprint, info.spki_sha256)


class Log:
    """Every record the endpoint publishes, as it happens."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.records: list[Record] = []
        endpoint.add_listener(self.records.append)

    def first(self, kind: str, direction: Direction | None = None) -> Record | None:
        return next(
            (
                r
                for r in self.records
                if r.kind == kind and (direction is None or r.direction == direction)
            ),
            None,
        )

    def describe(self) -> str:
        return "endpoint records:\n" + "\n".join(f"  {r!r} origin={r.origin}" for r in self.records)


def explainer(log: Log, page: PageServer, browser: Chromium) -> Any:
    return lambda: f"{log.describe()}\n{page.describe()}\n{browser.describe()}"


async def test_browser_on_an_allowed_origin_talks_both_ways(
    chromium: Path, tmp_path: Path, certificate: Certificate, page_server: PageServer
) -> None:
    page_server.first = EVENT
    async with Endpoint(certificate.options(page_server.origin)) as endpoint:
        log = Log(endpoint)
        page_server.socket_url = f"wss://localhost:{endpoint.port}/"
        with Chromium(chromium, tmp_path / "browser", certificate.trust(), page_server.url) as b:
            explain = explainer(log, page_server, b)

            connect = await eventually(lambda: log.first("connect"), "connect record", explain)
            assert connect.origin == page_server.origin
            assert connect.peer is not None and connect.peer.startswith("127.0.0.1:")

            event = await eventually(
                lambda: log.first("message", Direction.CRIS_TO_PACS), "EVENT from Chromium", explain
            )
            assert event.command == "EVENT"
            assert event.origin == page_server.origin
            assert json.loads(event.raw or "") == EVENT
            assert isinstance(event.message, ReportOpened)
            assert event.message.accession == ("BRW0001",)
            assert event.message.nhs == "9434765919"
            assert event.decoded is not None and event.decoded.valid, event.as_json()

            sent = endpoint.send(DISPLAY)
            assert sent is not None and sent.delivered == 1
            assert sent.command == "DISPLAY"

            received = await eventually(
                lambda: page_server.find("message"), "DISPLAY in the browser", explain
            )
            assert received["data"] == DISPLAY
            await eventually(lambda: page_server.find("open"), "open in the browser", explain)
            assert page_server.find("error") is None, explain()
            assert page_server.find("close") is None, explain()
            assert log.first("refused") is None, explain()

            # Stopping the endpoint says goodbye to the browser with a close frame.
            await endpoint.close()
            closed = await eventually(
                lambda: page_server.find("close"), "close in the browser", explain
            )
            assert closed["code"] == 1001, explain()
            assert closed["reason"] == "the PACS endpoint is stopping"
            assert closed["clean"] is True
            disconnect = await eventually(
                lambda: log.first("disconnect"), "disconnect record", explain
            )
            assert "closed by the endpoint, 1001" in (disconnect.text or ""), explain()


async def test_browser_on_another_origin_is_refused(
    chromium: Path, tmp_path: Path, certificate: Certificate, page_server: PageServer
) -> None:
    page_server.first = EVENT
    async with Endpoint(certificate.options("https://cris.example.nhs.uk")) as endpoint:
        log = Log(endpoint)
        page_server.socket_url = f"wss://localhost:{endpoint.port}/"
        with Chromium(chromium, tmp_path / "browser", certificate.trust(), page_server.url) as b:
            explain = explainer(log, page_server, b)

            refused = await eventually(lambda: log.first("refused"), "refused record", explain)
            assert refused.origin == page_server.origin
            assert f"--allow-origin {page_server.origin}" in (refused.text or "")

            closed = await eventually(
                lambda: page_server.find("close"), "close in the browser", explain
            )
            assert closed["code"] == 1006  # the handshake failed: no close frame
            # The page's reports can arrive out of order: wait for this one too.
            await eventually(lambda: page_server.find("error"), "error in the browser", explain)
            assert page_server.find("open") is None, explain()
            assert log.first("connect") is None, explain()
            assert log.first("message") is None, explain()
            assert endpoint.counts.refused == 1


async def test_browser_shows_the_certificate_page(
    chromium: Path, tmp_path: Path, certificate: Certificate
) -> None:
    async with Endpoint(certificate.options()) as endpoint:
        page = endpoint.page_url
        assert page == f"https://localhost:{endpoint.port}/"
        trusted = Chromium(chromium, tmp_path / "trusted", certificate.trust(), "--dump-dom", page)
        with trusted:
            status = await trusted.exited()
            dom = trusted.stdout()
            assert status == 0, trusted.describe()
            assert "cris-cli PACS endpoint is running" in dom, trusted.describe()
            assert certificate.fingerprint in dom

        # Without the flag the same browser refuses the certificate: the
        # trust above came from the public key, not from ignoring all errors.
        notices: list[Record] = []
        endpoint.add_listener(lambda r: notices.append(r) if r.kind == "notice" else None)
        untrusted = Chromium(chromium, tmp_path / "untrusted", "--dump-dom", page)
        with untrusted:
            await untrusted.exited()
            assert "cris-cli PACS endpoint is running" not in untrusted.stdout()
            assert "ERR_CERT_AUTHORITY_INVALID" in untrusted.stderr(), untrusted.describe()
        # ...and the endpoint says so, with what to do, instead of staying silent.
        notice = await eventually(
            lambda: notices[0] if notices else None,
            "a notice about the refused certificate",
            untrusted.describe,
        )
        assert "refused this endpoint's certificate" in (notice.text or "")
        assert f"open {page} once in that browser" in (notice.text or "")
