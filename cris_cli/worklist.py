"""A synthetic CRIS worklist: plausible exams for synthetic patients.

Every NHS number is in the 999 range reserved for test data and every CHI
number has a real birth date; all pass their checks. The same seed gives the
same worklist, so scenarios and tests are repeatable. Nothing here resembles
a real person: patients have no names, only numbers.
"""

from __future__ import annotations

import datetime
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from .identifiers import MODULUS_10, MODULUS_11, synthetic_chi, synthetic_nhs

# CRIS exam codes: modality letter, then the body part.
EXAM_CODES: tuple[tuple[str, str], ...] = (
    ("XCHES", "XR chest"),
    ("XABDO", "XR abdomen"),
    ("XKNEL", "XR knee left"),
    ("XKNER", "XR knee right"),
    ("XHANL", "XR hand left"),
    ("XPELV", "XR pelvis"),
    ("XLSPI", "XR lumbar spine"),
    ("CHEAD", "CT head"),
    ("CCAPC", "CT chest abdomen pelvis with contrast"),
    ("CCHEC", "CT chest with contrast"),
    ("CTPAC", "CT pulmonary angiogram"),
    ("MBRAI", "MR brain"),
    ("MKNEL", "MR knee left"),
    ("MLSPI", "MR lumbar spine"),
    ("MPROS", "MR prostate"),
    ("UABDO", "US abdomen"),
    ("URENA", "US renal tract"),
    ("UPELV", "US pelvis"),
    ("NMAMB", "Mammogram bilateral"),
    ("NBONE", "NM bone scan"),
)


@dataclass(frozen=True)
class Patient:
    number: int
    nhs: str
    chi: str | None
    birth_date: datetime.date
    sex: str


@dataclass(frozen=True)
class Exam:
    accession: str
    exam_code: str
    description: str
    patient: Patient
    remote_image: bool = False
    historic: bool = False


@dataclass
class Worklist:
    """Exams to report (in order) and historic exams, all by accession number."""

    exams: list[Exam]
    historic: list[Exam] = field(default_factory=list)
    prefix: str = "HSS"
    _by_accession: dict[str, Exam] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for exam in [*self.exams, *self.historic]:
            self._by_accession[exam.accession] = exam

    def __iter__(self) -> Iterator[Exam]:
        return iter(self.exams)

    def __len__(self) -> int:
        return len(self.exams)

    def find(self, accession: str) -> Exam | None:
        return self._by_accession.get(accession)

    def exam(self, accession: str, patient: Patient | None = None) -> tuple[Exam, bool]:
        """The exam with this accession; one is made up (deterministically) if unknown.

        Returns the exam and True when it was made up. A made-up exam joins
        ``patient`` when given (an accession asked for alongside known ones).
        """
        known = self._by_accession.get(accession)
        if known is not None:
            return known, False
        rng = random.Random(int(hashlib.sha256(accession.encode()).hexdigest()[:12], 16))
        code, description = rng.choice(EXAM_CODES)
        owner = patient or _patient(rng, 9000 + rng.randint(0, 999))
        exam = Exam(accession, code, description, owner)
        self._by_accession[accession] = exam
        return exam, True

    def patients(self) -> list[Patient]:
        return list({exam.patient.number: exam.patient for exam in self.exams}.values())

    def history_of(self, patient: Patient) -> list[Exam]:
        return [exam for exam in self.historic if exam.patient == patient]


def _patient(rng: random.Random, number: int) -> Patient:
    sex = rng.choice(("male", "female"))
    born = datetime.date(1935, 1, 1) + datetime.timedelta(days=rng.randint(0, 365 * 85))
    chi = None
    if rng.random() < 0.4:  # patients with a Scottish CHI number too
        rule = MODULUS_10 if rng.random() < 0.2 else MODULUS_11
        chi = synthetic_chi(rng, birth_date=born, sex=sex, rule=rule)  # type: ignore[arg-type]
    return Patient(number, synthetic_nhs(rng), chi, born, sex)


def synthetic_worklist(seed: int = 1, size: int = 80, prefix: str = "HSS") -> Worklist:
    """``size`` exams to report for about ``size * 3 // 4`` patients, with history."""
    rng = random.Random(seed)
    patients = [_patient(rng, number) for number in range(1, max(size * 3 // 4, 1) + 1)]
    serial = rng.randint(10_000_000, 20_000_000)
    exams: list[Exam] = []
    for index in range(size):
        patient = patients[index] if index < len(patients) else rng.choice(patients)
        code, description = rng.choice(EXAM_CODES)
        serial += rng.randint(1, 40)
        exams.append(Exam(f"{prefix}{serial:08d}", code, description, patient, rng.random() < 0.1))
    historic: list[Exam] = []
    older = serial - 5_000_000
    for patient in patients:
        for _ in range(rng.randint(0, 2)):
            code, description = rng.choice(EXAM_CODES)
            older += rng.randint(1, 900)
            historic.append(Exam(f"{prefix}{older:08d}", code, description, patient, historic=True))
    return Worklist(exams, historic, prefix)
