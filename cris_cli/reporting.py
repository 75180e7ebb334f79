"""CRIS Reporting as a state machine: what it does, and which events it sends,
for each PACS command and each action of its user. No I/O.

Screens: logged out → worklist → a report open (or a historic one, read-only).
The whole behaviour is the :data:`TABLE` below: for each (screen, input) a
transition, or the reason CRIS ignores that input there. The machine does
not know about sockets; the simulator feeds it and sends what it yields.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace

from .messages import (
    Clear,
    CrisEvent,
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
    UserLoggedIn,
    UserLoggedOut,
    verb_of,
)
from .worklist import Exam, Worklist


class Screen(enum.Enum):
    LOGGED_OUT = "logged out"
    WORKLIST = "worklist"
    REPORT = "report"
    HISTORIC = "historic report"


@dataclass(frozen=True)
class State:
    """Where CRIS is: the screen, who is logged in, which report is open."""

    screen: Screen = Screen.LOGGED_OUT
    user: str | None = None
    report: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """Something the CRIS user does: ``login``, ``open``, ``save``..."""

    verb: str
    args: tuple[str, ...] = ()


Input = Message | Action


@dataclass(frozen=True)
class Options:
    domain: str = "RXH"
    users: tuple[tuple[str, str], ...] = (("rad1", "cris-demo"),)
    """Users CRIS accepts from a PACS LOGIN: (name, password)."""
    display_from_worklist: bool = False
    """Let DISPLAY open a report from the worklist (real CRIS does not)."""


@dataclass(frozen=True)
class Outcome:
    """What one input did: the new state, the events CRIS sends, and why (if ignored)."""

    state: State
    events: tuple[CrisEvent, ...] = ()
    accepted: bool = True
    reason: str | None = None


class Context:
    """What transitions may consult: the options and the worklist."""

    def __init__(self, options: Options, worklist: Worklist) -> None:
        self.options = options
        self.worklist = worklist

    def exams(self, accessions: tuple[str, ...]) -> tuple[list[Exam], list[str]]:
        """The exams for accessions, and the accessions that had to be made up."""
        exams: list[Exam] = []
        invented: list[str] = []
        for accession in accessions:
            exam, made_up = self.worklist.exam(accession, exams[0].patient if exams else None)
            exams.append(exam)
            if made_up:
                invented.append(accession)
        return exams, invented

    # --- the events CRIS sends, with the domain and the patient's identifiers ---------

    def opened(self, exams: list[Exam]) -> ReportOpened:
        first = exams[0]
        return ReportOpened(
            accession=tuple(e.accession for e in exams),
            domain=self.options.domain,
            exam_code=first.exam_code,
            nhs=first.patient.nhs,
            chi=first.patient.chi,
            remote_image=any(e.remote_image for e in exams),
        )

    def released(self, report: tuple[str, ...]) -> ReportReleased:
        return ReportReleased(accession=report, domain=self.options.domain)


Transition = Callable[[Context, State, Input], Outcome]


def ignored(reason: str) -> Transition:
    def ignore(context: Context, state: State, given: Input) -> Outcome:
        return Outcome(state, accepted=False, reason=reason)

    return ignore


def _accessions(given: Input) -> tuple[str, ...]:
    if isinstance(given, Display | Fetched):
        return given.accession
    assert isinstance(given, Action)
    return given.args


def _release_open(context: Context, state: State) -> tuple[CrisEvent, ...]:
    return (context.released(state.report),) if state.report else ()


def pacs_login(context: Context, state: State, given: Input) -> Outcome:
    assert isinstance(given, Login)
    if (given.username, given.password) not in context.options.users:
        known = given.username in dict(context.options.users)
        why = "wrong password" if known else f"no user {given.username!r}"
        return Outcome(state, accepted=False, reason=f"login refused: {why}")
    user = given.username
    return Outcome(State(Screen.WORKLIST, user), (UserLoggedIn(domain=context.options.domain),))


def user_login(context: Context, state: State, given: Input) -> Outcome:
    assert isinstance(given, Action)
    user = given.args[0] if given.args else context.options.users[0][0]
    return Outcome(State(Screen.WORKLIST, user), (UserLoggedIn(domain=context.options.domain),))


def log_out(context: Context, state: State, given: Input) -> Outcome:
    events = (*_release_open(context, state), UserLoggedOut(domain=context.options.domain))
    return Outcome(State(), events)


def open_report(context: Context, state: State, given: Input) -> Outcome:
    """Open a report (releasing the one open): DISPLAY, or the user's open/select."""
    accessions = _accessions(given)
    if not accessions:
        return Outcome(state, accepted=False, reason="no accession to open")
    if state.screen is Screen.REPORT and state.report == accessions:
        return Outcome(state, accepted=False, reason=f"{' '.join(accessions)} is already open")
    exams, invented = context.exams(accessions)
    patients = {exam.patient.number for exam in exams}
    if len(patients) > 1:
        return Outcome(
            state, accepted=False, reason="those accessions belong to different patients"
        )
    events = (*_release_open(context, state), context.opened(exams))
    reason = None
    if invented:
        reason = f"{' '.join(invented)} not on the worklist; a synthetic patient stands in"
    return Outcome(replace(state, screen=Screen.REPORT, report=accessions), events, reason=reason)


