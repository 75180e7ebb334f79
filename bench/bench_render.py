"""Row rendering for the live table: rows/s of RowFormatter.row (ANSI, the
console's width), against a plain print of each record's JSON line.

Goal: at least 100,000 rows/s.
"""

from __future__ import annotations

import json
import os
import statistics
import time

from common import Result, rate
from firehose import events

from cris_cli.codec import parse
from cris_cli.messages import Direction
from cris_cli.records import Record
from cris_cli.render import RowFormatter

GOAL_RATE = 100_000


def traffic(count: int) -> list[Record]:
    """Records as they reach the console: mostly valid events, some with findings."""
    texts = [m.decode() for m in events(400)]
    texts += [
        '{"command":"EVENT","accession":"HSS00000001","domain":"RXH","nhs":"943 476 5919"}',
        '{"command":"RELEASE","accession":["HSS00000001"],"domain":"RXH"}',
        '{"command":"COMMIT","accession":["HSS00000001"],"domain":"RXH","extra":1}',
        "not json",
    ] * 25
    records = []
    for index in range(count):
        raw = texts[index % len(texts)]
        record = Record(
            "message",
            time=1_764_860_000 + index / 1000,
            direction=Direction.CRIS_TO_PACS,
            peer="127.0.0.1:50000",
            client=1,
            raw=raw,
            decoded=parse(raw, Direction.CRIS_TO_PACS),
        )
        record.seq = index + 1
        records.append(record)
    return records


def run(quick: bool) -> Result:
    count = 5_000 if quick else 50_000
    rounds = 1 if quick else 7
    records = traffic(count)
    lines = [json.dumps(r.as_json()) for r in records]
    formatter = RowFormatter(140, color=True)
    ours: list[float] = []
    theirs: list[float] = []
    with open(os.devnull, "w", encoding="utf-8") as devnull:  # noqa: PTH123

        def render() -> None:
            for record in records:
                devnull.write(formatter.row(record) + "\n")

        def plain() -> None:
            for line in lines:
                print(line, file=devnull)

        render(), plain()  # warm up: caches, allocator
        for index in range(rounds):
            for samples, job in ((ours, render), (theirs, plain))[:: 1 if index % 2 else -1]:
                start = time.perf_counter()
                job()
                samples.append(count / (time.perf_counter() - start))
    mine = statistics.median(ours)
    ratio = mine / statistics.median(theirs)
    return Result(
        name="row rendering (live table, ANSI)",
        measured=rate(ours),
        reference=rate(theirs),
        ratio=f"{ratio:.2f}",
        goal=f"≥ {GOAL_RATE:,} rows/s",
        met=None if quick else mine >= GOAL_RATE,
        detail=f"{count:,} rows per run, {rounds} runs each, interleaved",
    )
