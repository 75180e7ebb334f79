"""Record files: private, whole lines, no passwords; they survive SIGKILL,
lint reads them, and replay plays them again against a live peer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from test_codec import all_messages, json_values
from test_send import cris_client
from websockets.asyncio.client import connect

from cris_cli.codec import serialize
from cris_cli.errors import ExitCode
from cris_cli.messages import Direction
from cris_cli.recorder import Recorder
from cris_cli.records import Record
from helpers import RECORD_KEYS
from processes import Running, free_port, run_async

SECRET = "rec0rd-secret"


def read_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_recorder_appends_private_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "session.jsonl"
    with Recorder(path) as recorder:
        recorder(
            Record(
                "message",
                time=1.0,
                direction=Direction.PACS_TO_CRIS,
                raw=f'{{"command":"LOGIN","username":"u","password":"{SECRET}"}}',
            )
        )
        recorder(Record("notice", time=2.0, text="hello"))
    assert path.stat().st_mode & 0o777 == 0o600
    first, second = read_records(path)
    assert set(first) == RECORD_KEYS
    assert first["raw"] == '{"command":"LOGIN","username":"u","password":"********"}'
    assert second["text"] == "hello"
    assert SECRET not in path.read_text()
    with Recorder(path) as again:  # appending, never truncating
        again(Record("notice", time=3.0, text="more"))
    assert len(read_records(path)) == 3


async def test_serve_records_both_directions_without_passwords(tmp_path: Path) -> None:
    path = tmp_path / "serve.jsonl"
    with Running(["serve", "--port", "0", "--no-tls", "--record", str(path)]) as serve:
        port = serve.port()
        async with connect(f"ws://127.0.0.1:{port}/") as client:
            await client.send('{"command":"EVENT","accession":["R1"],"domain":"RXH"}')
            code, _, err = await run_async(
                ["send", "--port", str(port), "login", "rad1"], env={"CRIS_CLI_PASSWORD": SECRET}
            )
            assert code == 0, err
            assert SECRET in await asyncio.wait_for(client.recv(), 5)  # CRIS gets it...
        assert await asyncio.to_thread(serve.stop) == 0
    text = path.read_text()
    assert SECRET not in text  # ...the record never holds it
    records = read_records(path)
    assert [(r["kind"], r["command"]) for r in records] == [
        ("connect", None),
        ("message", "EVENT"),
        ("message", "LOGIN"),
        ("disconnect", None),
    ]
    assert records[2]["direction"] == "pacs-to-cris"
    assert records[2]["fields"] == {"command": "LOGIN", "username": "rad1", "password": "********"}
    assert path.stat().st_mode & 0o777 == 0o600
    linted = await run_async(["lint", str(path)])
    assert linted[0] == 0 and "2 messages checked: 2 passed" in linted[1]


async def test_a_record_survives_sigkill_with_every_complete_line_parseable(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl"
    serve = Running(["serve", "--port", "0", "--no-tls", "--record", str(path)])
    try:
        port = serve.port()
        async with connect(f"ws://127.0.0.1:{port}/") as client:
            for index in range(2000):
                await client.send(
                    json.dumps({"command": "EVENT", "accession": [f"K{index}"], "domain": "RXH"})
                )
                if index == 1500:
                    os.kill(serve.process.pid, signal.SIGKILL)  # in the middle of the flood
                    break
    finally:
        serve.process.kill()
        serve.wait()
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8")
    records = [json.loads(line) for line in complete.splitlines()]
    assert len(records) > 100
    numbers = [r["seq"] for r in records]
    assert numbers == list(range(1, len(records) + 1))  # nothing missing, nothing torn


async def test_replay_the_cris_side_against_a_fresh_endpoint(tmp_path: Path) -> None:
    original = tmp_path / "original.jsonl"
    texts = [
        '{"command":"LOGIN","domain":"RXH"}',
        '{"command":"EVENT","accession":["P1"],"domain":"RXH","nhs":"9434765919"}',
        '{"command":"COMMIT","accession":["P1"],"domain":"RXH"}',
        '{"command":"RELEASE","accession":["P1"],"domain":"RXH"}',
    ]
    with Running(["serve", "--port", "0", "--no-tls", "--record", str(original)]) as first:
        port = first.port()
        async with connect(f"ws://127.0.0.1:{port}/") as client:
            for text in texts:
                await client.send(text)
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(first.stop) == 0
    again = tmp_path / "again.jsonl"
    with Running(["serve", "--port", "0", "--no-tls", "--record", str(again)]) as second:
        port = second.port()
        code, _, err = await run_async(
            ["replay", str(original), "--url", f"ws://127.0.0.1:{port}/", "--speed", "4"]
        )
        assert code == 0, err
        assert "replayed 4 messages" in err
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(second.stop) == 0
    replayed = [r["raw"] for r in read_records(again) if r["kind"] == "message"]
    assert replayed == texts


async def test_replay_the_pacs_side_to_a_cris_client(tmp_path: Path) -> None:
    record = tmp_path / "pacs.jsonl"
    lines = [
        Record(
            "message",
            time=10.0,
            direction=Direction.PACS_TO_CRIS,
            raw='{"command":"DISPLAY","accession":["Q1"]}',
        ),
        Record(
            "message",
            time=10.1,
            direction=Direction.CRIS_TO_PACS,
            raw='{"command":"EVENT","accession":["Q1"],"domain":"RXH"}',
        ),
        Record(
            "message",
            time=10.2,
            direction=Direction.PACS_TO_CRIS,
            raw=f'{{"command":"LOGIN","username":"rad1","password":"{SECRET}"}}',
        ),
        Record("message", time=10.3, direction=Direction.PACS_TO_CRIS, raw='{"command":"CLEAR"}'),
    ]
    record.write_text("".join(r.to_line() for r in lines), encoding="utf-8")
    for environ, expected in (
        ({}, ['{"command":"DISPLAY","accession":["Q1"]}', '{"command":"CLEAR"}']),
        (
            {"CRIS_CLI_PASSWORD": "new-pw"},
            [
                '{"command":"DISPLAY","accession":["Q1"]}',
                '{"command":"LOGIN","username":"rad1","password":"new-pw"}',
                '{"command":"CLEAR"}',
            ],
        ),
    ):
        port = free_port()
        replaying = asyncio.ensure_future(
            run_async(
                [
                    "replay",
                    str(record),
                    "--side",
                    "pacs",
                    "--port",
                    str(port),
                    "--no-tls",
                    "--speed",
                    "0",
                ],
                env=environ,
            )
        )
        async with cris_client(port, secure=False) as client:
            got = [await asyncio.wait_for(client.recv(), 10) for _ in expected]
        code, _, err = await replaying
        assert code == 0, err
        assert got == expected
        if not environ:
            assert "a LOGIN with a masked password; skipped" in err


async def test_replay_needs_messages_of_that_side(tmp_path: Path) -> None:
    record = tmp_path / "empty.jsonl"
    record.write_text(Record("notice", time=1.0, text="x").to_line(), encoding="utf-8")
    code, _, err = await run_async(["replay", str(record)])
    assert code == ExitCode.USAGE
    assert "holds no message sent by CRIS" in err
    record.write_text("not a record\n", encoding="utf-8")
    code, _, err = await run_async(["replay", str(record)])
    assert code == ExitCode.USAGE
    assert f"{record}:1: not a cris-cli record line" in err


# The fast NDJSON line must say exactly what the general one says.


@given(
    st.one_of(
        all_messages.map(serialize),
        all_messages.map(lambda m: json.dumps(json.loads(serialize(m)), indent=2)),
        all_messages.map(lambda m: serialize(m).replace('":"', '":"\u2028', 1)),
        json_values.map(json.dumps),
        st.text(max_size=40),
    ),
    st.sampled_from(list(Direction)),
    st.floats(0, 4e9),
    st.one_of(st.none(), st.text(max_size=12)),
)
def test_the_ndjson_line_equals_the_json_of_the_record(
    raw: str, direction: Direction, time: float, peer: str | None
) -> None:
    record = Record("message", time=time, direction=direction, peer=peer, client=3, raw=raw)
    record.seq = 7
    line = record.to_line()
    assert line.endswith("\n")
    assert len(line.splitlines()) == 1  # one line, by every reader's idea of a line
    assert json.loads(line) == record.as_json()


@given(st.floats(1e9, 4e9))
def test_every_rendering_shows_the_same_milliseconds(time: float) -> None:
    """A table row, a plain line, the NDJSON line and a record read back from it (as
    watch and replay do) all show the same milliseconds."""
    from cris_cli.render import RowFormatter, plain_line

    record = Record("notice", time=time, text="a notice")
    record.seq = 1
    iso = json.loads(record.to_line())["time"]
    millis = iso[-4:-1]
    again = Record.from_json(json.loads(record.to_line()))
    again.seq = 1
    for shown in (record, again):
        assert f".{millis} " in RowFormatter(120, color=False).row(shown)
        assert plain_line(shown).startswith(f"#1 {plain_line(shown)[3:11]}.{millis} ")
    assert json.loads(again.to_line())["time"] == iso