def display_from_worklist(context: Context, state: State, given: Input) -> Outcome:
    if context.options.display_from_worklist:
        return open_report(context, state, given)
    return Outcome(
        state,
        accepted=False,
        reason="DISPLAY works only from a reporting screen (CRIS is on the worklist)",
    )


def select_exam(context: Context, state: State, given: Input) -> Outcome:
    """The user selects one exam's report within the open report: an EVENT for it."""
    accessions = _accessions(given)
    if len(accessions) != 1:
        return Outcome(state, accepted=False, reason="select takes one accession")
    if accessions[0] not in state.report:
        return Outcome(
            state, accepted=False, reason=f"{accessions[0]} is not part of the open report"
        )
    exams, _ = context.exams(accessions)
    return Outcome(state, (context.opened(exams),))


def open_historic(context: Context, state: State, given: Input) -> Outcome:
    accessions = _accessions(given)
    if len(accessions) != 1:
        return Outcome(state, accepted=False, reason="historic takes one accession")
    exams, invented = context.exams(accessions)
    exam = exams[0]
    event = HistoricReportOpened(
        accession=accessions,
        domain=context.options.domain,
        exam_code=exam.exam_code,
        nhs=exam.patient.nhs,
        chi=exam.patient.chi,
    )
    reason = None
    if invented:
        reason = f"{accessions[0]} not on the worklist; a synthetic patient stands in"
    new = replace(state, screen=Screen.HISTORIC, report=accessions)
    return Outcome(new, (*_release_open(context, state), event), reason=reason)


def save(context: Context, state: State, given: Input) -> Outcome:
    domain = context.options.domain
    exams, _ = context.exams(state.report)
    remote = any(exam.remote_image for exam in exams)
    events = (
        ReportCommitted(accession=state.report, domain=domain, remote_image=remote),
        context.released(state.report),
    )
    return Outcome(State(Screen.WORKLIST, state.user), events)


def close_report(context: Context, state: State, given: Input) -> Outcome:
    """Skip, cancel or exit (or CLEAR from the PACS): RELEASE, back to the worklist."""
    return Outcome(State(Screen.WORKLIST, state.user), (context.released(state.report),))


def prefetch(context: Context, state: State, given: Input) -> Outcome:
    accessions = _accessions(given)
    if not accessions:
        return Outcome(state, accepted=False, reason="prefetch needs accessions")
    exams, _ = context.exams(accessions)
    first = exams[0]
    event = PrefetchRequested(
        accession=accessions,
        domain=context.options.domain,
        exam_code=first.exam_code,
        nhs=first.patient.nhs,
        chi=first.patient.chi,
    )
    return Outcome(state, (event,))


def fetched(context: Context, state: State, given: Input) -> Outcome:
    accessions = " ".join(_accessions(given))
    return Outcome(state, reason=f"images fetched for {accessions} (CRIS does nothing with it yet)")


# Inputs by name: PACS commands as "pacs:COMMAND", user actions as "user:verb".
PACS_INPUTS = ("pacs:LOGIN", "pacs:LOGOUT", "pacs:DISPLAY", "pacs:CLEAR", "pacs:FETCHED")
USER_INPUTS = (
    "user:login",
    "user:logout",
    "user:open",
    "user:select",
    "user:save",
    "user:skip",
    "user:historic",
    "user:prefetch",
)

LOGGED_OUT, WORKLIST, REPORT, HISTORIC = Screen

