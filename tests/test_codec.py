"""Lenient parsing, strict serialisation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cris_cli import codec
from cris_cli.codec import (
    IncompleteMessage,
    Malformed,
    Parsed,
    Severity,
    mask_secrets,
    masked_values,
    parse,
    serialize,
)
from cris_cli.messages import (
    CRIS_EVENTS,
    MASK,
    PACS_COMMANDS,
    WIRE_FIELDS,
    Clear,
    Direction,
    Display,
    Fetched,
    HistoricReportOpened,
    Login,
    Logout,
    Message,
    PrefetchRequested,
    ReportCommitted,
    ReportOpened,
    ReportReleased,
    UnknownMessage,
    UserLoggedIn,
    UserLoggedOut,
)

CRIS = Direction.CRIS_TO_PACS
PACS = Direction.PACS_TO_CRIS

DOCUMENTED_CODES = set(re.findall(r"^(\S+)\s+(?:error|warning)\s", codec.__doc__ or "", re.M))


def codes(text: str, direction: Direction) -> list[str]:
    return [d.code for d in parse(text, direction).deviations]


def only(text: str, direction: Direction) -> Parsed:
    decoded = parse(text, direction)
    assert isinstance(decoded, Parsed)
    return decoded


# --- every command, both directions -------------------------------------------------


REAL_EVENT = (
    '{"command":"EVENT","accession":["HSS07170319"],"domain":"RXH","examCode":"XCHES",'
    '"nhs":"9434765919","chi":"0101501234","remoteImage":false}'
)


def test_real_shaped_event_parses_without_deviation() -> None:
    parsed = only(REAL_EVENT, CRIS)
    assert parsed.deviations == ()
    assert parsed.valid
    assert parsed.message == ReportOpened(
        accession=("HSS07170319",),
        domain="RXH",
        exam_code="XCHES",
        nhs="9434765919",
        chi="0101501234",
        remote_image=False,
    )
    assert parsed.raw == REAL_EVENT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"command":"COMMIT","accession":["A1"],"domain":"RXH"}',
            ReportCommitted(accession=("A1",), domain="RXH"),
        ),
        (
            '{"command":"RELEASE","accession":["A1"],"domain":"RXH"}',
            ReportReleased(accession=("A1",), domain="RXH"),
        ),
        (
            '{"command":"READONLY","accession":["A0"],"domain":"RXH","examCode":"MHEAD"}',
            HistoricReportOpened(accession=("A0",), domain="RXH", exam_code="MHEAD"),
        ),
        (
            '{"command":"PREFETCH","accession":["A1","A2"],"domain":"RXH"}',
            PrefetchRequested(accession=("A1", "A2"), domain="RXH"),
        ),
        ('{"command":"LOGIN","domain":"RXH"}', UserLoggedIn(domain="RXH")),
        ('{"command":"LOGOUT","domain":"RXH"}', UserLoggedOut(domain="RXH")),
    ],
)
def test_cris_events(text: str, expected: Message) -> None:
    parsed = only(text, CRIS)
    assert parsed.message == expected
    assert parsed.deviations == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"command":"DISPLAY","accession":["A1","A2"]}', Display(accession=("A1", "A2"))),
        ('{"command":"CLEAR"}', Clear()),
        (
            '{"command":"LOGIN","username":"rad1","password":"s3cret"}',
            Login(username="rad1", password="s3cret"),
        ),
        ('{"command":"LOGOUT"}', Logout()),
        ('{"command":"FETCHED","accession":["A1"]}', Fetched(accession=("A1",))),
    ],
)
def test_pacs_commands(text: str, expected: Message) -> None:
    parsed = only(text, PACS)
    assert parsed.message == expected
    assert parsed.deviations == ()
    assert serialize(parsed.message) == text


def test_login_and_logout_mean_different_things_each_way() -> None:
    assert isinstance(only('{"command":"LOGIN","domain":"RXH"}', CRIS).message, UserLoggedIn)
    login = only('{"command":"LOGIN","domain":"RXH"}', PACS)
    assert isinstance(login.message, Login)
    assert [d.code for d in login.deviations] == ["unused-field", "missing-field", "missing-field"]
    assert isinstance(only('{"command":"LOGOUT"}', PACS).message, Logout)
    assert isinstance(only('{"command":"LOGOUT"}', CRIS).message, UserLoggedOut)


# --- deviations ---------------------------------------------------------------------


def test_display_without_accession_is_an_error() -> None:
    parsed = only('{"command":"DISPLAY"}', PACS)
    assert not parsed.valid
    (deviation,) = parsed.deviations
    assert (deviation.code, deviation.field, deviation.severity) == (
        "missing-field",
        "accession",
        Severity.ERROR,
    )
    assert deviation.text == "DISPLAY needs accession"


def test_accession_as_string_is_read_as_a_list_with_a_warning() -> None:
    parsed = only('{"command":"DISPLAY","accession":"A1"}', PACS)
    assert parsed.message == Display(accession=("A1",))
    assert parsed.valid
    assert codes('{"command":"DISPLAY","accession":"A1"}', PACS) == ["accession-not-list"]


def test_numbers_where_strings_belong_are_converted() -> None:
    parsed = only('{"command":"EVENT","accession":[123],"domain":"RXH","nhs":9434765919}', CRIS)
    assert parsed.message == ReportOpened(accession=("123",), domain="RXH", nhs="9434765919")
    assert [d.code for d in parsed.deviations] == ["wrong-type", "wrong-type"]
    assert parsed.valid


def test_unusable_values_are_errors_and_ignored() -> None:
    parsed = only('{"command":"EVENT","accession":[{"a":1}],"domain":["RXH"]}', CRIS)
    assert [d.code for d in parsed.deviations] == ["unusable-value", "unusable-value"]
    assert not parsed.valid


def test_null_and_empty_fields_read_as_absent() -> None:
    parsed = only('{"command":"EVENT","accession":["A1"],"domain":null,"examCode":""}', CRIS)
    assert parsed.message == ReportOpened(accession=("A1",))
    assert [d.code for d in parsed.deviations] == ["null-field", "empty-field"]


def test_unknown_fields_are_kept_with_a_hint() -> None:
    parsed = only(
        '{"command":"EVENT","accession":["A1"],"domain":"RXH","exam_code":"X","ward":"W1"}', CRIS
    )
    assert dict(parsed.message.extra) == {"exam_code": "X", "ward": "W1"}
    texts = [d.text for d in parsed.deviations]
    assert texts == [
        "unknown field 'exam_code' (kept) (did you mean examCode?)",
        "unknown field 'ward' (kept)",
    ]


def test_unknown_commands_are_kept_whole() -> None:
    parsed = only('{"command":"ANNOTATE","accession":["A1"],"note":"x"}', CRIS)
    assert parsed.message == UnknownMessage(sent_by=CRIS, verb="ANNOTATE")
    assert dict(parsed.message.extra) == {"accession": ["A1"], "note": "x"}
    assert parsed.valid  # newer CRIS versions add commands: a warning, not an error
    assert codes('{"command":"ANNOTATE"}', CRIS) == ["unknown-command"]
    assert serialize(parsed.message) == '{"command":"ANNOTATE","accession":["A1"],"note":"x"}'


def test_a_command_from_the_wrong_side_is_an_error() -> None:
    parsed = only('{"command":"DISPLAY","accession":["A1"]}', CRIS)
    assert not parsed.valid
    assert parsed.deviations[0].text == "DISPLAY is a PACS command; CRIS does not send it"
    parsed = only('{"command":"COMMIT","accession":["A1"]}', PACS)
    assert parsed.deviations[0].text == "COMMIT is a CRIS event; the PACS does not send it"


def test_lower_case_command_is_tolerated() -> None:
    parsed = only('{"command":" display ","accession":["A1"]}', PACS)
    assert parsed.message == Display(accession=("A1",))
    assert codes('{"command":" display ","accession":["A1"]}', PACS) == ["command-case"]


def test_missing_or_odd_command() -> None:
    assert codes('{"accession":["A1"]}', CRIS) == ["missing-command"]
    assert codes('{"command":7}', CRIS) == ["command-not-string"]
    assert not only('{"command":null}', CRIS).valid


def test_identifiers_failing_their_check_are_errors() -> None:
    parsed = only(
        '{"command":"EVENT","accession":["A1"],"domain":"RXH","nhs":"9434765910","chi":"3102501234"}',
        CRIS,
    )
    assert [d.code for d in parsed.deviations] == ["invalid-nhs", "invalid-chi"]
    assert "check digit is 0, Modulus 11 gives 9" in parsed.deviations[0].text
    assert "31/02/50 is not a real date of birth" in parsed.deviations[1].text


def test_formatted_identifiers_are_warnings() -> None:
    parsed = only(
        '{"command":"EVENT","accession":["A1"],"domain":"RXH","nhs":"943 476 5919"}', CRIS
    )
    assert parsed.valid
    assert [d.code for d in parsed.deviations] == ["formatted-identifier"]


def test_unused_protocol_field_is_named_and_password_is_masked() -> None:
    parsed = only(
        '{"command":"RELEASE","accession":["A1"],"domain":"R","password":"hunter2"}', CRIS
    )
    (deviation,) = parsed.deviations
    assert deviation.code == "unused-field"
    assert "hunter2" not in deviation.text and MASK in deviation.text


def test_remote_image_flag_words() -> None:
    parsed = only('{"command":"COMMIT","accession":["A1"],"domain":"R","remoteImage":"true"}', CRIS)
    assert parsed.message == ReportCommitted(accession=("A1",), domain="R", remote_image=True)
    assert codes(
        '{"command":"COMMIT","accession":["A1"],"domain":"R","remoteImage":"maybe"}', CRIS
    ) == ["unusable-value"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "not-json"),
        ("nope", "not-json"),
        ("{", "not-json"),
        ("[1,2]", "not-object"),
        ('"EVENT"', "not-object"),
        ("null", "not-object"),
        ("[" * 100000, "too-deep"),
        ('{"command":"COMMIT","x":' + "[" * 65 + "]" * 65 + "}", "too-deep"),
        ('{"command":"COMMIT","remoteImage":NaN}', "not-json"),
        ('{"command":"COMMIT","remoteImage":-Infinity}', "not-json"),
    ],
)
def test_text_that_is_no_json_object_is_malformed(text: str, code: str) -> None:
    decoded = parse(text, CRIS)
    assert isinstance(decoded, Malformed)
    assert decoded.raw == text
    assert decoded.deviations[0].code == code
    assert not decoded.valid


# --- serialisation ------------------------------------------------------------------


def test_serialize_is_exact_and_compact() -> None:
    assert (
        serialize(Display(accession=("A1", "A2")))
        == '{"command":"DISPLAY","accession":["A1","A2"]}'
    )
    assert serialize(Clear()) == '{"command":"CLEAR"}'
    assert serialize(Fetched(accession=("A1",))) == '{"command":"FETCHED","accession":["A1"]}'


def test_serialize_emits_only_the_fields_the_command_uses() -> None:
    parsed = only('{"command":"CLEAR","accession":["A1"],"extra":1}', PACS)
    assert serialize(parsed.message) == '{"command":"CLEAR"}'


def test_serialize_refuses_incomplete_messages() -> None:
    with pytest.raises(IncompleteMessage, match="DISPLAY needs accession"):
        serialize(Display())
    with pytest.raises(IncompleteMessage, match="LOGIN needs password"):
        serialize(Login(username="rad1"))


def test_constructors_check_types() -> None:
    with pytest.raises(TypeError, match="accession must be a tuple of strings"):
        Display(accession=["A1"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="domain must be a string"):
        ReportReleased(accession=("A1",), domain=7)  # type: ignore[arg-type]


def test_password_never_shows() -> None:
    login = Login(username="rad1", password="s3cret")
    assert "s3cret" not in repr(login)
    assert masked_values(login) == {"command": "LOGIN", "username": "rad1", "password": MASK}
    text = serialize(login)
    assert "s3cret" in text
    assert "s3cret" not in mask_secrets(text)
    assert (
        mask_secrets('{"Password": 1234, "x": "password"}')
        == f'{{"Password": "{MASK}", "x": "password"}}'
    )
    assert mask_secrets('{"command":"CLEAR"}') == '{"command":"CLEAR"}'
    # A number where the password's text belongs: read, and still never shown.
    decoded = parse('{"command":"LOGIN","username":"u","password":123456}', PACS)
    assert isinstance(decoded, Parsed) and decoded.message == Login(username="u", password="123456")
    (deviation,) = decoded.deviations
    assert deviation.code == "wrong-type" and "123456" not in deviation.text


# --- properties ---------------------------------------------------------------------

words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s != "")


def message_strategy(cls: type[Message]) -> st.SearchStrategy[Message]:
    values: dict[str, st.SearchStrategy[Any]] = {}
    for wire in cls.fields:
        attr = WIRE_FIELDS[wire]
        if wire == "accession":
            values[attr] = st.lists(words, min_size=1, max_size=4).map(tuple)
        elif wire == "remoteImage":
            values[attr] = st.none() | st.booleans()
        elif wire in cls.required:
            values[attr] = words
        else:
            values[attr] = st.none() | words
    return st.builds(cls, **values)


all_messages = st.one_of([message_strategy(c) for c in (*CRIS_EVENTS, *PACS_COMMANDS)])


@given(all_messages)
def test_serialize_then_parse_round_trips(message: Message) -> None:
    text = serialize(message)
    parsed = only(text, message.direction)
    assert parsed.message == message
    assert serialize(parsed.message) == text
    assert {d.code for d in parsed.deviations} <= {
        "invalid-nhs",
        "invalid-chi",
        "formatted-identifier",
        "missing-expected",
        "accession-format",
    }


@given(st.text())
def test_any_text_parses_or_is_malformed(text: str) -> None:
    for direction in Direction:
        decoded = parse(text, direction)
        assert isinstance(decoded, Parsed | Malformed)
        assert decoded.raw == text
        assert {d.code for d in decoded.deviations} <= DOCUMENTED_CODES


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
known_keys = st.sampled_from([*WIRE_FIELDS, "command", "extra"])
commands = st.sampled_from(
    [
        "EVENT",
        "COMMIT",
        "RELEASE",
        "READONLY",
        "PREFETCH",
        "LOGIN",
        "LOGOUT",
        "DISPLAY",
        "CLEAR",
        "FETCHED",
        "display",
        "NEW",
        "",
    ]
)


@given(json_values)
def test_any_json_parses_or_is_malformed(value: object) -> None:
    text = json.dumps(value)
    for direction in Direction:
        decoded = parse(text, direction)
        assert isinstance(decoded, Parsed) == isinstance(value, dict)
        assert {d.code for d in decoded.deviations} <= DOCUMENTED_CODES


@given(commands, st.dictionaries(known_keys, json_values, max_size=6))
def test_protocol_shaped_objects_with_any_values_never_raise(
    command: str, fields: dict[str, object]
) -> None:
    text = json.dumps({"command": command, **fields})
    for direction in Direction:
        decoded = parse(text, direction)
        assert isinstance(decoded, Parsed)
        assert {d.code for d in decoded.deviations} <= DOCUMENTED_CODES
        for deviation in decoded.deviations:
            assert deviation.text


def test_documented_codes_table_is_read() -> None:
    assert {"not-json", "missing-field", "invalid-chi", "formatted-identifier"} <= DOCUMENTED_CODES
    assert len(DOCUMENTED_CODES) == 21
