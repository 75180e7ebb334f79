"""NHS and CHI numbers: checks that say which rule passed or why one failed,
and generators of synthetic valid numbers for tests and the simulator.

Spaces and dashes are formatting, not part of a number. NHS and CHI numbers
share a shape (ten digits), so they are told apart by the field they arrive
in, never by which checksum happens to pass.
"""

from __future__ import annotations

import datetime
import functools
import operator
import random
from dataclasses import dataclass
from typing import Literal

IdentifierKind = Literal["NHS", "CHI"]

MODULUS_11 = "Modulus 11"
MODULUS_10 = "Modulus 10"

# The range reserved for test data: every synthetic NHS number starts with it.
NHS_TEST_PREFIX = "999"

_MOD11_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_FORMATTING = str.maketrans("", "", " -")


@dataclass(frozen=True, slots=True)
class IdentifierCheck:
    """The outcome of checking one NHS or CHI number."""

    kind: IdentifierKind
    text: str
    """The number as it was given."""
    digits: str
    """The number without formatting (empty when it is not all digits)."""
    valid: bool
    rule: str | None = None
    """The check-digit rule that passed (``Modulus 11`` or ``Modulus 10``)."""
    reason: str | None = None
    """Why the number is invalid."""
    birth_date: datetime.date | None = None
    """CHI only: the date of birth, in the later century when both are real dates."""
    sex: Literal["male", "female"] | None = None
    """CHI only: from digit 9, odd for male and even for female."""

    @property
    def formatted(self) -> bool:
        """True when the number was written with spaces or dashes."""
        return self.digits != "" and self.text != self.digits

    @property
    def test_range(self) -> bool:
        """True for an NHS number in the range reserved for test data."""
        return self.kind == "NHS" and self.digits.startswith(NHS_TEST_PREFIX)

    def describe(self) -> str:
        """One line for a person: what passed, or what failed."""
        if self.valid:
            return f"{self.kind} number {self.digits} is valid ({self.rule})"
        return f"{self.kind} number {self.text!r} is invalid: {self.reason}"


