"""Fuzzing: arbitrary text, arbitrary JSON and mutated real messages, through the
codec, the record and its renderings, and through a live endpoint.

test_codec.py already checks that arbitrary text and JSON parse without raising;
here the inputs are nastier (real messages with keys dropped, doubled, renamed
and retyped, text cut anywhere, lone surrogates by JSON escape, huge numbers,
nesting near the interpreter's limit), and the checks go further: deviation
codes *and severities* as documented, records that are one line of strict JSON
in valid UTF-8, renderings that never raise, never take quadratic time and never
pass the wire's control characters to a terminal, and a live endpoint that
records every text once and keeps serving.

Hypothesis runs derandomized here (the same examples every run), so a failure is
always reproducible; the nasty cases found so far are explicit examples too.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.protocol import State
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as sync_connect

from cris_cli import codec
from cris_cli import render as rendering
from cris_cli.codec import Malformed, Parsed, Severity, mask_secrets, parse
from cris_cli.control import ControlServer
from cris_cli.endpoint import Endpoint
from cris_cli.messages import WIRE_FIELDS, Direction
from cris_cli.recorder import Recorder
from cris_cli.records import Record
from cris_cli.remote import ControlClient
from cris_cli.render import RowFormatter, cell_width, plain_line
from cris_cli.runtime import RuntimeInfo
from endpoints import options
from helpers import RECORD_KEYS

CRIS = Direction.CRIS_TO_PACS

# code -> severity, from the table in codec's docstring (the documented contract)
DOCUMENTED: dict[str, str] = dict(
    re.findall(r"^(\S+)\s+(error|warning)\s", codec.__doc__ or "", re.M)
)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIVE = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- real-shaped messages, and ways to spoil them -----------------------------------

REAL_EVENTS: list[dict[str, Any]] = [
    {
        "command": "EVENT",
        "accession": ["HSS07170319"],
        "domain": "RXH",
        "examCode": "XCHES",
        "nhs": "9434765919",
        "chi": "0101501234",
        "remoteImage": False,
    },
    {"command": "COMMIT", "accession": ["HSS07170319"], "domain": "RXH", "remoteImage": True},
    {"command": "RELEASE", "accession": ["HSS07170319"], "domain": "RXH"},
    {"command": "READONLY", "accession": ["HSS06110205"], "domain": "RXH", "examCode": "MHEAD"},
    {"command": "PREFETCH", "accession": ["HSS07170320", "HSS07170321"], "domain": "RXH"},
    {"command": "LOGIN", "domain": "RXH"},
    {"command": "LOGOUT", "domain": "RXH"},
]
REAL_COMMANDS: list[dict[str, Any]] = [
    {"command": "DISPLAY", "accession": ["HSS07170319", "HSS07170320"]},
    {"command": "CLEAR"},
    {"command": "LOGIN", "username": "rad1", "password": "cris-demo"},
    {"command": "LOGOUT"},
    {"command": "FETCHED", "accession": ["HSS07170319"]},
]

# Characters a WebSocket text frame can carry (no lone surrogates: UTF-8 has none).
wire_characters = st.characters(codec="utf-8")
wire_text = st.text(wire_characters, max_size=60)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    wire_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(wire_characters, max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
huge_numbers = st.one_of(
    st.integers(1, 4400).map(lambda k: "1" + "0" * k),  # around Python's 4300-digit limit
    st.integers(1, 400).map(lambda k: "-" + "9" * k + ".5e" + str(k)),
    st.sampled_from(
        ["1e309", "-1e309", "1e-400", "-0", "0e0", "1E+2", "NaN", "Infinity", "-Infinity"]
    ),
)
ESCAPES = [
    r"\ud800",  # lone high surrogate
    r"\udfff",  # lone low surrogate
    r"\ud83d",
    r"\ude00x",
    r"\ud83d\ude00",  # a valid pair
    r"\u0000",
    r"\u001b[2J",  # a terminal escape
    r"\n#99 forged line",
    r"\u0085",
    r"\u202e",  # right-to-left override
    r"\ufeff",
    r"\"",
    r"\\",
    "é",
    "中",
    " ",
    "HSS07170319",
]
escaped_strings = st.lists(st.sampled_from(ESCAPES), min_size=1, max_size=5).map(
    lambda parts: '"' + "".join(parts) + '"'
)


def nested(depth: int, style: str) -> str:
    if style == "list":
        return "[" * depth + "]" * depth
    if style == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '[{"a":' * (depth // 2) + "null" + "}]" * (depth // 2)


deep_values = st.builds(nested, st.integers(1, 1100), st.sampled_from(["list", "object", "mixed"]))
value_texts = st.one_of(
    st.builds(lambda v, a: json.dumps(v, ensure_ascii=a), json_values, st.booleans()),
    huge_numbers,
    escaped_strings,
    deep_values,
)


def renamings(key: str) -> st.SearchStrategy[str]:
    """A key as a careless or hostile sender might write it (as JSON text)."""
    try:
        bare = json.loads(key, strict=False)
    except ValueError:
        bare = None
    if not isinstance(bare, str) or not bare:
        bare = "command"
    body = json.dumps(bare)[1:-1]  # escaped as JSON wants it
    return st.sampled_from(
        [
            json.dumps(bare.upper()),
            json.dumps(bare.lower()),
            json.dumps(bare[:-1]),
            json.dumps(bare + " "),
            json.dumps(re.sub(r"([A-Z])", r"_\1", bare).lower()),
            '"' + f"\\u{ord(bare[0]):04x}" + json.dumps(bare[1:])[1:],  # first letter escaped
            '"' + body + r"\u0000" + '"',
            '"' + body + r"\ud800" + '"',
        ]
    ) | st.text(wire_characters, max_size=10).map(json.dumps)


key_texts = st.one_of(
    st.sampled_from([*WIRE_FIELDS, "command"]).map(json.dumps),
    st.sampled_from(['"pass\\u0077ord"', '"\\ud800"', '"command\\u0000"', '"Command"', '""']),
    st.text(wire_characters, max_size=10).map(json.dumps),
)


@st.composite
def spoiled(draw: st.DrawFn, text: str) -> str:
    """``text`` cut, with characters slipped in, or a slice taken out."""
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["cut", "insert", "delete", "prefix", "suffix"]))
    if how == "cut":
        return text[:at]
    if how == "insert":
        return text[:at] + draw(st.text(wire_characters, min_size=1, max_size=6)) + text[at:]
    if how == "delete":
        end = draw(st.integers(at, len(text)))
        return text[:at] + text[end:]
    if how == "prefix":
        return draw(st.sampled_from(["\ufeff", " ", "\n", "\x00", "\x1b[0m"])) + text
    return text + draw(st.sampled_from(["}", "]", ",", " x", "\x00", "{}"]))


@st.composite
def mutated_messages(draw: st.DrawFn, bases: list[dict[str, Any]] | None = None) -> str:
    """A real message with keys dropped, doubled, renamed, retyped or added, written
    with any spacing, then perhaps cut or spliced as text."""
    base = draw(st.sampled_from(bases or REAL_EVENTS + REAL_COMMANDS))
    pairs = [(json.dumps(key), json.dumps(value)) for key, value in base.items()]
    for _ in range(draw(st.integers(0, 4))):
        how = draw(st.sampled_from(["drop", "double", "rename", "retype", "add"]))
        if not pairs:
            how = "add"
        index = draw(st.integers(0, len(pairs) - 1)) if pairs else 0
        if how == "drop":
            del pairs[index]
        elif how == "double":
            where = draw(st.integers(0, len(pairs)))
            pairs.insert(where, (pairs[index][0], draw(value_texts)))
        elif how == "rename":
            pairs[index] = (draw(renamings(pairs[index][0])), pairs[index][1])
        elif how == "retype":
            pairs[index] = (pairs[index][0], draw(value_texts))
        else:
            pairs.insert(draw(st.integers(0, len(pairs))), (draw(key_texts), draw(value_texts)))
    comma, colon = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n ", " :\t")]))
    text = "{" + comma.join(key + colon + value for key, value in pairs) + "}"
    for _ in range(draw(st.integers(0, 2))):
        text = draw(spoiled(text))
    return text


any_input = st.one_of(
    st.text(wire_characters, max_size=200),
    json_values.map(json.dumps),
    mutated_messages(),
)

# --- the checks ------------------------------------------------------------------------


def check_decoded(text: str, direction: Direction) -> Parsed | Malformed:
    """parse never raises; what it returns keeps the text and documents each deviation."""
    decoded = parse(text, direction)
    assert isinstance(decoded, Parsed | Malformed)
    assert decoded.raw == text
    for deviation in decoded.deviations:
        assert deviation.code in DOCUMENTED, deviation
        assert deviation.severity.value == DOCUMENTED[deviation.code], deviation
        assert deviation.text
    if isinstance(decoded, Malformed):
        assert decoded.deviations
        assert decoded.deviations[0].code in ("not-json", "not-object", "too-deep")
        assert decoded.reason
    else:
        assert decoded.valid == (not any(d.severity is Severity.ERROR for d in decoded.deviations))
    if decoded.deviations and decoded.deviations[0].code == "too-deep":
        return decoded  # refused before decoding, whatever json.loads would make of it
    try:
        # The wire is strict JSON: NaN and Infinity are not objects' values.
        is_object = isinstance(json.loads(text, parse_constant=strict), dict)
    except RecursionError:
        return decoded  # the limit falls a frame or two differently here
    except ValueError:
        is_object = False
    assert isinstance(decoded, Parsed) == is_object
    return decoded


def record_of(text: str, direction: Direction, decoded: Parsed | Malformed | None) -> Record:
    return Record(
        "message",
        seq=7,
        time=1_733_330_000.123,
        direction=direction,
        peer="127.0.0.1:50000",
        client=1,
        raw=text,
        decoded=decoded,
    )


def check_record(record: Record, text: str) -> None:
    """One NDJSON line with every key of the schema; renderings never raise."""
    line = record.to_line()
    assert line.endswith("\n") and "\n" not in line[:-1] and "\r" not in line
    data = json.loads(line)
    assert set(data) == RECORD_KEYS
    assert data["raw"] == mask_secrets(text)
    assert data["kind"] == "message" and data["seq"] == 7
    for width in (40, 100, 200):
        for local in ("pacs", "cris"):
            RowFormatter(width, color=width == 100, redact=width == 200, local=local).row(record)
            plain_line(record, local)


def through_everything(text: str) -> None:
    for direction in Direction:
        decoded = check_decoded(text, direction)
        check_record(record_of(text, direction, decoded), text)
        check_record(record_of(text, direction, None), text)  # parsed again from raw


# --- through the codec, the record and its renderings ---------------------------------


@FUZZ
@given(st.text(max_size=300))
def test_any_text_through_codec_record_and_renderings(text: str) -> None:
    through_everything(text)


@FUZZ
@given(json_values)
@example([[[]]])
@example({"command": None})
def test_any_json_through_codec_record_and_renderings(value: object) -> None:
    through_everything(json.dumps(value))
    through_everything(json.dumps(value, ensure_ascii=False, indent=1))


@FUZZ
@given(mutated_messages())
@example('{"command":"EVENT","accession":["HSS07170319"],"domain":"RXH","nhs":1' + "0" * 4400 + "}")
@example('{"command":"EVENT","accession":[1e309],"domain":NaN,"nhs":-Infinity}')
@example('{"command":"EVENT","accession":["HSS07170319"],"domain":"RXH"')
@example('{"command":"EVENT","command":"RELEASE","accession":["A"],"accession":"B"}')
@example('{"command":"DISPLAY","accession":[' + "[" * 990 + "]" * 990 + "]}")
def test_mutated_real_messages_through_codec_record_and_renderings(text: str) -> None:
    through_everything(text)


# --- what a record line must be --------------------------------------------------------

SURROGATE_ESCAPES = [
    '{"command":"EVENT","accession":["\\ud800"],"domain":"RXH"}',
    '{"command":"EVENT","accession":["HSS07170319"],"domain":"RXH","\\udfff":1}',
    '{"command":"LOGIN","domain":"RX\\ud83dH"}',
    '{"command":"ANNOTATE","note":["\\ude00"]}',
]


@FUZZ
@given(mutated_messages())
@example(SURROGATE_ESCAPES[0])
@example(SURROGATE_ESCAPES[1])
@example(SURROGATE_ESCAPES[3])
def test_record_lines_are_valid_utf8(text: str) -> None:
    """A record line is written as UTF-8 (a record file, ``--json`` output, the control
    channel): it must encode, whatever JSON escapes the wire text used."""
    for direction in Direction:
        line = record_of(text, direction, parse(text, direction)).to_line()
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as error:
            raise AssertionError(
                f"the record line of {text!r} cannot be written as UTF-8: {error}"
            ) from None


def strict(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


@FUZZ
@given(mutated_messages())
@example('{"command":"ANNOTATE","x":NaN}')
@example('{"command":"ANNOTATE","x":1e999}')
@example('{"command":"EVENT","accession":["A1"],"domain":"RXH","ward":-Infinity}')
def test_record_lines_are_strict_json(text: str) -> None:
    """NDJSON is JSON: a record line must not hold NaN or Infinity (which the wire's
    JSON parser accepts), or jq and every strict reader fail on the file."""
    for direction in Direction:
        line = record_of(text, direction, parse(text, direction)).to_line()
        json.loads(line, parse_constant=strict)


@FUZZ
@given(mutated_messages())
def test_a_record_read_back_is_the_same_record(text: str) -> None:
    """``watch`` and ``replay`` rebuild records from their lines: nothing may change."""
    for direction in Direction:
        line = record_of(text, direction, parse(text, direction)).to_line()
        again = Record.from_json(json.loads(line))
        assert again.to_line() == line


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but \t\n, DEL, C1
FORGING = [
    '{"command":"EVENT","accession":["A1\\n#99 00:00:00.000 CRIS→ EVENT accession=FAKE"],'
    '"domain":"RXH"}',
    '{"command":"EVENT","accession":["A1"],"domain":"\\u001b]0;pwned\\u0007\\u001b[2J"}',
    '{"command":"ANNOTATE\\u001b[31m","note":"\\r\\u001b[1A"}',
    '{"command":"EVENT","accession":["\\u009b2J"],"domain":"RXH","examCode":"\\t"}',
]


@FUZZ
@given(mutated_messages())
@example(FORGING[0])
@example(FORGING[1])
@example(FORGING[2])
@example(FORGING[3])
def test_renderings_pass_no_control_characters_from_the_wire(text: str) -> None:
    """Rows and plain lines go to terminals and logs: a value from the wire must not
    bring terminal escapes (ESC, CSI, BEL, CR) or start a line of its own that looks
    like a record."""
    for direction in Direction:
        record = record_of(text, direction, parse(text, direction))
        for local in ("pacs", "cris"):
            lines = plain_line(record, local).split("\n")
            row = RowFormatter(120, color=False, local=local).row(record).split("\n")
            for line in lines + row:
                assert not CONTROL.search(line), (text, line)
            assert all(line.startswith("    ") for line in lines[1:]), (text, lines)
            assert all(line.startswith(" ") or not line for line in row[1:]), (text, row)


@FUZZ
@given(mutated_messages(), st.integers(64, 200))
@example(
    '{"command":"EVENT","accession":["中中中中中中中中中中中中中中中中中中"],"domain":"RXH"}', 80
)
def test_table_rows_fit_the_terminal(text: str, width: int) -> None:
    """Every line of a table row fits the terminal's width (in terminal cells), from 64
    columns up (below that even the fewest columns do not fit)."""
    for direction in Direction:
        record = record_of(text, direction, parse(text, direction))
        for line in RowFormatter(width, color=False).row(record).split("\n"):
            assert cell_width(line) <= width, (text, width, line)


# --- nesting near the interpreter's limit ---------------------------------------------


def deeper(frames: int, call: Callable[[], object]) -> object:
    """``call`` made ``frames`` Python frames further down the stack."""
    if frames == 0:
        return call()
    return deeper(frames - 1, call)


@pytest.mark.parametrize("style", ["list", "object"])
def test_nesting_near_the_limit_through_codec_record_and_renderings(style: str) -> None:
    """parse never raises, however deep the nesting, and whatever it accepted the
    record line and the renderings handle too, when called a few frames further down
    (as an endpoint's listeners are)."""
    failures = []
    for depth in range(850, 1000):
        for command, field in (
            ("ANNOTATE", "ward"),
            ("COMMIT", "remoteImage"),
            ("CLEAR", "username"),
        ):
            text = f'{{"command":"{command}","accession":["A1"],"{field}":{nested(depth, style)}}}'
            try:
                decoded = deeper(10, functools.partial(parse, text, CRIS))
            except RecursionError:
                failures.append(f"parse itself at depth {depth} ({field})")
                continue
            assert isinstance(decoded, Parsed | Malformed)
            record = record_of(text, CRIS, decoded)
            for name, render in (
                ("to_line", record.to_line),
                ("row", lambda record=record: RowFormatter(120).row(record)),
                ("plain_line", lambda record=record: plain_line(record)),
            ):
                try:
                    deeper(15, render)
                except RecursionError:
                    failures.append(f"{name} at depth {depth} ({field})")
    assert not failures, f"{len(failures)} failures near the nesting limit: {failures[:8]}"


# --- rendering time --------------------------------------------------------------------


@pytest.mark.parametrize("character", ["é", "中"])
def test_a_row_for_the_largest_message_measures_only_what_it_shows(
    character: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table row is made while the endpoint waits (the shell and a terminal ``serve``
    render in the endpoint's own event loop): for a message at the size limit with a
    long non-ASCII accession, the row measures about as many characters as it shows,
    not the whole 64 kB (counted, not timed)."""
    measured = 0
    char_width = rendering._char_width

    def counting(char: str) -> int:
        nonlocal measured
        measured += 1
        return char_width(char)

    monkeypatch.setattr(rendering, "_char_width", counting)
    accession = character * ((65536 - 100) // len(character.encode()))
    text = json.dumps(
        {"command": "EVENT", "accession": [accession], "domain": "RXH"}, ensure_ascii=False
    )
    record = Record("message", time=1.0, direction=Direction.CRIS_TO_PACS, raw=text, seq=1)
    row = RowFormatter(120).row(record)
    assert character in row
    assert 0 < measured <= 4 * 120, f"{measured} characters measured for one 120-column row"


# --- through a live endpoint -----------------------------------------------------------

TOKEN = "fuzz-token"


class LiveEndpoint:
    """An endpoint in a thread of its own (its own event loop), recording to a file
    and with a control-channel subscriber attached, as under ``serve --record`` with
    a ``watch``; the test's thread is a CRIS client sending it fuzzed texts."""

    def __init__(self, directory: Path) -> None:
        self.record = directory / "live.jsonl"
        self.records: list[Record] = []
        self.subscribed: list[Record] = []
        self.sent: list[str] = []
        self.changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.client: ClientConnection | None = None
        self._clients = ExitStack()
        self.reconnects = 0
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),))

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with Endpoint(options(history=1000)) as endpoint:
                self.endpoint = endpoint
                endpoint.add_listener(self._collect)  # first: it sees what later ones choke on
                recorder = Recorder(self.record)
                endpoint.add_listener(recorder)
                ControlServer(endpoint, TOKEN)
                info = RuntimeInfo(
                    endpoint.port, "127.0.0.1", os.getpid(), False, None, None, TOKEN
                )
                control = await ControlClient.connect(info)
                control.on_record = self._subscribe
                await control.subscribe()
                self.ready.set()
                await self._stop.wait()
                await control.close()
                recorder.close()
        finally:
            self.ready.set()

    def _collect(self, record: Record) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def _subscribe(self, record: Record) -> None:
        with self.changed:
            self.subscribed.append(record)
            self.changed.notify_all()

    def run(self, coroutine: Any, timeout: float = 10) -> Any:
        """Run a coroutine in the endpoint's loop, from the test's thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def settle(self) -> None:
        """Wait until the endpoint's loop has finished what it was doing."""
        for _ in range(3):
            self.run(asyncio.sleep(0))

    def wait(self, ready: Callable[[], bool], what: str, timeout: float = 10) -> None:
        with self.changed:
            if not self.changed.wait_for(ready, timeout):
                raise AssertionError(f"{what} did not happen within {timeout} s")

    def connection(self) -> ClientConnection:
        if self.client is None or self.client.protocol.state is not State.OPEN:
            if self.client is not None:
                self.client.close()
                self.reconnects += 1
            self.client = self._clients.enter_context(
                sync_connect(f"ws://127.0.0.1:{self.endpoint.port}/", open_timeout=5, max_size=None)
            )
            self.wait(lambda: self.records[-1].kind == "connect", "the connect record")
        return self.client

    def check_one(self, text: str) -> None:
        """Send one text; it is recorded once, exactly, and nothing else happens."""
        connection = self.connection()
        with self.changed:
            mark = len(self.records)
        connection.send(text)
        self.sent.append(text)
        self.wait(lambda: len(self.records) > mark, f"a record of {text[:80]!r}")
        self.settle()
        with self.changed:
            new = self.records[mark:]
        assert [r.kind for r in new] == ["message"], (
            f"after {text[:200]!r} the endpoint published "
            + "; ".join(f"{r.kind}: {r.text or r.raw!r}"[:200] for r in new)
        )
        record = new[0]
        assert record.direction is CRIS and record.raw == mask_secrets(text)
        try:
            decoded = record.decoded  # parsed again from raw, on this thread's deeper stack
        except RecursionError as error:
            raise AssertionError(f"reading the record of {text[:80]!r} again: {error}") from None
        assert isinstance(decoded, Parsed | Malformed)
        for deviation in decoded.deviations:
            assert deviation.severity.value == DOCUMENTED.get(deviation.code), deviation

    def check_afterwards(self) -> None:
        """The record file and the subscriber hold every record; a normal client is served."""
        assert self.reconnects == 0, (
            f"the endpoint dropped the fuzzing client {self.reconnects} times"
        )
        tag = "HSS99999999"
        with sync_connect(f"ws://127.0.0.1:{self.endpoint.port}/", open_timeout=5) as normal:
            normal.send(json.dumps({"command": "EVENT", "accession": [tag], "domain": "RXH"}))
            self.wait(lambda: any(tag in (r.raw or "") for r in self.records), "the normal EVENT")

            async def command() -> Record | None:
                return self.endpoint.send('{"command":"CLEAR"}')

            assert self.run(command()) is not None
            assert normal.recv(timeout=5) == '{"command":"CLEAR"}'
        self.wait(lambda: self.records[-1].kind == "disconnect", "the normal client's disconnect")
        self.settle()  # the listeners after the first have had their turn too
        self.wait(
            lambda: len(self.subscribed) == len(self.records),
            f"the subscriber's copy of all {len(self.records)} records",
        )
        lines = self.record.read_text(encoding="utf-8").splitlines()
        written = [json.loads(line) for line in lines]
        assert [r["seq"] for r in written] == [r.seq for r in self.records]
        fuzzed = [r["raw"] for r in written if r["kind"] == "message"][: len(self.sent)]
        assert fuzzed == [mask_secrets(text) for text in self.sent]

        def essence(record: Record) -> tuple[object, ...]:
            return (record.seq, record.kind, record.raw, record.text, record.notes)

        assert [essence(r) for r in self.subscribed] == [essence(r) for r in self.records]

    def __enter__(self) -> LiveEndpoint:
        self._thread.start()
        self.ready.wait(10)
        assert hasattr(self, "endpoint"), "the live endpoint did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._clients.close()
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self.loop.close()


