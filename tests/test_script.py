"""Scripts: every verb passing and failing, exit codes, line numbers, and a
PACS script and a simulator script playing against each other."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from test_send import cris_client
from websockets.asyncio.client import ClientConnection

from cris_cli.errors import ExitCode
from cris_cli.worklist import synthetic_worklist
from processes import free_port, run_async


async def stand_in(client: ClientConnection) -> None:
    """A CRIS stand-in: DISPLAY opens (EVENT), CLEAR releases (RELEASE)."""
    current: list[str] = []
    async for text in client:
        message = json.loads(text)
        if message["command"] == "DISPLAY":
            current = message["accession"]
            await client.send(
                json.dumps({"command": "EVENT", "accession": current, "domain": "RXH"})
            )
        elif message["command"] == "CLEAR":
            await client.send(
                json.dumps({"command": "RELEASE", "accession": current, "domain": "RXH"})
            )


def script(tmp_path: Path, text: str) -> str:
    file = tmp_path / "scenario.txt"
    file.write_text(text, encoding="utf-8")
    return str(file)


async def run_with_stand_in(
    args: list[str],
    port: int,
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    running = asyncio.ensure_future(
        run_async([*args, "--port", str(port), "--no-tls"], stdin=stdin, env=env)
    )
    async with cris_client(port, secure=False) as client:
        answering = asyncio.ensure_future(stand_in(client))
        result = await running
        answering.cancel()
    return result


async def test_a_script_with_every_verb_passes(tmp_path: Path) -> None:
    file = script(
        tmp_path,
        """\
# a scenario: CRIS opens what the PACS asks, and clears it
echo start

wait client 10
display A1 A2
expect EVENT A1 A2 within 5
sleep 0.1
clear
expect RELEASE A1
echo done
""",
    )
    code, out, err = await run_with_stand_in(["run", file, "--json"], free_port())
    assert code == 0, err
    assert '{"kind":"echo","text":"start"}' in out.splitlines()  # compact, like every line
    lines = [json.loads(line) for line in out.splitlines()]
    echoes = [line["text"] for line in lines if line.get("kind") == "echo"]
    assert echoes == ["start", "done"]
    commands = [line.get("command") for line in lines if line.get("kind") == "message"]
    assert commands == ["DISPLAY", "EVENT", "CLEAR", "RELEASE"]
    event = next(line for line in lines if line.get("command") == "EVENT")
    assert event["notes"][0]["code"] == "round-trip"


async def test_expect_that_never_comes_names_the_line_and_what_arrived(tmp_path: Path) -> None:
    file = script(tmp_path, "wait client 10\ndisplay A1\nexpect EVENT B9 within 0.5\necho never\n")
    code, out, err = await run_with_stand_in(["run", file], free_port())
    assert code == ExitCode.TIMEOUT == 5
    assert f"{file}:3: expected EVENT B9 within 0.5 s; arrived instead: EVENT A1 (#3)" in err
    assert "never" not in out


async def test_wait_for_a_client_that_never_comes(tmp_path: Path) -> None:
    file = script(tmp_path, "echo waiting\nwait client 0.5\n")
    code, out, err = await run_async(["run", file, "--port", str(free_port()), "--no-tls"])
    assert code == ExitCode.NO_CLIENT == 4
    assert f"{file}:2: expected a CRIS client within 0.5 s; none connected" in err
    assert out == "waiting\n"


async def test_sending_to_nobody_stops_the_script(tmp_path: Path) -> None:
    file = script(tmp_path, "display A1\n")
    code, _, err = await run_async(["run", file, "--port", str(free_port()), "--no-tls"])
    assert code == ExitCode.NO_CLIENT
    assert f"{file}:1: no CRIS client is connected; nothing sent" in err
    assert "hint: add 'wait client' before it" in err


async def test_a_wrong_line_stops_a_file_before_anything_runs(tmp_path: Path) -> None:
    cases = {
        "echo first\ndispaly A1\n": ":2: unknown command 'dispaly'",
        "echo first\nexpect DISPLAY A1\n": ":2: expect DISPLAY: the CRIS client sends EVENT,",
        "sleep soon\n": ":1: sleep SECONDS: 'soon' is not a number of seconds",
        "wait cat\n": ":1: wait takes 'client' [SECONDS], not 'cat'",
        "expect EVENT within x\n": ":1: expect ... within SECONDS: 'x' is not a number",
        "display\n": ":1: display needs at least one ACCESSION",
        "echo first\nlogin rad1\n": ":2: login in a script reads its password from "
        "CRIS_CLI_PASSWORD, which is not set",
    }
    for text, message in cases.items():
        file = script(tmp_path, text)
        code, out, err = await run_async(["run", file, "--port", str(free_port()), "--no-tls"])
        assert code == ExitCode.USAGE, (text, err)
        assert f"{file}{message}" in err, (text, err)
        assert out == ""  # not even the echo on line 1 ran
        # The same file given on stdin (cris-cli < FILE) is checked whole too.
        code, out, err = await run_from_file(["--port", str(free_port()), "--no-tls"], Path(file))
        assert code == ExitCode.USAGE, (text, err)
        assert f"stdin{message}" in err, (text, err)
        assert out == ""


async def run_from_file(args: list[str], stdin: Path) -> tuple[int, str, str]:
    """cris-cli with stdin redirected from a file, as a shell's '< FILE' does."""
    with stdin.open("rb") as source:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cris_cli",
            *args,
            stdin=source,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_script_on_stdin_runs_as_it_is_read() -> None:
    port = free_port()
    code, out, err = await run_with_stand_in(
        [], port, stdin="wait client 10\ndisplay S1\nexpect EVENT S1 within 5\nfrobnicate\n"
    )
    assert code == ExitCode.USAGE
    assert "stdin:4: unknown command 'frobnicate'" in err
    assert "CRIS→ EVENT accession=S1" in out  # the lines before it ran


