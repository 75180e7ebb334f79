"""Shell start: time from launching ``cris-cli`` in a terminal until its
prompt is ready, against ``python -c "import prompt_toolkit, rich, websockets"``.

Goal: ratio <= 1.5.
"""

from __future__ import annotations

import statistics
import time

import pexpect
from common import CRIS_CLI, PYTHON, Result, isolated_environment, run_quietly, summary

GOAL = 1.5


def run(quick: bool) -> Result:
    runs = 3 if quick else 20
    with isolated_environment() as environ:

        def start_only() -> float:
            child = pexpect.spawn(
                CRIS_CLI,
                ["--port", "0", "--no-tls"],
                env=environ,
                encoding="utf-8",
                dimensions=(40, 140),
                timeout=30,
            )
            began = time.perf_counter()
            # A terminal answers prompt_toolkit's cursor position request; so do we.
            child.expect("\x1b\\[6n")
            child.send("\x1b[40;1R")
            child.expect("pacs>")
            ready = time.perf_counter() - began
            child.sendcontrol("d")
            child.expect(pexpect.EOF)
            child.close()
            return ready

        imports = [PYTHON, "-c", "import prompt_toolkit, rich, websockets"]
        start_only()  # the first start makes the history file and warms the caches
        ours: list[float] = []
        theirs: list[float] = []
        for index in range(runs):  # interleaved, who goes first alternating
            if index % 2:
                start = time.perf_counter()
                run_quietly(imports, environ)
                theirs.append(time.perf_counter() - start)
                ours.append(start_only())
            else:
                ours.append(start_only())
                start = time.perf_counter()
                run_quietly(imports, environ)
                theirs.append(time.perf_counter() - start)
    ratio = statistics.median(ours) / statistics.median(theirs)
    return Result(
        name="shell start: until the prompt is ready",
        measured=summary(ours, spec=".0f"),
        reference=summary(theirs, spec=".0f"),
        ratio=f"{ratio:.2f}",
        goal=f"ratio ≤ {GOAL}",
        met=None if quick else ratio <= GOAL,
        detail=f"{runs} starts each, interleaved, in a pseudo-terminal",
    )
