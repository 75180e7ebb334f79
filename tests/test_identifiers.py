"""NHS and CHI numbers. Every valid number here is computed, by hand in the
comments and by an independent implementation below, never copied."""

from __future__ import annotations

import datetime
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cris_cli.identifiers import (
    MODULUS_10,
    MODULUS_11,
    check_chi,
    check_identifier,
    check_nhs,
    modulus10_check_digit,
    modulus11_check_digit,
    synthetic_chi,
    synthetic_nhs,
)

# Seeded generators: cheaper for hypothesis to draw and shrink than st.randoms().
seeds = st.integers(0, 2**32).map(random.Random)


def reference_mod11(nine: str) -> int | None:
    """Modulus 11 written out differently from the module: weights 10 down to 2."""
    total = 0
    weight = 10
    for char in nine:
        total += int(char) * weight
        weight -= 1
    remainder = total % 11
    check = 11 - remainder
    return {11: 0, 10: None}.get(check, check)


def reference_mod10(nine: str) -> int:
    """Luhn-style: double digits 1, 3, 5, 7, 9 (1-based), subtract 9 above 9."""
    doubled = [int(c) * 2 if i % 2 == 1 else int(c) for i, c in enumerate(nine, 1)]
    total = sum(d - 9 if d > 9 else d for d in doubled)
    return (10 - total % 10) % 10


def with_check(nine: str) -> str:
    check = reference_mod11(nine)
    assert check is not None
    return nine + str(check)


# 943476591: 90+36+24+28+42+30+20+27+2 = 299; 299 % 11 = 2; 11 - 2 = 9.
NHS_HAND = "9434765919"
# 999000001: 90+81+72+0+0+0+0+0+2 = 245; 245 % 11 = 3; 11 - 3 = 8.
NHS_TEST_RANGE = "9990000018"
# 010150123 (1 Jan 1950, male): 0+9+0+7+30+0+4+6+6 = 62; 62 % 11 = 7; 11 - 7 = 4.
CHI_MOD11 = "0101501234"
# Modulus 10 of 010150123: 0+1+0+1+(10-9)+0+2+2+6 = 13; (10 - 3) % 10 = 7.
CHI_MOD10 = "0101501237"


def test_hand_computed_numbers_agree_with_both_implementations() -> None:
    for number in (NHS_HAND, NHS_TEST_RANGE, CHI_MOD11):
        assert modulus11_check_digit(number[:9]) == reference_mod11(number[:9]) == int(number[9])
    assert modulus10_check_digit(CHI_MOD10[:9]) == reference_mod10(CHI_MOD10[:9]) == 7


def test_valid_nhs_number() -> None:
    result = check_nhs(NHS_HAND)
    assert result.valid and result.rule == MODULUS_11
    assert result.digits == NHS_HAND and not result.formatted and not result.test_range
    assert check_nhs(NHS_TEST_RANGE).test_range


@pytest.mark.parametrize("text", ["943 476 5919", "943-476-5919", " 943 476 5919 "])
def test_nhs_formatting_is_not_part_of_the_number(text: str) -> None:
    result = check_nhs(text)
    assert result.valid
    assert result.digits == NHS_HAND
    assert result.formatted


def test_nhs_whose_check_digit_would_be_ten_is_never_valid() -> None:
    # Find a stem whose remainder gives 10, by the reference implementation.
    stem = next(s for s in (f"999{n:06d}" for n in range(1000)) if reference_mod11(s) is None)
    for last in "0123456789":
        result = check_nhs(stem + last)
        assert not result.valid
        assert result.reason == "its Modulus 11 check digit would be 10"


def test_nhs_wrong_check_digit_names_the_expected_one() -> None:
    result = check_nhs("9434765910")
    assert not result.valid
    assert result.reason == "check digit is 0, Modulus 11 gives 9"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("943476591", "it has 9 digits, not 10"),
        ("94347659190", "it has 11 digits, not 10"),
        ("94347659I9", "it contains characters other than digits"),
        ("９４３４７６５９１９", "it contains characters other than digits"),
        ("", "it is empty"),
        (" - ", "it is empty"),
    ],
)
def test_nhs_shape_errors(text: str, reason: str) -> None:
    result = check_nhs(text)
    assert not result.valid
    assert result.reason == reason
    assert check_nhs(text).describe().endswith(reason)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_nhs_check_matches_reference(nine: str) -> None:
    check = reference_mod11(nine)
    for last in "0123456789":
        assert check_nhs(nine + last).valid == (check is not None and int(last) == check)