async def test_quit_ends_a_script_early(tmp_path: Path) -> None:
    file = script(tmp_path, "echo one\nquit\necho two\n")
    code, out, _ = await run_async(["run", file, "--port", str(free_port()), "--no-tls"])
    assert code == 0
    assert out == "one\n"


async def test_login_in_a_script_reads_the_password_from_the_environment(tmp_path: Path) -> None:
    file = script(tmp_path, "wait client 10\nlogin rad1\n")
    code, out, err = await run_with_stand_in(
        ["run", file], free_port(), env={"CRIS_CLI_PASSWORD": "s3cret-in-env"}
    )
    assert code == 0, err
    assert "→CRIS LOGIN username=rad1 password=********" in out
    assert "s3cret-in-env" not in out + err


async def test_a_pacs_script_and_a_simulator_script_play_together(tmp_path: Path) -> None:
    worklist = synthetic_worklist(seed=1)
    first, second = worklist.exams[0].accession, worklist.exams[1].accession
    pacs = script(
        tmp_path,
        f"""\
wait client 10
expect LOGIN within 5
expect EVENT {first} within 5
display {second}
expect RELEASE {first} within 5
expect EVENT {second} within 5
expect COMMIT {second} within 5
expect RELEASE {second} within 5
echo the PACS saw what it should
""",
    )
    cris = f"""\
wait client 10
login
open {first}
expect DISPLAY {second} within 10
sleep 0.2
save
echo CRIS did its part
"""
    port = free_port()
    pacs_run = asyncio.ensure_future(run_async(["run", pacs, "--port", str(port), "--no-tls"]))
    await asyncio.sleep(1.0)  # the PACS script hosts the endpoint; CRIS dials it
    code, out, err = await run_async(["simulate", "--url", f"ws://127.0.0.1:{port}/"], stdin=cris)
    assert code == 0, err
    assert "CRIS did its part" in out
    assert "PACS→ DISPLAY" in out
    pacs_code, pacs_out, pacs_err = await pacs_run
    assert pacs_code == 0, pacs_err
    assert "the PACS saw what it should" in pacs_out


async def test_a_simulator_script_that_can_never_connect_fails_at_once() -> None:
    """A wrong pin is not retried: the waiting step fails with the connection's exit
    code and reason, not with 'no PACS connected' once its time is up."""
    from cris_cli import config
    from cris_cli.environment import Environment
    from cris_cli.links import host

    link = await host(config.load(environ={}).replace(port=0), Environment())
    try:
        code, _, err = await run_async(
            [
                "simulate",
                "--url",
                f"wss://localhost:{link.port}/",
                "--pin-sha256",
                "AB" * 32,
            ],
            stdin="wait client 30\nlogin\n",
        )
    finally:
        await link.close()
    assert code == ExitCode.CONNECTION == 6, err
    assert "stdin:1: the PACS certificate's SHA-256 fingerprint is" in err