TABLE: dict[tuple[Screen, str], Transition] = {
    # logged out: only logging in does anything
    (LOGGED_OUT, "pacs:LOGIN"): pacs_login,
    (LOGGED_OUT, "pacs:LOGOUT"): ignored("no user is logged in"),
    (LOGGED_OUT, "pacs:DISPLAY"): ignored("no user is logged in"),
    (LOGGED_OUT, "pacs:CLEAR"): ignored("no user is logged in"),
    (LOGGED_OUT, "pacs:FETCHED"): fetched,
    (LOGGED_OUT, "user:login"): user_login,
    (LOGGED_OUT, "user:logout"): ignored("no user is logged in"),
    (LOGGED_OUT, "user:open"): ignored("log in first"),
    (LOGGED_OUT, "user:select"): ignored("log in first"),
    (LOGGED_OUT, "user:save"): ignored("log in first"),
    (LOGGED_OUT, "user:skip"): ignored("log in first"),
    (LOGGED_OUT, "user:historic"): ignored("log in first"),
    (LOGGED_OUT, "user:prefetch"): ignored("log in first"),
    # the worklist: open a report, log out, prefetch
    (WORKLIST, "pacs:LOGIN"): ignored("a user is already logged in"),
    (WORKLIST, "pacs:LOGOUT"): log_out,
    (WORKLIST, "pacs:DISPLAY"): display_from_worklist,
    (WORKLIST, "pacs:CLEAR"): ignored("no report is open (CRIS is on the worklist)"),
    (WORKLIST, "pacs:FETCHED"): fetched,
    (WORKLIST, "user:login"): ignored("a user is already logged in"),
    (WORKLIST, "user:logout"): log_out,
    (WORKLIST, "user:open"): open_report,
    (WORKLIST, "user:select"): ignored("no report is open"),
    (WORKLIST, "user:save"): ignored("no report is open"),
    (WORKLIST, "user:skip"): ignored("no report is open"),
    (WORKLIST, "user:historic"): open_historic,
    (WORKLIST, "user:prefetch"): prefetch,
    # a report open: DISPLAY switches report, CLEAR closes it
    (REPORT, "pacs:LOGIN"): ignored("a user is already logged in"),
    (REPORT, "pacs:LOGOUT"): log_out,
    (REPORT, "pacs:DISPLAY"): open_report,
    (REPORT, "pacs:CLEAR"): close_report,
    (REPORT, "pacs:FETCHED"): fetched,
    (REPORT, "user:login"): ignored("a user is already logged in"),
    (REPORT, "user:logout"): log_out,
    (REPORT, "user:open"): open_report,
    (REPORT, "user:select"): select_exam,
    (REPORT, "user:save"): save,
    (REPORT, "user:skip"): close_report,
    (REPORT, "user:historic"): open_historic,
    (REPORT, "user:prefetch"): prefetch,
    # a historic report, read-only: it can be left, not saved
    (HISTORIC, "pacs:LOGIN"): ignored("a user is already logged in"),
    (HISTORIC, "pacs:LOGOUT"): log_out,
    (HISTORIC, "pacs:DISPLAY"): open_report,
    (HISTORIC, "pacs:CLEAR"): close_report,
    (HISTORIC, "pacs:FETCHED"): fetched,
    (HISTORIC, "user:login"): ignored("a user is already logged in"),
    (HISTORIC, "user:logout"): log_out,
    (HISTORIC, "user:open"): open_report,
    (HISTORIC, "user:select"): ignored("a historic report is read-only: nothing to select"),
    (HISTORIC, "user:save"): ignored("a historic report is read-only: nothing to save"),
    (HISTORIC, "user:skip"): close_report,
    (HISTORIC, "user:historic"): open_historic,
    (HISTORIC, "user:prefetch"): prefetch,
}

PACS_COMMAND_INPUTS = {
    Login: "pacs:LOGIN",
    Logout: "pacs:LOGOUT",
    Display: "pacs:DISPLAY",
    Clear: "pacs:CLEAR",
    Fetched: "pacs:FETCHED",
}


def input_name(given: Input) -> str | None:
    """The table's name for an input, or None when CRIS knows no such input."""
    if isinstance(given, Action):
        name = f"user:{given.verb}"
        return name if name in USER_INPUTS else None
    return PACS_COMMAND_INPUTS.get(type(given))


class Machine:
    """CRIS Reporting for one session: feed it inputs, send the events it yields."""

    def __init__(self, options: Options, worklist: Worklist, state: State | None = None) -> None:
        self.context = Context(options, worklist)
        self.state = state or State()

    def handle(self, given: Input) -> Outcome:
        name = input_name(given)
        if name is None:
            what = given.verb if isinstance(given, Action) else verb_of(given)
            outcome = Outcome(self.state, accepted=False, reason=f"CRIS does not know {what!r}")
        else:
            outcome = TABLE[(self.state.screen, name)](self.context, self.state, given)
        self.state = outcome.state
        return outcome
