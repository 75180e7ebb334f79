"""``cris-cli lint``: the user-facing checker, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

from cris_cli.errors import ExitCode
from helpers import run_cli

GOOD_EVENTS = "\n".join(
    [
        '{"command":"LOGIN","domain":"RXH"}',
        '{"command":"EVENT","accession":["HSS0001"],"domain":"RXH","examCode":"XCHES",'
        '"nhs":"9434765919","chi":"0101501234"}',
        '{"command":"COMMIT","accession":["HSS0001"],"domain":"RXH"}',
        '{"command":"RELEASE","accession":["HSS0001"],"domain":"RXH"}',
    ]
)


def test_display_without_accession_fails_and_says_why() -> None:
    result = run_cli(["lint", "--from", "pacs"], '{"command":"DISPLAY"}\n')
    assert result.code == ExitCode.INVALID == 3
    assert "stdin:1: pacs DISPLAY: invalid" in result.out
    assert "DISPLAY needs accession" in result.out
    assert "1 message checked: 0 passed, 1 failed (1 error, 0 warnings)" in result.out


def test_valid_events_pass() -> None:
    result = run_cli(["lint", "--from", "cris"], GOOD_EVENTS)
    assert result.code == ExitCode.OK
    assert result.out.count(": valid\n") == 4


def test_the_report_says_which_rule_each_identifier_passed() -> None:
    event = (
        '{"command":"EVENT","accession":["A1"],"domain":"RXH",'
        '"nhs":"9434765919","chi":"1209724796"}'
    )
    plain = run_cli(["lint", "--from", "cris"], event)
    assert plain.code == ExitCode.OK
    assert (
        "    ok      nhs                  NHS number 9434765919 is valid (Modulus 11)" in plain.out
    )
    assert (
        "    ok      chi                  CHI number 1209724796 is valid (Modulus 10)" in plain.out
    )
    (line,) = run_cli(["lint", "--from", "cris", "--json"], event).out.splitlines()
    assert json.loads(line)["identifiers"] == [
        {"field": "nhs", "digits": "9434765919", "rule": "Modulus 11"},
        {"field": "chi", "digits": "1209724796", "rule": "Modulus 10"},
    ]


def test_valid_commands_pass() -> None:
    commands = '{"command":"DISPLAY","accession":["A1","A2"]}\n{"command":"CLEAR"}\n'
    assert run_cli(["lint", "--from", "pacs"], commands).code == ExitCode.OK


def test_direction_matters() -> None:
    result = run_cli(["lint", "--from", "cris"], '{"command":"DISPLAY","accession":["A1"]}')
    assert result.code == ExitCode.INVALID
    assert "DISPLAY is a PACS command; CRIS does not send it" in result.out


def test_warnings_pass_unless_strict() -> None:
    message = '{"command":"DISPLAY","accession":"A1"}'
    result = run_cli(["lint", "--from", "pacs"], message)
    assert result.code == ExitCode.OK
    assert "valid, with warnings" in result.out
    assert run_cli(["lint", "--from", "pacs", "--strict"], message).code == ExitCode.INVALID


def test_json_output_schema(tmp_path: Path) -> None:
    result = run_cli(
        ["lint", "--from", "pacs", "--json"],
        '{"command":"LOGIN","username":"rad1","password":"s3cret"}\nnot json\n',
    )
    assert result.code == ExitCode.INVALID
    first, second = (json.loads(line) for line in result.out.splitlines())
    assert first == {
        "where": "stdin:1",
        "direction": "pacs-to-cris",
        "valid": True,
        "command": "LOGIN",
        "fields": {"command": "LOGIN", "username": "rad1", "password": "********"},
        "raw": '{"command":"LOGIN","username":"rad1","password":"********"}',
        "deviations": [],
        "identifiers": [],
    }
    assert second["valid"] is False
    assert second["deviations"][0]["code"] == "not-json"
    assert "s3cret" not in result.out


def test_json_array_and_pretty_object_files(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text(json.dumps([{"command": "CLEAR"}, {"command": "FETCHED"}], indent=2))
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"command": "DISPLAY", "accession": ["A1"]}, indent=2))
    result = run_cli(["lint", "--from", "pacs", str(array), str(single)])
    assert result.code == ExitCode.INVALID
    assert f"{array}[0]: pacs CLEAR: valid" in result.out
    assert f"{array}[1]: pacs FETCHED: invalid" in result.out
    assert f"{single}: pacs DISPLAY: valid" in result.out


def test_record_files_carry_their_direction(tmp_path: Path) -> None:
    record = tmp_path / "session.jsonl"
    lines = [
        {"kind": "connect", "direction": "cris-to-pacs", "raw": ""},
        {"kind": "message", "direction": "cris-to-pacs", "raw": '{"command":"LOGIN","domain":"R"}'},
        {"kind": "message", "direction": "pacs-to-cris", "raw": '{"command":"DISPLAY"}'},
    ]
    record.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = run_cli(["lint", str(record)])
    assert result.code == ExitCode.INVALID
    assert f"{record}:2: cris LOGIN: valid" in result.out
    assert f"{record}:3: pacs DISPLAY: invalid" in result.out
    assert "2 messages checked" in result.out


def test_plain_messages_need_a_direction() -> None:
    result = run_cli(["lint"], '{"command":"CLEAR"}')
    assert result.code == ExitCode.USAGE
    assert "stdin:1: say who sent these messages" in result.err
    assert "--from cris" in result.err


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["lint", "--from", "cris", str(tmp_path / "absent.jsonl")])
    assert result.code == ExitCode.USAGE
    assert "No such file or directory" in result.err


def test_terminal_stdin_without_files_says_what_to_do() -> None:
    result = run_cli(["lint", "--from", "cris"], stdin_tty=True)
    assert result.code == ExitCode.USAGE
    assert "lint needs messages" in result.err


def test_table_on_a_terminal() -> None:
    result = run_cli(
        ["lint", "--from", "cris"],
        GOOD_EVENTS + '\n{"command":"EVENT","accession":"A9","domain":"RXH","nhs":"123"}\n',
        stdout_tty=True,
    )
    assert result.code == ExitCode.INVALID
    assert "┃ where" in result.out
    assert "✓ valid" in result.out and "✗ invalid" in result.out
    assert "it has 3 digits, not 10" in result.out
