"""The synthetic worklist: big enough, valid identifiers, repeatable."""

from __future__ import annotations

from cris_cli.identifiers import check_chi, check_nhs
from cris_cli.worklist import EXAM_CODES, synthetic_worklist


def test_at_least_fifty_patients_with_valid_identifiers() -> None:
    worklist = synthetic_worklist(seed=1)  # the simulator's default
    patients = worklist.patients()
    assert len(patients) >= 50
    for patient in patients:
        nhs = check_nhs(patient.nhs)
        assert nhs.valid and nhs.test_range
        if patient.chi is not None:
            chi = check_chi(patient.chi)
            assert chi.valid
            assert chi.birth_date is not None
            assert patient.chi[:6] == patient.birth_date.strftime("%d%m%y")
    assert any(p.chi for p in patients) and any(p.chi is None for p in patients)


def test_plausible_exams_and_unique_accessions() -> None:
    worklist = synthetic_worklist(seed=2)
    codes = {code for code, _ in EXAM_CODES}
    accessions = [e.accession for e in [*worklist.exams, *worklist.historic]]
    assert len(accessions) == len(set(accessions))
    assert all(e.exam_code in codes for e in worklist.exams)
    assert all(a.startswith("HSS") and len(a) == 11 for a in accessions)
    assert worklist.historic and all(e.historic for e in worklist.historic)


def test_the_same_seed_gives_the_same_worklist() -> None:
    first, second = synthetic_worklist(seed=5), synthetic_worklist(seed=5)
    assert [e.accession for e in first] == [e.accession for e in second]
    assert [e.patient for e in first] == [e.patient for e in second]
    assert [e.accession for e in synthetic_worklist(seed=6)] != [e.accession for e in first]


def test_unknown_accessions_get_a_repeatable_synthetic_exam() -> None:
    worklist = synthetic_worklist()
    exam, invented = worklist.exam("ELSEWHERE-7")
    assert invented and check_nhs(exam.patient.nhs).valid
    again, _ = synthetic_worklist().exam("ELSEWHERE-7")
    assert again.patient.nhs == exam.patient.nhs
    assert worklist.exam("ELSEWHERE-7") == (exam, False)
