import pytest

from provisioning.code import (
    ALPHABET,
    InvalidCode,
    code_hash,
    display_code,
    new_code,
    normalize_code,
)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("AB3X9K", "AB3X9K"),
        ("ab3x9k", "AB3X9K"),
        ("ab3-x9k", "AB3X9K"),
        (" AB3 X9K ", "AB3X9K"),
        ("a-b-3-x-9-k", "AB3X9K"),
        ("OI1L23", "011123"),  # look-alikes read as what they resemble
    ],
)
def test_normalization(typed: str, code: str) -> None:
    assert normalize_code(typed) == code


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("AB3X9", "6 characters; 5"),
        ("AB3X9KQ", "7 were"),
        ("AB3X9U", "no 'U'"),
        ("AB3#9K", "no '#'"),
    ],
)
def test_invalid_codes_say_why(typed: str, why: str) -> None:
    with pytest.raises(InvalidCode, match=why):
        normalize_code(typed)


def test_new_codes_are_in_the_alphabet_and_vary() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 6 and set(c) <= set(ALPHABET) for c in codes)
    assert not set("ILOU") & set(ALPHABET)


def test_hash_is_keyed_and_ignores_formatting() -> None:
    assert code_hash("ab3-x9k", b"k1") == code_hash("AB3X9K", b"k1")
    assert code_hash("AB3X9K", b"k1") != code_hash("AB3X9K", b"k2")
    assert display_code("AB3X9K") == "AB3-X9K"
