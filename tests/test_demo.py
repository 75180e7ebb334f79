"""``cris-cli demo``: in-process at a console, and as a tour without a terminal."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import time

from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from cris_cli import config
from cris_cli.demo import play
from cris_cli.environment import Environment
from cris_cli.worklist import synthetic_worklist
from processes import Running


async def test_display_in_the_demo_console_comes_back_as_an_event() -> None:
    accession = synthetic_worklist(seed=1).exams[12].accession
    out = io.StringIO()
    env = Environment(
        stdin=io.StringIO(),
        stdout=out,
        stderr=io.StringIO(),
        environ={"NO_COLOR": "1"},
        stdin_isatty=True,
        stdout_isatty=True,
    )
    settings = config.load(environ={}).replace(port=0, tls=False, host="127.0.0.1")
    args = argparse.Namespace(seed=1, pace=0.3, duration=None, json=False)
    with create_pipe_input() as keys:
        demo = asyncio.ensure_future(
            play(
                settings,
                args,
                env,
                input=keys,
                output=DummyOutput(),
                history=InMemoryHistory(),
                width=140,
            )
        )
        deadline = time.monotonic() + 10
        while "CRIS→ LOGIN" not in out.getvalue():  # the simulated radiologist is at work
            assert time.monotonic() < deadline, out.getvalue()
            await asyncio.sleep(0.05)
        keys.send_text(f"display {accession}\r")
        # The EVENT's row, with its note (on the row, or on lines indented under it).
        pattern = re.compile(rf"CRIS→ EVENT +{accession}[^\n]*(?:\n {{60,}}[^\n]*)*")

        def confirmed() -> bool:
            return any("confirms DISPLAY #" in row for row in pattern.findall(out.getvalue()))

        while not confirmed():
            assert time.monotonic() < deadline, out.getvalue()
            await asyncio.sleep(0.05)
        keys.send_text("quit\r")
        assert await asyncio.wait_for(demo, 10) == 0
    text = out.getvalue()
    assert "cris-cli demo: this is the PACS console" in text
    assert f"→CRIS DISPLAY    {accession}" in text


def test_the_tour_without_a_terminal() -> None:
    with Running(["demo", "--duration", "3", "--pace", "0.3"]) as demo:
        assert demo.wait(30) == 0
    assert "CRIS opened" in demo.stderr and "sent its EVENT back" in demo.stderr
    assert "connect: CRIS client 1 connected" in demo.stdout
    assert "CRIS→ LOGIN domain=RXH" in demo.stdout
    assert "→CRIS DISPLAY" in demo.stdout
    assert "round-trip: confirms DISPLAY" in demo.stdout
