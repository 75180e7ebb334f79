"""Secrets: a LOGIN password reaches CRIS, and nothing else.

One session drives every non-interactive way of logging a user in (``send`` with
``--password-stdin`` and with ``CRIS_CLI_PASSWORD``, a script file, a script on
stdin, ``replay``, and ``send`` hosting its own endpoint), while ``serve --record
--json``, ``watch --json`` and a simulated CRIS (``simulate --json --record``) look
on. Then the password must be in none of: any file under the test's home and
temporary directory, any record file, any process's stdout or stderr, any
process's arguments (watched the whole time). A CRIS test client must have
received the real password each time, and the simulated CRIS must have accepted
it (it answers a right password with its own LOGIN).

The interactive shell in a real terminal is covered by test_repl.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_send import cris_client
from websockets.asyncio.client import ClientConnection

from cris_cli.codec import parse
from cris_cli.messages import Direction
from cris_cli.records import Record
from cris_cli.render import RowFormatter, plain_line
from processes import Running, free_port, run_async

# A password with a quote, a backslash and a non-ASCII letter: it is written
# escaped in JSON, so every way it could be written is looked for.
PASSWORD = 'Zq7"Crossing\\Wx9ü'
USERS = ("rad1", "rad2", "rad3", "rad4")


def forms(secret: str) -> set[str]:
    """Every way ``secret`` could appear in text: as is, JSON-escaped, repr'd, and its
    distinctive pieces."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        "Zq7",
        "Crossing",
        "Wx9",
    }


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return sorted(form for form in forms(PASSWORD) if form in text)


class ArgumentWatch:
    """Every process's arguments, looked at every 20 ms while the session runs."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.looks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for process in psutil.process_iter(["cmdline"]):
                self.seen.add("\0".join(process.info["cmdline"] or ()))
            self.looks += 1
            self._stop.wait(0.02)

    @contextmanager
    def running(self) -> Iterator[ArgumentWatch]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(5)


def words(line: str) -> list[str]:
    """A command line's arguments (the paths in these tests hold no spaces)."""
    assert "'" not in line and '"' not in line
    return line.split()


async def login_received(client: ClientConnection, user: str) -> None:
    """The next command CRIS receives is this user's LOGIN with the real password."""
    while True:
        message = json.loads(await asyncio.wait_for(client.recv(), 20))
        if message["command"] == "LOGIN":
            assert message == {"command": "LOGIN", "username": user, "password": PASSWORD}
            return


async def logout(port: int) -> None:
    code, _, err = await run_async(["send", "--port", str(port), "logout"])
    assert code == 0, err


