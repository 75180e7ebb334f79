"""Restarts: a simulated CRIS and an attached ``watch``, both at once, survive the
endpoint being killed (SIGKILL) and restarted on the same port, twice; and a record
file written during a flood survives SIGKILL whole, numbered from 1, and goes on
in the restarted endpoint.

test_watch.py and test_simulator.py cover one survivor and one restart each; here
everything runs as real processes, together, repeatedly.

Slow on purpose (about 8 s): the first test waits out the simulator's backoff
(two failed tries, 1 s then 2 s) at each of its two restarts, to see it back off.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

from processes import Running, free_port

SIMULATOR_BACKOFF_START = 0.5  # cris_cli.simulator.BACKOFF_START


def lines_matching(running: Running, pattern: str, stream: str = "out") -> list[re.Match[str]]:
    text = running.stdout if stream == "out" else running.stderr
    return [m for m in (re.search(pattern, line) for line in text.splitlines()) if m]


def wait_count(
    running: Running, pattern: str, count: int, *, stream: str = "out", timeout: float = 20
) -> list[re.Match[str]]:
    """Wait until at least ``count`` lines of a stream match ``pattern``."""
    deadline = time.monotonic() + timeout
    while True:
        found = lines_matching(running, pattern, stream)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline or running.process.poll() is not None:
            raise AssertionError(
                f"{count} lines matching {pattern!r} on std{stream} expected within {timeout} s, "
                f"{len(found)} seen; exit {running.process.poll()}\n"
                f"stdout (end):\n{running.stdout[-3000:]}\nstderr (end):\n{running.stderr[-3000:]}"
            )
        time.sleep(0.05)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def serve_on(port: int, *extra: str) -> Running:
    serve = Running(["serve", "--port", str(port), "--no-tls", "--json", *extra])
    assert serve.port() == port
    return serve


def test_simulator_and_watch_both_survive_two_sigkills_of_the_endpoint() -> None:
    port = free_port()
    serves = [serve_on(port)]
    simulate = Running(["simulate", "--url", f"ws://127.0.0.1:{port}/", "--auto", "5", "--json"])
    watch = Running(["watch", "--port", str(port), "--json"])
    try:
        watch.wait_for(rf"watching endpoint .*\(process {serves[0].process.pid}\)")
        serves[0].wait_for(r'"direction":"cris-to-pacs".*"command":"LOGIN"', stream="out")
        wait_count(watch, r'"kind":"message"', 3)  # records flow to the watch
        retry = r"trying again in ([\d.]+) s"
        for restart in (1, 2):
            killed = serves[-1]
            tried = len(lines_matching(simulate, retry))
            killed.process.kill()  # SIGKILL: no close frames, a stale runtime file left behind
            killed.wait()
            # Both notice; the simulator retries with growing delays (two failed tries).
            wait_count(watch, "the endpoint went away; reconnecting", restart, stream="err")
            retries = wait_count(simulate, retry, tried + 2)[tried : tried + 2]
            assert [float(m.group(1)) for m in retries] == [
                2 * SIMULATOR_BACKOFF_START,
                4 * SIMULATOR_BACKOFF_START,
            ]
            shown_before = len(json_lines(watch.stdout))
            serves.append(serve_on(port))  # the same port, a new process
            new = serves[-1]
            # The simulator is back, and logs in again (CRIS does after a reconnect).
            new.wait_for(r'"direction":"cris-to-pacs".*"command":"LOGIN"', stream="out", timeout=30)
            wait_count(simulate, r"connected again to the PACS", restart, timeout=30)
            # The watch is back, on the new process, and records flow to it again.
            watch.wait_for(rf"watching endpoint .*\(process {new.process.pid}\)", timeout=30)
            deadline = time.monotonic() + 30
            while len(json_lines(watch.stdout)) < shown_before + 3:
                assert time.monotonic() < deadline, "no records reached the watch after a restart"
                time.sleep(0.05)
        for serve in serves[:-1]:
            assert serve.process.returncode == -signal.SIGKILL
        assert simulate.stop() == 0
        assert watch.stop() == 0
        assert serves[-1].stop() == 0
    finally:
        for running in (*serves, simulate, watch):
            running.__exit__(None, None, None)
    assert re.search(r"\d+ actions played, 3 connections", simulate.stderr)
    # The watch saw three endpoints: its record numbers start again twice.
    seqs = [r["seq"] for r in json_lines(watch.stdout)]
    assert sum(b < a for a, b in itertools.pairwise(seqs)) == 2
    assert "Traceback" not in simulate.stderr + watch.stderr
    # Each endpoint saw the simulator log in, and only valid messages.
    for serve in serves:
        records = json_lines(serve.stdout)
        commands = [r["command"] for r in records if r["direction"] == "cris-to-pacs"]
        assert "LOGIN" in commands
        assert all(r["valid"] for r in records if r["kind"] == "message")


def read_complete(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """The whole lines of a record file, and whatever follows the last newline."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return [json.loads(line) for line in data[:end].decode("utf-8").splitlines()], data[end:]