@given(seeds, st.integers(0, 9), st.integers(1, 9))
def test_changing_one_digit_of_a_valid_nhs_number_is_always_detected(
    rng: random.Random, position: int, delta: int
) -> None:
    number = synthetic_nhs(rng)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not check_nhs(changed).valid


@given(seeds)
def test_synthetic_nhs_numbers_are_valid_and_in_the_test_range(rng: random.Random) -> None:
    number = synthetic_nhs(rng)
    assert len(number) == 10
    assert number.startswith("999")
    assert reference_mod11(number[:9]) == int(number[9])


def test_chi_modulus_11() -> None:
    result = check_chi(CHI_MOD11)
    assert result.valid and result.rule == MODULUS_11
    assert result.birth_date == datetime.date(1950, 1, 1)
    assert result.sex == "male"


def test_chi_modulus_10_for_numbers_issued_since_2025() -> None:
    result = check_chi(CHI_MOD10)
    assert result.valid and result.rule == MODULUS_10
    assert check_nhs(CHI_MOD10).valid is False  # the same digits are no NHS number


def test_chi_sex_digit() -> None:
    stem = "0101501" + "2" + "4"  # digit 9 even: female
    assert check_chi(with_check(stem)).sex == "female"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("3102501234", "31/02/50 is not a real date of birth"),
        ("0013501234", "00/13/50 is not a real date of birth"),
        ("2902011234", "29/02/01 is not a real date of birth"),
        ("010150123", "it has 9 digits, not 10"),
        ("01015O1234", "it contains characters other than digits"),
    ],
)
def test_chi_shape_and_date_errors(text: str, reason: str) -> None:
    result = check_chi(text)
    assert not result.valid
    assert result.reason == reason


def test_chi_leap_day_in_a_leap_year_is_real() -> None:
    stem = "290200" + "12" + "3"  # 29 Feb 2000
    result = check_chi(with_check(stem))
    assert result.valid
    assert result.birth_date == datetime.date(2000, 2, 29)


def test_chi_wrong_check_digit_names_both_rules() -> None:
    # 0101501234 passes Modulus 11 with 4 and Modulus 10 with 7; 5 passes neither.
    result = check_chi("0101501235")
    assert not result.valid
    assert result.reason == "check digit is 5, Modulus 11 gives 4, Modulus 10 gives 7"


def test_chi_date_is_checked_before_the_check_digit() -> None:
    # A good Modulus 11 digit does not rescue an impossible date.
    result = check_chi(with_check("320150123"))
    assert not result.valid
    assert "not a real date" in (result.reason or "")


def test_chi_birth_year_prefers_the_past() -> None:
    assert check_chi(CHI_MOD11).birth_date == datetime.date(1950, 1, 1)
    recent = with_check("010120123")
    assert check_chi(recent).birth_date == datetime.date(2020, 1, 1)


@given(
    seeds,
    st.sampled_from([MODULUS_11, MODULUS_10]),
    st.sampled_from(["male", "female"]),
    st.dates(datetime.date(1900, 1, 1), datetime.date(2024, 12, 31)),
)
def test_synthetic_chi_numbers_pass_with_the_rule_they_were_made_with(
    rng: random.Random, rule: str, sex: str, born: datetime.date
) -> None:
    number = synthetic_chi(rng, birth_date=born, sex=sex, rule=rule)  # type: ignore[arg-type]
    result = check_chi(number)
    assert result.valid
    assert result.rule == rule
    assert result.sex == sex
    assert number[:6] == born.strftime("%d%m%y")
    if rule == MODULUS_10:
        assert reference_mod10(number[:9]) == int(number[9])
    else:
        assert reference_mod11(number[:9]) == int(number[9])


def test_synthetic_chi_rejects_an_unknown_rule() -> None:
    with pytest.raises(ValueError, match="rule must be"):
        synthetic_chi(random.Random(1), rule="Modulus 97")


def test_check_identifier_tells_kinds_apart_by_field_not_checksum() -> None:
    # CHI_MOD11 passes Modulus 11, so it would pass as an NHS number too:
    # the kind comes from the caller, never from which check passes.
    assert check_identifier("NHS", CHI_MOD11).kind == "NHS"
    assert check_identifier("CHI", CHI_MOD11).kind == "CHI"
    assert check_identifier("CHI", NHS_HAND).valid is False  # 94/34/76 is no date
