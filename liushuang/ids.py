"""Check characters of Chinese identifiers.

Each function returns the expected check character (so callers can say what it
should have been) and ``is_valid_*`` wrappers answer yes/no. Inputs are plain
strings; callers normalise case and whitespace first.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from operator import mul

# GB 32100-2015 统一社会信用代码: 31 symbols, no I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714-1997 组织机构代码: digits and A=10 … Z=35.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# GB 11643-1999 公民身份号码.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


# bytes.translate tables: character -> value, 0xFF for characters outside the alphabet.
# (Weighted sums run as map(mul, ...) in C: these checks run on every record.)
_USCC_TABLE = bytes(_USCC_VALUE.get(chr(i), 0xFF) for i in range(256))
_ORG_TABLE = bytes(i - 48 if 48 <= i <= 57 else i - 55 if 65 <= i <= 90 else 0xFF for i in range(256))
_DIGIT_TABLE = bytes(i - 48 if 48 <= i <= 57 else 0xFF for i in range(256))


def _values(text: str, table: bytes) -> bytes | None:
    if not text.isascii():
        return None
    values = text.encode("ascii").translate(table)
    return None if 0xFF in values else values


def uscc_check_char(body: str) -> str | None:
    """Check character for the first 17 characters of a USCC, or None if a
    character is outside the GB 32100 alphabet."""
    values = _values(body[:17], _USCC_TABLE)
    if values is None or len(values) != 17:
        return None
    return USCC_ALPHABET[(31 - sum(map(mul, values, _USCC_WEIGHTS)) % 31) % 31]


@lru_cache(maxsize=1 << 20)
def is_valid_uscc(code: str) -> bool:
    if len(code) != 18:
        return False
    return uscc_check_char(code[:17]) == code[17]


def make_uscc(body17: str) -> str:
    """Append the check character to a 17-character body (used by synth)."""
    check = uscc_check_char(body17)
    if check is None or len(body17) != 17:
        raise ValueError(f"not a USCC body: {body17!r}")
    return body17 + check


def org_code_check_char(body: str) -> str | None:
    """Check character for the first 8 characters of an organisation code."""
    values = _values(body, _ORG_TABLE) if len(body) == 8 else None
    if values is None:
        return None
    c = 11 - sum(map(mul, values, _ORG_WEIGHTS)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def normalise_org_code(code: str) -> str:
    """Organisation codes are often printed as XXXXXXXX-X."""
    return code.replace("-", "")


@lru_cache(maxsize=1 << 16)
def is_valid_org_code(code: str) -> bool:
    code = normalise_org_code(code)
    return len(code) == 9 and org_code_check_char(code[:8]) == code[8]


def id_check_char(body: str) -> str | None:
    values = _values(body, _DIGIT_TABLE) if len(body) == 17 else None
    if values is None:
        return None
    return _ID_CHECK[sum(map(mul, values, _ID_WEIGHTS)) % 11]


def id_birth_date(code: str) -> _dt.date | None:
    """Birth date encoded in positions 7-14, or None if it is not a real date."""
    try:
        return _dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return None


@lru_cache(maxsize=1 << 20)
def is_valid_id_number(code: str) -> bool:
    return (len(code) == 18 and id_check_char(code[:17]) == code[17]
            and id_birth_date(code) is not None)


def make_id_number(body17: str) -> str:
    check = id_check_char(body17)
    if check is None:
        raise ValueError(f"not an ID body: {body17!r}")
    return body17 + check


def uscc_region(code: str) -> str:
    """Positions 3-8: the region code of the registering authority."""
    return code[2:8]


def uscc_org_code(code: str) -> str:
    """Positions 9-17: the organisation code (GB 11714) embedded in a USCC."""
    return code[8:17]