def test_a_live_endpoint_records_arbitrary_text_once_each(tmp_path: Path) -> None:
    with LiveEndpoint(tmp_path) as endpoint:

        @LIVE
        @given(st.text(wire_characters, max_size=300))
        @example("")
        @example("\x00")
        @example("{" * 5000)
        def one(text: str) -> None:
            endpoint.check_one(text)

        one()
        endpoint.check_afterwards()


def test_a_live_endpoint_records_arbitrary_json_once_each(tmp_path: Path) -> None:
    with LiveEndpoint(tmp_path) as endpoint:

        @LIVE
        @given(json_values, st.booleans())
        @example({"command": "EVENT", "accession": [None, 1.5, {"a": []}]}, True)
        def one(value: object, ascii_only: bool) -> None:
            endpoint.check_one(json.dumps(value, ensure_ascii=ascii_only))

        one()
        endpoint.check_afterwards()


def test_a_live_endpoint_records_mutated_real_messages_once_each(tmp_path: Path) -> None:
    with LiveEndpoint(tmp_path) as endpoint:

        @settings(LIVE, max_examples=200)
        @given(mutated_messages(REAL_EVENTS))
        @example(SURROGATE_ESCAPES[0])
        @example(SURROGATE_ESCAPES[1])
        @example('{"command":"EVENT","accession":["HSS07170319"],"domain":"RXH","nhs":NaN}')
        def one(text: str) -> None:
            endpoint.check_one(text)

        one()
        endpoint.check_afterwards()


def test_a_live_endpoint_records_nesting_near_the_limit(tmp_path: Path) -> None:
    """Every depth from 850 to 1000, the last ones past what parse accepts: in a field
    a record shows (an unknown command's), and in one a deviation quotes."""
    with LiveEndpoint(tmp_path) as endpoint:
        failures = []
        for depth in range(850, 1001):
            for text in (
                '{"command":"ANNOTATE","accession":["D1"],"ward":' + nested(depth, "list") + "}",
                '{"command":"COMMIT","accession":["D1"],"remoteImage":'
                + nested(depth, "list")
                + "}",
            ):
                try:
                    endpoint.check_one(text)
                except AssertionError as failure:
                    failures.append(f"{text[:22]} depth {depth}: {str(failure)[-160:]}")
        assert not failures, f"{len(failures)} depths failed: {failures[:3]}"
        endpoint.check_afterwards()
