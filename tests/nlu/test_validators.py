"""ID card checksums, phone numbers and masking, checked against an independent GB 11643 implementation."""

from __future__ import annotations

import pytest

from nlu.validators import is_valid_id_card, is_valid_phone


def gb11643_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character, computed from the standard's definition.

    Weight of position i (1-based from the left, 17 digits) is 2**(18 - i) mod 11; the check
    character c satisfies (sum + value(c)) % 11 == 1, where X stands for 10.
    """
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(area: str, birth: str, seq: str) -> str:
    """A full 18-character number with the correct check character."""
    body = area + birth + seq
    assert len(body) == 17
    return body + gb11643_check_digit(body)


VALID_IDS = [
    make_id("110105", "19491231", "002"),  # check character X
    make_id("440106", "19900307", "123"),
    make_id("440304", "20000229", "004"),  # leap day
    make_id("310101", "19000101", "555"),  # earliest allowed birth date
]


def test_own_checksum_matches_published_example() -> None:
    """The helper reproduces the standard's worked example (11010519491231002X)."""
    assert gb11643_check_digit("11010519491231002") == "X"


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_id_cards(number: str) -> None:
    assert is_valid_id_card(number)
    assert is_valid_id_card(number.lower())


@pytest.mark.parametrize("number", VALID_IDS)
def test_wrong_check_digit_is_rejected(number: str) -> None:
    """Any other check character fails."""
    for other in "0123456789X":
        if other != number[-1]:
            assert not is_valid_id_card(number[:-1] + other)


@pytest.mark.parametrize(
    "number",
    [
        make_id("440106", "19900230", "123"),  # 30 February
        make_id("440106", "19901301", "123"),  # month 13
        make_id("440106", "18991231", "123"),  # before 1900
        make_id("440106", "29990101", "123"),  # in the future
    ],
)
def test_impossible_birth_date_is_rejected(number: str) -> None:
    """A correct checksum does not save a birth date that cannot exist."""
    assert not is_valid_id_card(number)


@pytest.mark.parametrize(
    "number", ["", "1234567890", "44010619900307123", "4401061990030712345", "44010619900307123Y"]
)
def test_malformed_id_cards(number: str) -> None:
    assert not is_valid_id_card(number)


@pytest.mark.parametrize(
    "number", ["13812345678", "19912345678", "020-12345678", "0755-1234567", "02012345678"]
)
def test_valid_phones(number: str) -> None:
    assert is_valid_phone(number)


@pytest.mark.parametrize(
    "number", ["12812345678", "1381234567", "138123456789", "12345", "abc", "20-12345678"]
)
def test_invalid_phones(number: str) -> None:
    assert not is_valid_phone(number)
