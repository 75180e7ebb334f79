"""``cris-cli serve`` as a real process: output modes, shutdown, refusals."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from cris_cli import paths, tls, trust
from helpers import RECORD_KEYS
from processes import Running


def trust_generated() -> object:
    return trust.client_context(cafile=tls.default_files().cert)


async def send_all(port: int, texts: list[str], **kwargs: object) -> None:
    async with connect(f"wss://localhost:{port}/", ssl=trust_generated(), **kwargs) as client:
        for text in texts:
            await client.send(text)


def test_serve_json_shows_every_message_and_stops_cleanly_on_sigint() -> None:
    with Running(
        ["serve", "--port", "0", "--json", "--allow-origin", "https://cris.example"]
    ) as serve:
        port = serve.port()
        serve.wait_for("allowed browser origins: https://cris.example")
        banner = serve.stderr
        assert "SHA-256 fingerprint:" in banner
        assert f"open https://localhost:{port}/ once and accept the certificate" in banner
        assert (paths.data_dir() / "endpoint-key.pem").stat().st_mode & 0o777 == 0o600
        texts = [
            '{"command":"EVENT","accession":["A1"],"domain":"RXH","nhs":"9434765919"}',
            "not json",
            '{"command":"RELEASE","accession":"A1","domain":"RXH","extra":1}',
        ]
        asyncio.run(send_all(port, texts, origin="https://cris.example"))
        serve.wait_for(r'"command":"RELEASE"', stream="out")

        async def hold_then_see_close() -> int:
            async with connect(f"wss://localhost:{port}/", ssl=trust_generated()) as client:
                serve.process.send_signal(signal.SIGINT)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(client.recv(), 10)
                assert closed.value.rcvd is not None
                return closed.value.rcvd.code

        assert asyncio.run(hold_then_see_close()) == 1001
        assert serve.wait() == 0
    records = [json.loads(line) for line in serve.stdout.splitlines()]
    assert all(set(r) == RECORD_KEYS for r in records)
    kinds = [r["kind"] for r in records]
    assert kinds[:5] == ["connect", "message", "message", "message", "disconnect"]
    connect_record, event, malformed, release = records[:4]
    assert connect_record["origin"] == "https://cris.example"
    assert event["raw"] == texts[0]
    assert event["direction"] == "cris-to-pacs"
    assert event["fields"] == {
        "command": "EVENT",
        "accession": ["A1"],
        "domain": "RXH",
        "nhs": "9434765919",
    }
    assert event["valid"] is True and event["deviations"] == []
    assert malformed["valid"] is False and malformed["command"] is None
    assert malformed["deviations"][0]["code"] == "not-json"
    assert release["valid"] is True
    assert [d["code"] for d in release["deviations"]] == ["accession-not-list", "unknown-field"]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[-1]["kind"] == "disconnect"


def test_serve_plain_lines_and_refusals_then_sigterm() -> None:
    with Running(["serve", "--port", "0"]) as serve:
        port = serve.port()

        async def refused() -> int:
            with pytest.raises(InvalidStatus) as caught:
                await send_all(port, [], origin="https://cris.example")
            return caught.value.response.status_code

        assert asyncio.run(refused()) == 403
        asyncio.run(send_all(port, ['{"command":"LOGIN","domain":"RXH"}']))
        serve.wait_for(r"CRIS→ LOGIN domain=RXH", stream="out")
        assert serve.stop(signal.SIGTERM) == 0
    out = serve.stdout
    assert "refused: refused browser origin https://cris.example" in out
    assert "--allow-origin https://cris.example" in out
    assert "connect: CRIS client 1 connected" in out


def test_serve_without_tls() -> None:
    with Running(["serve", "--port", "0", "--no-tls", "--json"]) as serve:
        port = serve.port()
        serve.wait_for("no browser origin allowed yet")
        assert "fingerprint" not in serve.stderr

        async def plain() -> None:
            async with connect(f"ws://127.0.0.1:{port}/") as client:
                await client.send('{"command":"LOGOUT","domain":"RXH"}')

        asyncio.run(plain())
        serve.wait_for(r'"command":"LOGOUT"', stream="out")
        assert serve.stop() == 0


def test_non_loopback_host_needs_a_flag() -> None:
    with Running(["serve", "--host", "0.0.0.0", "--port", "0", "--no-tls"]) as serve:
        assert serve.wait() == 2
    assert "lets other machines connect" in serve.stderr
    assert "--allow-remote" in serve.stderr


def test_a_second_serve_on_the_port_shows_and_records_the_first_ones_records(
    tmp_path: Path,
) -> None:
    record = tmp_path / "second.jsonl"
    with Running(["serve", "--port", "0", "--no-tls"]) as first:
        port = first.port()
        with Running(["serve", "--port", str(port), "--record", str(record)]) as second:
            second.wait_for("already owns port")

            async def event() -> None:
                async with connect(f"ws://127.0.0.1:{port}/") as client:
                    await client.send('{"command":"LOGOUT","domain":"RXH"}')

            asyncio.run(event())
            second.wait_for("CRIS→ LOGOUT domain=RXH", stream="out")
            assert second.stop() == 0
        assert first.stop() == 0
    kinds = [json.loads(line)["kind"] for line in record.read_text().splitlines()]
    assert kinds[:2] == ["connect", "message"]
