"""The CRIS Reporting state machine: every screen against every input, then
the details (credentials, patients, identifiers)."""

from __future__ import annotations

import pytest

from cris_cli.codec import parse, serialize
from cris_cli.identifiers import check_chi, check_nhs
from cris_cli.messages import (
    Clear,
    Direction,
    Display,
    Fetched,
    Login,
    Logout,
    ReportOpened,
    UnknownMessage,
)
from cris_cli.reporting import (
    PACS_INPUTS,
    TABLE,
    USER_INPUTS,
    Action,
    Input,
    Machine,
    Options,
    Screen,
    State,
)
from cris_cli.worklist import synthetic_worklist

WORKLIST = synthetic_worklist(seed=7)
A, B, C = (exam.accession for exam in WORKLIST.exams[:3])
H, H2 = (exam.accession for exam in WORKLIST.historic[:2])
PASSWORD = "cris-demo"

STARTS = {
    Screen.LOGGED_OUT: State(),
    Screen.WORKLIST: State(Screen.WORKLIST, "rad1"),
    Screen.REPORT: State(Screen.REPORT, "rad1", (A,)),
    Screen.HISTORIC: State(Screen.HISTORIC, "rad1", (H,)),
}

INPUTS: dict[str, Input] = {
    "pacs:LOGIN": Login(username="rad1", password=PASSWORD),
    "pacs:LOGOUT": Logout(),
    "pacs:DISPLAY": Display(accession=(B,)),
    "pacs:CLEAR": Clear(),
    "pacs:FETCHED": Fetched(accession=(B,)),
    "user:login": Action("login", ("rad1",)),
    "user:logout": Action("logout"),
    "user:open": Action("open", (B,)),
    "user:select": Action("select", (A,)),
    "user:save": Action("save"),
    "user:skip": Action("skip"),
    "user:historic": Action("historic", (H2,)),
    "user:prefetch": Action("prefetch", (B, C)),
}

LO, WL, RP, HI = Screen.LOGGED_OUT, Screen.WORKLIST, Screen.REPORT, Screen.HISTORIC
NO = None  # ignored: same screen, no events

# (screen, input) -> (next screen, events sent) or NO
EXPECTED: dict[tuple[Screen, str], tuple[Screen, tuple[str, ...]] | None] = {
    (LO, "pacs:LOGIN"): (WL, ("LOGIN",)),
    (LO, "pacs:LOGOUT"): NO,
    (LO, "pacs:DISPLAY"): NO,
    (LO, "pacs:CLEAR"): NO,
    (LO, "pacs:FETCHED"): (LO, ()),
    (LO, "user:login"): (WL, ("LOGIN",)),
    (LO, "user:logout"): NO,
    (LO, "user:open"): NO,
    (LO, "user:select"): NO,
    (LO, "user:save"): NO,
    (LO, "user:skip"): NO,
    (LO, "user:historic"): NO,
    (LO, "user:prefetch"): NO,
    (WL, "pacs:LOGIN"): NO,
    (WL, "pacs:LOGOUT"): (LO, ("LOGOUT",)),
    (WL, "pacs:DISPLAY"): NO,
    (WL, "pacs:CLEAR"): NO,
    (WL, "pacs:FETCHED"): (WL, ()),
    (WL, "user:login"): NO,
    (WL, "user:logout"): (LO, ("LOGOUT",)),
    (WL, "user:open"): (RP, ("EVENT",)),
    (WL, "user:select"): NO,
    (WL, "user:save"): NO,
    (WL, "user:skip"): NO,
    (WL, "user:historic"): (HI, ("READONLY",)),
    (WL, "user:prefetch"): (WL, ("PREFETCH",)),
    (RP, "pacs:LOGIN"): NO,
    (RP, "pacs:LOGOUT"): (LO, ("RELEASE", "LOGOUT")),
    (RP, "pacs:DISPLAY"): (RP, ("RELEASE", "EVENT")),
    (RP, "pacs:CLEAR"): (WL, ("RELEASE",)),
    (RP, "pacs:FETCHED"): (RP, ()),
    (RP, "user:login"): NO,
    (RP, "user:logout"): (LO, ("RELEASE", "LOGOUT")),
    (RP, "user:open"): (RP, ("RELEASE", "EVENT")),
    (RP, "user:select"): (RP, ("EVENT",)),
    (RP, "user:save"): (WL, ("COMMIT", "RELEASE")),
    (RP, "user:skip"): (WL, ("RELEASE",)),
    (RP, "user:historic"): (HI, ("RELEASE", "READONLY")),
    (RP, "user:prefetch"): (RP, ("PREFETCH",)),
    (HI, "pacs:LOGIN"): NO,
    (HI, "pacs:LOGOUT"): (LO, ("RELEASE", "LOGOUT")),
    (HI, "pacs:DISPLAY"): (RP, ("RELEASE", "EVENT")),
    (HI, "pacs:CLEAR"): (WL, ("RELEASE",)),
    (HI, "pacs:FETCHED"): (HI, ()),
    (HI, "user:login"): NO,
    (HI, "user:logout"): (LO, ("RELEASE", "LOGOUT")),
    (HI, "user:open"): (RP, ("RELEASE", "EVENT")),
    (HI, "user:select"): NO,
    (HI, "user:save"): NO,
    (HI, "user:skip"): (WL, ("RELEASE",)),
    (HI, "user:historic"): (HI, ("RELEASE", "READONLY")),
    (HI, "user:prefetch"): (HI, ("PREFETCH",)),
}


