"""``cris-cli watch``, and ``serve`` attaching to an endpoint that owns the port."""

from __future__ import annotations

import asyncio
import json
import signal

from websockets.asyncio.client import connect

from processes import Running, free_port


async def cris_sends(port: int, *texts: str) -> None:
    async with connect(f"ws://127.0.0.1:{port}/") as client:
        for text in texts:
            await client.send(text)


def records(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def test_watch_streams_records_with_filters() -> None:
    with Running(["serve", "--port", "0", "--no-tls"]) as serve:
        port = serve.port()
        with (
            Running(["watch", "--port", str(port), "--json"]) as everything,
            Running(
                [
                    "watch",
                    "--port",
                    str(port),
                    "--json",
                    "--command",
                    "EVENT,release",
                    "--accession",
                    "A2",
                ]
            ) as filtered,
        ):
            for watcher in (everything, filtered):
                watcher.wait_for(r"watching endpoint ws://localhost:\d+/ \(process \d+\)")
            await cris_sends(
                port,
                '{"command":"EVENT","accession":["A1"],"domain":"RXH"}',
                '{"command":"EVENT","accession":["A2"],"domain":"RXH"}',
                '{"command":"COMMIT","accession":["A2"],"domain":"RXH"}',
                '{"command":"RELEASE","accession":["A2"],"domain":"RXH"}',
            )
            everything.wait_for(r'"kind":"disconnect"', stream="out")
            filtered.wait_for(r'"command":"RELEASE"', stream="out")
            assert everything.stop() == 0
            assert filtered.stop() == 0
        assert [r["kind"] for r in records(everything.stdout)] == [
            "connect",
            "message",
            "message",
            "message",
            "message",
            "disconnect",
        ]
        assert [(r["command"], r["fields"]["accession"]) for r in records(filtered.stdout)] == [  # type: ignore[index]
            ("EVENT", ["A2"]),
            ("RELEASE", ["A2"]),
        ]


async def test_watch_survives_the_endpoint_being_killed_and_restarted() -> None:
    port = free_port()
    first = Running(["serve", "--port", str(port), "--no-tls"])
    first.port()
    with Running(["watch", "--port", str(port), "--json"]) as watcher:
        watcher.wait_for("watching endpoint")
        await cris_sends(port, '{"command":"LOGIN","domain":"RXH"}')
        watcher.wait_for(r'"command":"LOGIN"', stream="out")
        first.process.kill()  # SIGKILL: no goodbye, a stale runtime file is left behind
        first.wait()
        watcher.wait_for("the endpoint went away; reconnecting")
        with Running(["serve", "--port", str(port), "--no-tls"]) as second:
            second.port()
            watcher.wait_for(rf"watching endpoint .*\(process {second.process.pid}\)")
            await cris_sends(port, '{"command":"LOGOUT","domain":"RXH"}')
            watcher.wait_for(r'"command":"LOGOUT"', stream="out")
            assert second.stop() == 0
        assert watcher.stop() == 0


async def test_watch_waits_for_an_endpoint_to_appear() -> None:
    port = free_port()
    with Running(["watch", "--port", str(port)]) as watcher:
        watcher.wait_for(f"waiting for a cris-cli endpoint on port {port}")
        with Running(["serve", "--port", str(port), "--no-tls"]) as serve:
            serve.port()
            watcher.wait_for("watching endpoint")
            await cris_sends(port, '{"command":"LOGIN","domain":"RXH"}')
            watcher.wait_for(r"CRIS→ LOGIN domain=RXH", stream="out")
            assert serve.stop() == 0
        assert watcher.stop(signal.SIGTERM) == 0


async def test_second_serve_attaches_instead_of_failing() -> None:
    port = free_port()
    with Running(["serve", "--port", str(port), "--no-tls"]) as owner:
        owner.port()
        with Running(["serve", "--port", str(port), "--json"]) as viewer:
            viewer.wait_for(f"already owns port {port}; showing its records")
            viewer.wait_for("watching endpoint")
            await cris_sends(port, '{"command":"EVENT","accession":["Z1"],"domain":"RXH"}')
            viewer.wait_for(r'"accession":\["Z1"\]', stream="out")
            assert viewer.stop() == 0
        await asyncio.sleep(0.1)
        assert owner.process.poll() is None  # stopping the viewer leaves the owner running
        assert owner.stop() == 0
