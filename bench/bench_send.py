"""One-shot ``cris-cli send`` through a running TLS endpoint, against a minimal
websockets script doing the same connect, send and close (bench/reference_send.py).

Goal: ratio of medians <= 1.15, over at least 20 interleaved runs of each.
"""

from __future__ import annotations

from pathlib import Path

from common import (
    CRIS_CLI,
    PYTHON,
    CrisStandIn,
    Result,
    interleaved,
    isolated_environment,
    run_quietly,
    serving,
    summary,
)

GOAL = 1.15
DISPLAY = '{"command":"DISPLAY","accession":["HSS07170319"]}'


def run(quick: bool) -> Result:
    runs = 4 if quick else 30
    with isolated_environment() as environ, serving(environ) as (_, port):
        cafile = Path(environ["XDG_DATA_HOME"]) / "cris-cli" / "endpoint-cert.pem"
        runtime_file = Path(environ["XDG_RUNTIME_DIR"]) / "cris-cli" / f"endpoint-{port}.json"
        with CrisStandIn(f"wss://localhost:{port}/", cafile) as cris:
            ours, reference = interleaved(
                lambda: run_quietly(
                    [CRIS_CLI, "send", "--port", str(port), "display", "HSS07170319"], environ
                ),
                lambda: run_quietly(
                    [
                        PYTHON,
                        str(Path(__file__).with_name("reference_send.py")),
                        str(runtime_file),
                        DISPLAY,
                    ],
                    environ,
                ),
                runs,
            )
            delivered = len(cris.received)
    expected = 2 * (runs + 2)
    if delivered != expected:
        raise RuntimeError(f"the CRIS stand-in got {delivered} messages, not {expected}")
    import statistics

    ratio = statistics.median(ours) / statistics.median(reference)
    return Result(
        name="one-shot send (TLS, through endpoint)",
        measured=summary(ours),
        reference=summary(reference),
        ratio=f"{ratio:.2f}",
        goal=f"ratio ≤ {GOAL}",
        met=None if quick else ratio <= GOAL,
        detail=f"{runs} runs each, interleaved; all {delivered} messages delivered",
    )