def machine(state: State, **options: object) -> Machine:
    return Machine(Options(**options), WORKLIST, state)  # type: ignore[arg-type]


def test_the_table_covers_every_screen_and_input() -> None:
    every = {(screen, name) for screen in Screen for name in (*PACS_INPUTS, *USER_INPUTS)}
    assert set(TABLE) == every
    assert set(EXPECTED) == every


@pytest.mark.parametrize(("screen", "name"), sorted(EXPECTED, key=lambda k: (k[0].value, k[1])))
def test_every_screen_and_input(screen: Screen, name: str) -> None:
    start = STARTS[screen]
    outcome = machine(start).handle(INPUTS[name])
    expected = EXPECTED[(screen, name)]
    if expected is None:
        assert not outcome.accepted
        assert outcome.state == start
        assert outcome.events == ()
        assert outcome.reason  # every refusal says why
        return
    next_screen, commands = expected
    assert outcome.accepted, outcome.reason
    assert outcome.state.screen is next_screen
    assert tuple(event.command for event in outcome.events) == commands
    for event in outcome.events:  # what CRIS sends follows the protocol exactly
        decoded = parse(serialize(event), Direction.CRIS_TO_PACS)
        assert decoded.valid, decoded.deviations
        assert getattr(event, "domain", None) == "RXH"


def test_release_names_the_report_that_was_open() -> None:
    outcome = machine(STARTS[Screen.REPORT]).handle(Display(accession=(B,)))
    release, opened = outcome.events
    assert release.accession == (A,)  # type: ignore[attr-defined]
    assert opened.accession == (B,)  # type: ignore[attr-defined]
    assert outcome.state.report == (B,)


def test_events_carry_the_patients_identifiers_and_they_pass_their_checks() -> None:
    exam = WORKLIST.find(B)
    assert exam is not None
    (event,) = machine(STARTS[Screen.WORKLIST]).handle(Action("open", (B,))).events
    assert isinstance(event, ReportOpened)
    assert event.exam_code == exam.exam_code
    assert event.nhs == exam.patient.nhs and check_nhs(event.nhs).valid
    assert event.chi == exam.patient.chi
    if event.chi is not None:
        assert check_chi(event.chi).valid