def test_a_record_file_survives_sigkill_mid_flood_and_goes_on_after_a_restart(
    tmp_path: Path,
) -> None:
    record, simulated = tmp_path / "serve.jsonl", tmp_path / "simulator.jsonl"
    port = free_port()
    first = serve_on(port, "--record", str(record))
    simulate = Running(
        [
            "simulate",
            "--url",
            f"ws://127.0.0.1:{port}/",
            "--auto",
            "1000",
            "--record",
            str(simulated),
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while not record.exists() or record.read_bytes().count(b"\n") < 1500:
            assert time.monotonic() < deadline, "the simulator's flood did not reach the record"
            time.sleep(0.01)
        first.process.kill()  # SIGKILL, in the middle of the flood
        first.wait()
        records, rest = read_complete(record)
        assert rest == b"", f"a torn line at the end: {rest[:80]!r}"
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        assert records[0]["kind"] == "connect"
        messages = [r for r in records if r["kind"] == "message"]
        assert len(messages) == len(records) - 1  # nothing but the flood
        assert all(r["valid"] for r in messages)
        wait_count(simulate, r"cannot reach the PACS", 1)  # the simulator lives on
        # A new endpoint appends to the same file: the simulator logs in again there.
        second = serve_on(port, "--record", str(record))
        second.wait_for(r'"command":"LOGIN"', stream="out", timeout=30)
        time.sleep(0.5)
        assert simulate.stop() == 0
        assert second.stop() == 0
    finally:
        for running in (first, simulate):
            running.__exit__(None, None, None)
    everything, rest = read_complete(record)
    assert rest == b""
    again = everything[len(records) :]
    assert everything[: len(records)] == records  # the first run's lines untouched
    assert [r["seq"] for r in again] == list(range(1, len(again) + 1))
    assert again[0]["kind"] == "connect" and again[-1]["kind"] == "disconnect"
    assert any(r["command"] == "LOGIN" for r in again)
    # What the endpoint recorded before it died is exactly what the simulator sent
    # first: nothing missing in the middle, nothing out of order.
    sent = [r["raw"] for r in read_complete(simulated)[0] if r["direction"] == "cris-to-pacs"]
    got = [r["raw"] for r in messages] + [r["raw"] for r in again if r["kind"] == "message"]
    first_run = [r["raw"] for r in messages]
    assert sent[: len(first_run)] == first_run
    lost = sent[len(first_run) : len(sent) - (len(got) - len(first_run))]
    print(
        f"\n[restart] {len(records)} records before SIGKILL, {len(lost)} messages the "
        f"simulator had sent were in flight; {len(again)} records after the restart"
    )
    assert sent[len(sent) - (len(got) - len(first_run)) :] == got[len(first_run) :]
