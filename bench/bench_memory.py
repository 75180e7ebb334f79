"""Memory: ``cris-cli serve`` holding 100,000 events (its default history),
against the same process idle (the interpreter with its imports); and a soak
of 1,000,000 events, whose RSS must stay within 10% of the RSS at 100,000
(the history is bounded, so nothing else may grow).

Goals: RSS with 100,000 events held <= 100 MiB; flat within 10% after 1,000,000.
"""

from __future__ import annotations

import subprocess
import time

import psutil
from common import CRIS_CLI, Process, Result, isolated_environment
from firehose import events, send

MIB = 1024 * 1024
GOAL_HELD = 100 * MIB
GOAL_FLAT = 0.10


def _rss(pid: int) -> int:
    time.sleep(0.3)  # let the last batch settle
    return int(psutil.Process(pid).memory_info().rss)


def measure(total: int, history: int, batch: int) -> tuple[int, int, int]:
    """RSS of serve: idle, after ``history`` events, after ``total`` events."""
    with isolated_environment() as environ:
        serve = Process(
            [CRIS_CLI, "serve", "--port", "0", "--no-tls", "--json"],
            environ | {"CRIS_CLI_HISTORY": str(history)},
            stdout=subprocess.DEVNULL,
        )
        try:
            port = int(serve.wait_for(r"listening on wss?://[^:]+:(\d+)/").group(1))
            idle = _rss(serve.popen.pid)
            messages = events(batch)
            sent = 0
            while sent < history:
                send("127.0.0.1", port, messages)
                sent += batch
            held = _rss(serve.popen.pid)
            while sent < total:
                send("127.0.0.1", port, messages)
                sent += batch
            soaked = _rss(serve.popen.pid)
        finally:
            serve.stop()
    return idle, held, soaked


def run(quick: bool) -> list[Result]:  # type: ignore[override]
    if quick:
        idle, held, soaked = measure(total=30_000, history=10_000, batch=5_000)
    else:
        idle, held, soaked = measure(total=1_000_000, history=100_000, batch=50_000)
    growth = (soaked - held) / held
    label = "100,000" if not quick else "10,000"
    return [
        Result(
            name=f"memory: RSS with {label} events held",
            measured=f"{held / MIB:.1f} MiB",
            reference=f"{idle / MIB:.1f} MiB idle",
            ratio=f"{held / idle:.2f}",
            goal="≤ 100 MiB",
            met=None if quick else held <= GOAL_HELD,
            detail=f"serve --json, history {label}",
        ),
        Result(
            name="soak: 1,000,000 events through serve" if not quick else "soak: 30,000 events",
            measured=f"{soaked / MIB:.1f} MiB",
            reference=f"{held / MIB:.1f} MiB at {label}",
            ratio=f"{soaked / held:.2f}",
            goal="within 10%",
            met=None if quick else abs(growth) <= GOAL_FLAT,
            detail=f"RSS grew {growth:+.1%} from {label} to the end",
        ),
    ]