async def test_no_password_anywhere_after_every_way_of_logging_in(
    tmp_path: Path, isolated_dirs: Path
) -> None:
    assert isolated_dirs.is_relative_to(tmp_path)  # the home is searched too
    serve_record, run_record, sim_record = (
        tmp_path / "serve.jsonl",
        tmp_path / "run.jsonl",
        tmp_path / "simulate.jsonl",
    )
    outputs: dict[str, str] = {}
    with_password = {"CRIS_CLI_PASSWORD": PASSWORD}
    users = [arg for user in USERS for arg in ("--user", user)]
    with ArgumentWatch().running() as arguments:
        serve = Running(
            words(f"serve --port 0 --no-tls --json --max-clients 2 --record {serve_record}")
        )
        port = serve.port()
        watch = Running(["watch", "--port", str(port), "--json"])
        watch.wait_for("watching endpoint")
        logins = "expect LOGIN within 60\n" * 8
        simulate = Running(
            [*words(f"simulate --url ws://127.0.0.1:{port}/ --json --record {sim_record}"), *users],
            stdin=f"wait client 10\n{logins}echo the simulated CRIS saw 8 logins\n",
            env={"CRIS_CLI_SIM_PASSWORD": PASSWORD},
        )
        try:
            serve.wait_for('"kind":"connect"', stream="out")
            async with cris_client(port, secure=False) as client:
                # 1. send, the password on stdin
                code, out, err = await run_async(
                    ["send", "--port", str(port), "login", "rad1", "--password-stdin"],
                    stdin=PASSWORD + "\n",
                )
                assert code == 0, err
                outputs["send --password-stdin"] = out + err
                await login_received(client, "rad1")
                await logout(port)
                # 2. send, the password in the environment
                code, out, err = await run_async(
                    ["send", "--port", str(port), "login", "rad2"], env=with_password
                )
                assert code == 0, err
                outputs["send CRIS_CLI_PASSWORD"] = out + err
                await login_received(client, "rad2")
                await logout(port)
                # 3. a script file
                script = tmp_path / "login.txt"
                script.write_text("wait client 10\nlogin rad3\nsleep 0.2\nlogout\n")
                code, out, err = await run_async(
                    words(f"run {script} --port {port} --json --record {run_record}"),
                    env=with_password,
                )
                assert code == 0, err
                outputs["run FILE"] = out + err
                await login_received(client, "rad3")
                # 4. a script on stdin, NDJSON out
                code, out, err = await run_async(
                    ["--json", "--port", str(port)],
                    stdin="wait client 10\nlogin rad4\nsleep 0.2\nlogout\n",
                    env=with_password,
                )
                assert code == 0, err
                outputs["cris-cli --json < script"] = out + err
                await login_received(client, "rad4")
                # 5. replay the PACS side of the record: masked LOGINs take the variable
                code, out, err = await run_async(
                    words(f"replay {serve_record} --side pacs --port {port} --speed 0 --json"),
                    env=with_password,
                )
                assert code == 0, err
                outputs["replay"] = out + err
                for user in USERS:
                    await login_received(client, user)
                # While everything runs (runtime files exist now): no file holds it.
                assert list((isolated_dirs / "runtime").rglob("endpoint-*.json"))
                running_files = files_holding_the_password(tmp_path)
            assert simulate.wait(30) == 0, simulate.stderr
            assert "the simulated CRIS saw 8 logins" in simulate.stdout
            # 6. send with no endpoint running: it hosts one for its CRIS client
            other = free_port()
            sending = asyncio.ensure_future(
                run_async(
                    words(f"send --port {other} --no-tls --wait 20 login rad1 --password-stdin"),
                    stdin=PASSWORD + "\n",
                )
            )
            async with cris_client(other, secure=False) as client:
                await login_received(client, "rad1")
            code, out, err = await sending
            assert code == 0, err
            outputs["send, hosting"] = out + err
            assert watch.stop() == 0
            assert serve.stop() == 0
        finally:
            for running in (serve, watch, simulate):
                running.__exit__(None, None, None)
    for name, running in (("serve", serve), ("watch", watch), ("simulate", simulate)):
        outputs[name] = running.stdout + running.stderr

    # The simulated CRIS accepted the real password 8 times: each time it answered.
    records = [json.loads(line) for line in serve_record.read_text().splitlines()]
    answered = [r for r in records if r["direction"] == "cris-to-pacs" and r["command"] == "LOGIN"]
    assert len(answered) == 8
    sent = [r for r in records if r["direction"] == "pacs-to-cris" and r["command"] == "LOGIN"]
    assert len(sent) == 8
    assert all(r["fields"]["password"] == "********" for r in sent)
    # Nowhere else.
    assert arguments.looks > 10
    assert any("login\0rad1\0--password-stdin" in argv for argv in arguments.seen)
    assert not [argv for argv in arguments.seen if leaks(argv)]
    for name, text in outputs.items():
        assert not leaks(text), f"the output of {name} shows the password: {leaks(text)}"
    assert not running_files, f"while running, {running_files} held the password"
    assert not files_holding_the_password(tmp_path), "afterwards, files held the password"
    assert {serve_record, run_record, sim_record} <= set(tmp_path.rglob("*"))


