"""Round-trip and wrong-patient checks, each triggered and not triggered."""

from __future__ import annotations

from cris_cli.codec import serialize
from cris_cli.messages import (
    Display,
    HistoricReportOpened,
    Message,
    ReportOpened,
    ReportReleased,
    UserLoggedOut,
)
from cris_cli.records import Note, Record
from cris_cli.safety import MAX_PENDING, SafetyChecks

NHS_A, NHS_B = "9434765919", "9990000018"
CHI_A, CHI_B = "0101501234", "0101501237"


def record(message: Message, time: float, seq: int, client: int = 1) -> Record:
    direction = message.direction
    made = Record("message", time=time, direction=direction, client=client, raw=serialize(message))
    made.seq = seq
    return made


def opened(accession: str, nhs: str | None = NHS_A, chi: str | None = None) -> ReportOpened:
    return ReportOpened(accession=(accession,), domain="RXH", nhs=nhs, chi=chi)


def codes(notes: tuple[Note, ...]) -> list[str]:
    return [note.code for note in notes]


def test_the_confirming_event_gets_the_round_trip_time() -> None:
    checks = SafetyChecks()
    checks.sent(record(Display(accession=("A1",)), 100.0, 1))
    (note,) = checks.received(record(opened("A1"), 100.012, 2))
    assert note.code == "round-trip"
    assert note.text == "confirms DISPLAY #1 in 12 ms"
    assert note.severity == "info"
    assert checks.pending == []


def test_an_event_without_a_display_is_just_an_event() -> None:
    assert SafetyChecks().received(record(opened("A1"), 1.0, 1)) == ()


def test_cris_opening_another_accession_is_flagged() -> None:
    checks = SafetyChecks()
    checks.sent(record(Display(accession=("A1",)), 100.0, 1))
    (note,) = checks.received(record(opened("B7"), 100.5, 2))
    assert note.code == "different-accession"
    assert note.text == "CRIS opened B7, not A1 as DISPLAY #1 asked"
    assert note.severity == "warning"


def test_a_display_nobody_confirms_is_flagged_once_when_due() -> None:
    checks = SafetyChecks(confirm_within=5)
    checks.sent(record(Display(accession=("A1",)), 100.0, 3))
    assert checks.overdue(104.9) == []
    (note,) = checks.overdue(105.0)
    assert note.code == "unconfirmed"
    assert "no EVENT confirmed DISPLAY A1 (#3) within 5 s" in note.text
    assert checks.overdue(200.0) == []


def test_a_confirmed_display_is_not_overdue() -> None:
    checks = SafetyChecks(confirm_within=5)
    checks.sent(record(Display(accession=("A1",)), 100.0, 1))
    checks.received(record(opened("A1"), 101.0, 2))
    assert checks.overdue(200.0) == []


def test_the_same_accession_with_another_nhs_number_is_a_wrong_patient_risk() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1", NHS_A), 1.0, 1))
    checks.received(record(ReportReleased(accession=("A1",)), 2.0, 2))
    (note,) = checks.received(record(opened("A1", NHS_B), 3.0, 3))
    assert note.code == "wrong-patient"
    assert note.severity == "danger"
    assert f"A1 came with NHS {NHS_A} before, now with NHS {NHS_B}" in note.text


def test_the_same_accession_with_another_chi_number_is_a_wrong_patient_risk() -> None:
    checks = SafetyChecks()
    checks.received(record(HistoricReportOpened(accession=("H1",), chi=CHI_A), 1.0, 1))
    checks.received(record(ReportReleased(accession=("H1",)), 2.0, 2))
    notes = checks.received(record(HistoricReportOpened(accession=("H1",), chi=CHI_B), 3.0, 3))
    assert codes(notes) == ["wrong-patient"]


def test_the_same_patient_again_and_formatting_are_not_flagged() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1", NHS_A), 1.0, 1))
    checks.received(record(ReportReleased(accession=("A1",)), 2.0, 2))
    assert checks.received(record(opened("A1", "943 476 5919"), 3.0, 3)) == ()
    checks.received(record(ReportReleased(accession=("A1",)), 4.0, 4))
    # A number that is missing now conflicts with nothing.
    assert checks.received(record(opened("A1", None, CHI_A), 5.0, 5)) == ()


def test_another_patients_report_opened_without_release_is_a_wrong_patient_risk() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1", NHS_A), 1.0, 1))
    (note,) = checks.received(record(opened("B2", NHS_B), 2.0, 2))
    assert note.code == "wrong-patient"
    assert f"opened while A1 (NHS {NHS_A}, #1) is still open, with no RELEASE between" in note.text


def test_a_release_between_two_patients_is_safe() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1", NHS_A), 1.0, 1))
    checks.received(record(ReportReleased(accession=("A1",)), 2.0, 2))
    assert checks.received(record(opened("B2", NHS_B), 3.0, 3)) == ()


def test_logout_closes_the_open_report_too() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1", NHS_A), 1.0, 1))
    checks.received(record(UserLoggedOut(domain="RXH"), 2.0, 2))
    assert checks.received(record(opened("B2", NHS_B), 3.0, 3)) == ()


def test_the_same_patients_next_exam_without_release_is_not_a_risk() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1", NHS_A), 1.0, 1))
    assert checks.received(record(opened("A2", NHS_A), 2.0, 2)) == ()


def test_each_client_has_its_own_open_report() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1", NHS_A), 1.0, 1, client=1))
    assert checks.received(record(opened("B2", NHS_B), 2.0, 2, client=2)) == ()


async def test_the_endpoint_notes_round_trips_and_silence() -> None:
    import asyncio

    from websockets.asyncio.client import connect

    from cris_cli.endpoint import Endpoint
    from endpoints import Watcher, options, url

    async with Endpoint(options(confirm_within=0.3)) as endpoint:
        watcher = Watcher(endpoint)
        async with connect(url(endpoint)) as cris:
            await watcher.wait_for(lambda r: r.kind == "connect")
            endpoint.send('{"command":"DISPLAY","accession":["A1"]}')
            await asyncio.wait_for(cris.recv(), 5)
            await cris.send('{"command":"EVENT","accession":["A1"],"domain":"RXH"}')
            confirmed = await watcher.wait_for(lambda r: r.command == "EVENT")
            assert [n.code for n in confirmed.notes] == ["round-trip"]
            assert confirmed.as_json()["notes"][0]["code"] == "round-trip"
            endpoint.send('{"command":"DISPLAY","accession":["B2"]}')
            silence = await watcher.wait_for(lambda r: r.kind == "notice", timeout=5)
            assert "no EVENT confirmed DISPLAY B2" in (silence.text or "")
            assert silence.notes[0].code == "unconfirmed"


def test_displays_awaiting_their_event_are_bounded_to_the_latest() -> None:
    checks = SafetyChecks()
    for seq in range(1, MAX_PENDING + 11):
        checks.sent(record(Display(accession=(f"A{seq}",)), 100.0, seq))
    assert len(checks.pending) == MAX_PENDING
    assert checks.pending[0].seq == 11 and checks.pending[-1].seq == MAX_PENDING + 10


def test_a_client_that_leaves_has_no_report_open() -> None:
    checks = SafetyChecks()
    checks.received(record(opened("A1"), 1.0, 1, client=1))
    checks.received(record(opened("B1", nhs=NHS_B), 1.0, 2, client=2))
    checks.forget(1)
    assert set(checks.open) == {2}
    # A new client 1 opening another patient's report is not told A1 is still open.
    assert codes(checks.received(record(opened("C1", nhs=NHS_B), 2.0, 3, client=1))) == []
