"""The shell's model of its link, built from records alone."""

from __future__ import annotations

from cris_cli.messages import Direction
from cris_cli.records import Record
from cris_cli.session import RECENT_ACCESSIONS, Session


def numbered(record: Record, seq: int) -> Record:
    record.seq = seq
    return record


def test_clients_counts_and_accessions_follow_the_records() -> None:
    session = Session(history=3, clock=lambda: 110.0)
    records = [
        Record("connect", time=100.0, client=1, peer="127.0.0.1:5", origin="https://cris.example"),
        Record(
            "message",
            time=101.0,
            direction=Direction.CRIS_TO_PACS,
            client=1,
            raw='{"command":"EVENT","accession":["A1","A2"],"domain":"RXH"}',
        ),
        Record(
            "message",
            time=102.0,
            direction=Direction.PACS_TO_CRIS,
            raw='{"command":"DISPLAY","accession":["B1"]}',
            delivered=1,
        ),
        Record("message", time=103.0, direction=Direction.CRIS_TO_PACS, raw="nonsense"),
        Record("refused", time=104.0, origin="https://evil.example", text="refused"),
        Record("disconnect", time=105.0, client=1, text="gone"),
    ]
    for seq, record in enumerate(records, 1):
        session.observe(numbered(record, seq))
        if record.kind == "connect":
            assert session.clients[1].origin == "https://cris.example"
    assert session.clients == {}
    assert (session.received, session.sent, session.warnings) == (2, 1, 1)
    assert [a for a, _ in session.recent_accessions()] == ["B1", "A2", "A1"]
    assert list(session.refused_origins) == ["https://evil.example"]
    assert session.idle_for() == 5.0
    assert [r.seq for r in session.latest(10)] == [4, 5, 6]  # the history is bounded
    assert session.record(5) is records[4]
    assert session.record(2) is None  # no longer held


def test_seeding_from_status_shows_clients_already_there() -> None:
    session = Session()
    session.seed({"clients": [{"client": 4, "peer": "127.0.0.1:9", "origin": None, "since": 1.0}]})
    assert session.clients[4].peer == "127.0.0.1:9"


def test_recent_accessions_are_bounded_and_keep_their_source() -> None:
    session = Session()
    session.remember((f"X{n}" for n in range(RECENT_ACCESSIONS + 10)), "on the worklist")
    recent = session.recent_accessions()
    assert len(recent) == RECENT_ACCESSIONS
    assert recent[0] == (f"X{RECENT_ACCESSIONS + 9}", "on the worklist")
    session.remember(["X20"], "typed here")
    assert session.recent_accessions()[0] == ("X20", "typed here")


def sent_by_cris(count: int) -> list[Record]:
    commands = ["LOGIN", "EVENT", "COMMIT", "RELEASE"]
    return [
        Record(
            "message",
            time=100.0 + n,
            direction=Direction.CRIS_TO_PACS,
            raw=f'{{"command":"{commands[n % 4]}","domain":"RXH"}}',
        )
        for n in range(count)
    ]


def test_counts_are_from_the_local_side() -> None:
    """'in' is what reached this side, 'out' what it sent: the same four CRIS events
    are 'in' at the PACS and 'out' at the simulated CRIS."""
    from cris_cli.toolbar import toolbar

    pacs, cris = Session(), Session(local="cris")
    display = Record(
        "message", time=105.0, direction=Direction.PACS_TO_CRIS, raw='{"command":"CLEAR"}'
    )
    for record in [*sent_by_cris(4), display]:
        pacs.observe(record)
        cris.observe(record)
    assert (pacs.received, pacs.sent) == (4, 1)
    assert (cris.received, cris.sent) == (1, 4)
    shown = "".join(text for _, text in toolbar(cris, "ws://h:1/", False, 1, {}, "", 200, "PACS"))
    assert "in 1 · out 4" in shown


def test_the_cris_toolbar_speaks_of_its_connection_to_the_pacs() -> None:
    from cris_cli.toolbar import toolbar

    session = Session(local="cris")

    def shown() -> str:
        fragments = toolbar(session, "ws://h:1/", False, 1, {}, "", 200, "PACS")
        return "".join(text for _, text in fragments)

    assert "not connected to the PACS" in shown()
    session.observe(
        Record("connect", time=1.0, client=1, peer="ws://h:1/", origin="https://cris.example")
    )
    assert "connected to the PACS" in shown() and "not connected" not in shown()
    assert "https://cris.example" not in shown()  # its own origin, not the PACS's
    assert "no PACS client" not in shown()