def files_holding_the_password(root: Path) -> list[Path]:
    """Every file under ``root`` (the test's home, its records, its scripts) that
    holds the password in any form."""
    files = [path for path in root.rglob("*") if path.is_file()]
    assert files
    return [path for path in files if leaks(path.read_bytes())]


# --- however a password is written, no record shows it -----------------------------

SECRET = "Zq7Wx9"


def shown(text: str) -> list[str]:
    """Every text a record of ``text`` becomes: its line, table rows, plain lines."""
    texts = []
    for direction in Direction:
        record = Record("message", time=1.0, direction=direction, raw=text, seq=1)
        texts += [record.to_line(), plain_line(record)]
        texts += [RowFormatter(width, color=False).row(record) for width in (80, 300)]
        decoded = parse(text, direction)
        texts += [d.text for d in decoded.deviations]
    return texts


@pytest.mark.parametrize(
    "text",
    [
        '{"command":"LOGIN","username":"rad1","password":"Zq7Wx9"}',
        '{"command":"LOGIN","username":"rad1","Password" : "Zq7Wx9"}',
        '{"command":"LOGIN","username":"rad1","password":"Zq7\\"Wx9"}',
        '{"command":"LOGIN","username":"rad1","password":"Zq7Wx9","password":"Zq7Wx9"}',
        '{"command":"CLEAR","password":"Zq7Wx9"}',
        '{"command":"LOGIN","username":"rad1","extra":{"password":"Zq7Wx9"}}',
        '{"command":"LOGIN","username":"rad1","password":"Zq7Wx9"',  # cut short
        # the key written with a JSON escape: it still reads as "password"
        '{"command":"LOGIN","username":"rad1","pass\\u0077ord":"Zq7Wx9"}',
        # a password that is not a string
        '{"command":"LOGIN","username":"rad1","password":["x","Zq7Wx9"]}',
        '{"command":"LOGIN","username":"rad1","password":{"a":1,"b":"Zq7Wx9"}}',
        # a password inside another protocol field's value, which a deviation quotes
        '{"command":"CLEAR","username":{"password":"Zq7Wx9"}}',
        '{"command":"COMMIT","accession":["A1"],"remoteImage":{"password":"Zq7Wx9"}}',
    ],
    ids=[
        "plain",
        "other-case-and-spaces",
        "escaped-quote-in-value",
        "twice",
        "unused-by-the-command",
        "nested-in-an-unknown-field",
        "cut-short",
        "escaped-key",
        "array-value",
        "object-value",
        "nested-in-an-unused-field",
        "nested-in-an-unusable-value",
    ],
)
def test_no_record_shows_a_password_however_it_is_written(text: str) -> None:
    found = [t for t in shown(text) if SECRET in t.replace('\\"', "")]
    assert not found, f"the password shows in: {found[0][:300]!r}"


password_keys = st.sampled_from(
    ['"password"', '"PASSWORD"', '"Password"', '"pass\\u0077ord"', '"\\u0070assword"']
)
password_values = st.sampled_from(
    [
        '"Zq7Wx9"',
        '"Zq7Wx9 with spaces, and a comma"',
        '["Zq7Wx9"]',
        '["a", "Zq7Wx9"]',
        '{"v": "Zq7Wx9", "w": 2}',
        '"\\u005aq7Wx9"',
    ]
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.sampled_from(["LOGIN", "CLEAR", "EVENT", "NEW"]),
    password_keys,
    password_values,
    st.sampled_from([":", " : ", ":\n"]),
    st.booleans(),
)
def test_no_record_shows_a_password_property(
    command: str, key: str, value: str, colon: str, first: bool
) -> None:
    pair = f"{key}{colon}{value}"
    fields = [f'"command":"{command}"', '"username":"rad1"', '"accession":["A1"]']
    fields.insert(1 if first else len(fields), pair)
    text = "{" + ",".join(fields) + "}"
    found = [t for t in shown(text) if SECRET in t or "Zq7" in t]
    assert not found, f"{text}: the password shows in {found[0][:300]!r}"
