"""Check-character algorithms against the real codes of DOMAIN.md §3."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from liushuang import ids

# Real, published codes (DOMAIN.md §3).
REAL_USCC = ["91110108551385082Q", "91230500MA1B3N1N2M"]


def test_real_usccs_are_valid():
    for code in REAL_USCC:
        assert ids.is_valid_uscc(code)
        assert ids.uscc_check_char(code[:17]) == code[17]


def test_wrong_check_char_is_invalid():
    assert not ids.is_valid_uscc("91110108551385082R")
    assert not ids.is_valid_uscc("91110108551385082")  # too short
    assert ids.uscc_check_char("9111010855138508I") is None  # I is not in the alphabet


def test_org_code_embedded_in_real_usccs():
    # GB 32100 positions 9-17 are the GB 11714 organisation code, with its own check character.
    assert ids.uscc_org_code("91110108551385082Q") == "551385082"
    for code in REAL_USCC:
        assert ids.is_valid_org_code(ids.uscc_org_code(code))
    assert ids.is_valid_org_code("55138508-2")  # printed form with a hyphen
    assert not ids.is_valid_org_code("551385083")


def test_org_code_check_char_special_values():
    # C = 11 - (sum mod 11); 10 -> X, 11 -> 0. Bodies found by enumeration of the formula.
    bodies = {ids.org_code_check_char(f"{n:08d}") for n in range(0, 2000)}
    assert "X" in bodies and "0" in bodies


def test_id_numbers():
    # GB 11643-1999's own example number.
    assert ids.is_valid_id_number("11010519491231002X")
    assert not ids.is_valid_id_number("110105194912310021")
    # Right check character but impossible birth date (February 30th).
    body = "11010519490230002"
    assert not ids.is_valid_id_number(body + ids.id_check_char(body))
    assert ids.id_birth_date("11010519491231002X").isoformat() == "1949-12-31"


alphabet = st.sampled_from(ids.USCC_ALPHABET)


@given(st.lists(alphabet, min_size=17, max_size=17), st.integers(0, 16), alphabet)
def test_any_single_substitution_is_detected(body, pos, new):
    # The weights are non-zero modulo the prime 31, so one changed character always changes the check.
    code = ids.make_uscc("".join(body))
    assert ids.is_valid_uscc(code)
    if new != code[pos]:
        assert not ids.is_valid_uscc(code[:pos] + new + code[pos + 1:])


@given(st.text("0123456789", min_size=17, max_size=17))
def test_make_id_number_roundtrip(body):
    code = ids.make_id_number(body)
    assert ids.id_check_char(code[:17]) == code[17]