def test_login_checks_credentials() -> None:
    logged_out = machine(State())
    wrong = logged_out.handle(Login(username="rad1", password="nope"))
    assert not wrong.accepted and wrong.reason == "login refused: wrong password"
    assert logged_out.state == State()
    stranger = logged_out.handle(Login(username="nobody", password=PASSWORD))
    assert stranger.reason == "login refused: no user 'nobody'"
    right = logged_out.handle(Login(username="rad1", password=PASSWORD))
    assert right.accepted and logged_out.state == State(Screen.WORKLIST, "rad1")


def test_display_from_the_worklist_when_the_option_says_so() -> None:
    refused = machine(STARTS[Screen.WORKLIST]).handle(Display(accession=(B,)))
    assert refused.reason == "DISPLAY works only from a reporting screen (CRIS is on the worklist)"
    allowed = machine(STARTS[Screen.WORKLIST], display_from_worklist=True).handle(
        Display(accession=(B,))
    )
    assert [e.command for e in allowed.events] == ["EVENT"]


def test_display_of_several_accessions_of_one_patient() -> None:
    patient = WORKLIST.exams[0].patient
    mine = [e.accession for e in [*WORKLIST.exams, *WORKLIST.historic] if e.patient == patient]
    two = tuple(mine[:2])
    assert len(two) == 2
    outcome = machine(STARTS[Screen.REPORT]).handle(Display(accession=two))
    assert outcome.events[-1].accession == two  # type: ignore[attr-defined]


def test_accessions_of_different_patients_are_refused() -> None:
    first = WORKLIST.exams[1]
    other = next(e for e in WORKLIST.exams if e.patient != first.patient)
    outcome = machine(STARTS[Screen.REPORT]).handle(
        Display(accession=(first.accession, other.accession))
    )
    assert outcome.reason == "those accessions belong to different patients"
    assert outcome.events == ()
    assert outcome.state == STARTS[Screen.REPORT]


def test_an_unknown_accession_gets_a_synthetic_patient_and_a_reason() -> None:
    outcome = machine(STARTS[Screen.REPORT]).handle(Display(accession=("NOT-LISTED-1",)))
    assert outcome.accepted
    assert outcome.reason == "NOT-LISTED-1 not on the worklist; a synthetic patient stands in"
    event = outcome.events[-1]
    assert isinstance(event, ReportOpened) and event.nhs is not None
    assert check_nhs(event.nhs).valid
    again = machine(STARTS[Screen.REPORT]).handle(Display(accession=("NOT-LISTED-1",)))
    assert again.events[-1].nhs == event.nhs  # type: ignore[attr-defined]


def test_the_same_report_again_is_ignored() -> None:
    outcome = machine(STARTS[Screen.REPORT]).handle(Display(accession=(A,)))
    assert outcome.reason == f"{A} is already open"


def test_select_must_name_an_exam_of_the_open_report() -> None:
    outcome = machine(STARTS[Screen.REPORT]).handle(Action("select", (B,)))
    assert outcome.reason == f"{B} is not part of the open report"


def test_unknown_commands_and_actions_are_ignored_with_a_reason() -> None:
    cris = machine(STARTS[Screen.REPORT])
    unknown = cris.handle(UnknownMessage(sent_by=Direction.PACS_TO_CRIS, verb="ANNOTATE"))
    assert unknown.reason == "CRIS does not know 'ANNOTATE'"
    assert cris.handle(Action("dance")).reason == "CRIS does not know 'dance'"
    assert cris.state == STARTS[Screen.REPORT]


def test_a_whole_reporting_session() -> None:
    cris = Machine(Options(), WORKLIST)
    sent: list[str] = []
    for given in (
        Action("login"),
        Action("open", (A,)),
        Action("prefetch", (B,)),
        Display(accession=(B,)),
        Action("save"),
        Action("historic", (H,)),
        Clear(),
        Logout(),
    ):
        sent += [event.command for event in cris.handle(given).events]
    assert sent == [
        "LOGIN",
        "EVENT",
        "PREFETCH",
        "RELEASE",
        "EVENT",
        "COMMIT",
        "RELEASE",
        "READONLY",
        "RELEASE",
        "LOGOUT",
    ]
    assert cris.state == State()
