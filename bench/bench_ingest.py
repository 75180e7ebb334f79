"""Ingest: ``cris-cli serve --json > /dev/null`` taking a fast local sender's
events, against a bare websockets receive loop with json.loads.

Goals: at least 0.6 of the reference's rate, and at least 100,000 events/s.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

from common import CRIS_CLI, PYTHON, Process, Result, isolated_environment, rate
from firehose import events, send

GOAL_RATIO = 0.6
GOAL_RATE = 100_000


def _port(process: Process) -> int:
    return int(process.wait_for(r"listening on wss?://[^:]+:(\d+)/").group(1))


def run(quick: bool) -> Result:
    count = 5_000 if quick else 200_000
    rounds = 1 if quick else 5
    messages = events(count)
    ours: list[float] = []
    theirs: list[float] = []
    with isolated_environment() as environ:
        serve = Process(
            [CRIS_CLI, "serve", "--port", "0", "--no-tls", "--json"],
            environ,
            stdout=subprocess.DEVNULL,
        )
        reference = Process(
            [PYTHON, str(Path(__file__).with_name("reference_receive.py"))], environ
        )
        try:
            serve_port, reference_port = _port(serve), _port(reference)
            send("127.0.0.1", serve_port, messages[:1000])  # warm both up
            send("127.0.0.1", reference_port, messages[:1000])
            for index in range(rounds):
                pair = [(ours, serve_port), (theirs, reference_port)]
                for samples, port in pair if index % 2 == 0 else reversed(pair):
                    samples.append(count / send("127.0.0.1", port, messages))
        finally:
            serve.stop()
            reference.stop()
    mine, reference_rate = statistics.median(ours), statistics.median(theirs)
    ratio = mine / reference_rate
    return Result(
        name="ingest: serve --json > /dev/null",
        measured=rate(ours),
        reference=rate(theirs),
        ratio=f"{ratio:.2f}",
        goal=f"≥ {GOAL_RATIO} and ≥ {GOAL_RATE:,}/s",
        met=None if quick else (ratio >= GOAL_RATIO and mine >= GOAL_RATE),
        detail=f"{count:,} events per run, {rounds} runs each, interleaved",
    )
