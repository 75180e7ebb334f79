"""Relay latency: a command sent over the control channel to a running TLS
endpoint, until its CRIS client has it; against a direct send on an open
socket. Goals: p50 <= 2 ms, p99 <= 10 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path

from common import Result, isolated_environment, serving

from cris_cli.runtime import RuntimeInfo

GOAL_P50 = 0.002
GOAL_P99 = 0.010


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


async def _ours(port: int, info: RuntimeInfo, cafile: Path, count: int) -> list[float]:
    import ssl

    from websockets.asyncio.client import connect

    from cris_cli.remote import ControlClient

    context = ssl.create_default_context(cafile=str(cafile))
    control = await ControlClient.connect(info)
    latencies: list[float] = []
    async with connect(f"wss://localhost:{port}/", ssl=context, compression=None) as cris:
        for index in range(count):
            text = json.dumps({"command": "DISPLAY", "accession": [f"HSS{index:08d}"]})
            start = time.perf_counter()
            await control.request({"op": "send", "text": text})
            received = await cris.recv()
            latencies.append(time.perf_counter() - start)
            assert received == text
    await control.close()
    return latencies


async def _reference(count: int) -> list[float]:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    ready: asyncio.Queue[ServerConnection] = asyncio.Queue()

    async def hold(connection: ServerConnection) -> None:
        await ready.put(connection)
        await connection.wait_closed()

    latencies: list[float] = []
    async with serve(hold, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as client:
            connection = await ready.get()
            for index in range(count):
                text = json.dumps({"command": "DISPLAY", "accession": [f"HSS{index:08d}"]})
                start = time.perf_counter()
                await connection.send(text)
                await client.recv()
                latencies.append(time.perf_counter() - start)
    return latencies


def run(quick: bool) -> Result:
    count = 50 if quick else 2000
    with isolated_environment() as environ, serving(environ) as (_, port):
        runtime_file = Path(environ["XDG_RUNTIME_DIR"]) / "cris-cli" / f"endpoint-{port}.json"
        cafile = Path(environ["XDG_DATA_HOME"]) / "cris-cli" / "endpoint-cert.pem"
        info = RuntimeInfo(**json.loads(runtime_file.read_text()))
        ours = asyncio.run(_ours(port, info, cafile, count))
    theirs = asyncio.run(_reference(count))
    p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
    return Result(
        name="relay latency: control send → CRIS client",
        measured=f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms",
        reference=f"p50 {percentile(theirs, 0.5) * 1000:.2f} ms, "
        f"p99 {percentile(theirs, 0.99) * 1000:.2f} ms",
        ratio=f"{p50 / statistics.median(theirs):.1f}",
        goal="p50 ≤ 2 ms, p99 ≤ 10 ms",
        met=None if quick else (p50 <= GOAL_P50 and p99 <= GOAL_P99),
        detail=f"{count} commands, one at a time, TLS on both hops",
    )