def modulus11_check_digit(nine_digits: str) -> int | None:
    """The Modulus 11 check digit of nine digits, or None where none exists.

    A remainder giving 10 means no number with these nine digits is ever issued.
    """
    if len(nine_digits) != 9:
        raise ValueError("nine digits expected")
    total: int = sum(map(operator.mul, map(int, nine_digits), _MOD11_WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def modulus10_check_digit(nine_digits: str) -> int:
    """The Modulus 10 (Luhn-style) check digit used by CHI numbers issued since 2025.

    Digits 1, 3, 5, 7 and 9 are doubled (9 subtracted from results above 9),
    the others taken as they are.
    """
    total = 0
    for position, char in enumerate(nine_digits):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def _digits_of(kind: IdentifierKind, text: str) -> IdentifierCheck | str:
    """The bare digits, or a failed check when the text cannot be a number."""
    digits = text.translate(_FORMATTING)
    if not digits:
        return IdentifierCheck(kind, text, "", False, reason="it is empty")
    if not (digits.isascii() and digits.isdigit()):
        return IdentifierCheck(
            kind, text, "", False, reason="it contains characters other than digits"
        )
    if len(digits) != 10:
        return IdentifierCheck(
            kind, text, digits, False, reason=f"it has {len(digits)} digits, not 10"
        )
    return digits


@functools.lru_cache(maxsize=8192)  # the same patients come back again and again
def check_nhs(text: str) -> IdentifierCheck:
    """Check an NHS number (England and Wales) with Modulus 11."""
    digits = _digits_of("NHS", text)
    if isinstance(digits, IdentifierCheck):
        return digits
    expected = modulus11_check_digit(digits[:9])
    if expected is None:
        return IdentifierCheck(
            "NHS", text, digits, False, reason="its Modulus 11 check digit would be 10"
        )
    if int(digits[9]) != expected:
        return IdentifierCheck(
            "NHS",
            text,
            digits,
            False,
            reason=f"check digit is {digits[9]}, Modulus 11 gives {expected}",
        )
    return IdentifierCheck("NHS", text, digits, True, rule=MODULUS_11)


def _birth_date(ddmmyy: str) -> datetime.date | None:
    """The date DDMMYY names, or None if it is real in neither 19YY nor 20YY.

    Where both centuries give a real date, the later one that is not in the
    future wins (010150 is 1 January 1950, 010120 is 1 January 2020).
    """
    day, month, year = int(ddmmyy[:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    real: list[datetime.date] = []
    for century in (2000, 1900):
        try:
            real.append(datetime.date(century + year, month, day))
        except ValueError:
            continue
    if not real:
        return None
    today = datetime.date.today()
    past = [born for born in real if born <= today]
    return past[0] if past else real[-1]


@functools.lru_cache(maxsize=8192)
def check_chi(text: str) -> IdentifierCheck:
    """Check a CHI number (Scotland): digits, length, birth date, then check digit.

    The check digit may follow Modulus 11 or, for numbers issued since late
    2025, Modulus 10; the result says which rule passed.
    """
    digits = _digits_of("CHI", text)
    if isinstance(digits, IdentifierCheck):
        return digits
    born = _birth_date(digits[:6])
    if born is None:
        return IdentifierCheck(
            "CHI",
            text,
            digits,
            False,
            reason=f"{digits[:2]}/{digits[2:4]}/{digits[4:6]} is not a real date of birth",
        )
    sex: Literal["male", "female"] = "male" if int(digits[8]) % 2 else "female"
    given = int(digits[9])
    mod11 = modulus11_check_digit(digits[:9])
    if mod11 == given:
        return IdentifierCheck("CHI", text, digits, True, MODULUS_11, None, born, sex)
    mod10 = modulus10_check_digit(digits[:9])
    if mod10 == given:
        return IdentifierCheck("CHI", text, digits, True, MODULUS_10, None, born, sex)
    mod11_text = "none (remainder 10)" if mod11 is None else str(mod11)
    return IdentifierCheck(
        "CHI",
        text,
        digits,
        False,
        reason=f"check digit is {given}, Modulus 11 gives {mod11_text}, Modulus 10 gives {mod10}",
        birth_date=born,
        sex=sex,
    )


def check_identifier(kind: IdentifierKind, text: str) -> IdentifierCheck:
    """Check a number of the given kind."""
    return check_nhs(text) if kind == "NHS" else check_chi(text)


def synthetic_nhs(rng: random.Random) -> str:
    """A valid NHS number in the 999 range reserved for test data."""
    while True:
        stem = NHS_TEST_PREFIX + "".join(rng.choice("0123456789") for _ in range(6))
        check = modulus11_check_digit(stem)
        if check is not None:
            return stem + str(check)


def synthetic_chi(
    rng: random.Random,
    *,
    birth_date: datetime.date | None = None,
    sex: Literal["male", "female"] | None = None,
    rule: str = MODULUS_11,
) -> str:
    """A valid CHI number for a real date of birth, with the chosen check-digit rule.

    Numbers made with Modulus 10 are chosen so that they do not also pass
    Modulus 11, so a check reports the rule they were made with.
    """
    if rule not in (MODULUS_11, MODULUS_10):
        raise ValueError(f"rule must be {MODULUS_11!r} or {MODULUS_10!r}, not {rule!r}")
    if birth_date is None:
        start = datetime.date(1930, 1, 1).toordinal()
        end = datetime.date(2024, 12, 31).toordinal()
        birth_date = datetime.date.fromordinal(rng.randint(start, end))
    wanted_sex = sex or rng.choice(("male", "female"))
    while True:
        serial = f"{rng.randint(0, 99):02d}"
        sex_digit = rng.choice("13579" if wanted_sex == "male" else "02468")
        stem = birth_date.strftime("%d%m%y") + serial + sex_digit
        mod11 = modulus11_check_digit(stem)
        if rule == MODULUS_11:
            if mod11 is not None:
                return stem + str(mod11)
            continue
        mod10 = modulus10_check_digit(stem)
        if mod10 != mod11:
            return stem + str(mod10)
