"""Map tabular columns to schema fields and coerce cell values to JSON types.

Real exports of the national 双公示 standard come with Chinese headers, dates
as ``YYYY/MM/DD`` or ``YYYY年M月D日``, ``2099/12/31`` or 长期 for long-term
validity, codes for 当前状态, sanctions joined by 、 or ;, and spreadsheets
that turned registration numbers into floats. This module turns such cells
into the canonical JSON form the schemas describe. It never decides validity:
a value it cannot convert is passed on unchanged, so the schema reports it
with the exact text the user typed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import orjson

from liushuang import schemas

# Headers of the national standard that differ from our schema titles, and
# headers common in real exports. Keys are compared after header_key().
ALIASES: dict[str, dict[str, str]] = {
    "_subject": {
        "行政相对人代码_1": "uscc",
        "行政相对人代码_1(统一社会信用代码)": "uscc",
        "行政相对人代码_1统一社会信用代码": "uscc",
        "行政相对人代码_2": "business_reg_number",
        "行政相对人代码_2(工商注册号)": "business_reg_number",
        "行政相对人代码_3": "org_code",
        "行政相对人代码_3(组织机构代码)": "org_code",
        "行政相对人代码_4": "tax_reg_number",
        "行政相对人代码_4(税务登记号)": "tax_reg_number",
        "行政相对人代码_5": "institution_cert_number",
        "行政相对人代码_5(事业单位证书号)": "institution_cert_number",
        "行政相对人代码_6": "social_org_reg_number",
        "行政相对人代码_6(社会组织登记证号)": "social_org_reg_number",
        "法定代表人证件类型": "legal_rep_id_type",
        "法定代表人证件号码": "legal_rep_id_number",
        "数据来源单位统一社会信用代码": "data_source_uscc",
    },
    "licenses": {
        "许可机关统一社会信用代码": "authority_uscc",
        "许可证书编号": "license_number",
    },
    "penalties": {
        "罚款金额": "fine_amount_wan",
        "罚款金额(万元)": "fine_amount_wan",
        "没收违法所得、没收非法财物的金额": "confiscation_amount_wan",
        "没收违法所得、没收非法财物的金额(万元)": "confiscation_amount_wan",
        "处罚机关统一社会信用代码": "authority_uscc",
        "处罚决定书文号": "decision_number",
    },
    "entities": {
        "法定代表人": "legal_representative.name",
        "法定代表人姓名": "legal_representative.name",
        "法定代表人证件类型": "legal_representative.id_type",
        "法定代表人证件号码": "legal_representative.id_number",
        "企业名称": "name",
        "统一社会信用代码": "uscc",
    },
}

# Code values used by real exports for enumerated fields.
CODE_ALIASES: dict[str, dict[str, str]] = {
    "status": {"1": "有效", "2": "无效"},
    "subject_category": {"法人及非法人组织": "法人及非法人组织", "法人": "法人及非法人组织", "非法人组织": "法人及非法人组织"},
}

LONG_TERM_WORDS = {"长期", "长期有效", "永久"}
_LIST_SPLIT = re.compile(r"\s*[;；,，、|]\s*")
_DATE_RE = re.compile(r"^\s*(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*日?\s*$")
_DATETIME_RE = re.compile(
    r"^\s*(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)
_CHINA_TZ = "+08:00"
_HEADER_TRANS = str.maketrans({"（": "(", "）": ")", "：": ":", "\ufeff": None, " ": None, "\u3000": None, "\t": None})


def header_key(header: Any) -> str:
    """Compare headers ignoring spaces, BOMs and full/half-width brackets."""
    return str(header if header is not None else "").translate(_HEADER_TRANS).strip().lower()


@cache
def column_names(kind: str) -> dict[str, str]:
    """Normalised header -> field path (dotted for nested objects)."""
    schema = schemas.load(kind)
    names: dict[str, str] = {}
    aliases = dict(ALIASES["_subject"]) if kind in ("licenses", "penalties") else {}
    aliases.update(ALIASES.get(kind, {}))
    for field, prop in schema["properties"].items():
        names[header_key(field)] = field
        names[header_key(prop.get("title", field))] = field
        sub = _object_schema(prop)
        if sub:
            for subfield in sub.get("properties", {}):
                path = f"{field}.{subfield}"
                names.setdefault(header_key(path), path)
    for header, field in aliases.items():
        names[header_key(header)] = field
    return names


def _object_schema(prop: dict[str, Any]) -> dict[str, Any] | None:
    if prop.get("type") == "object" or prop.get("type") == ["object", "null"]:
        return prop
    return None


def parse_date(value: Any, *, long_term: str = "2099-12-31") -> Any:
    """Return an ISO date string, or the value unchanged if it is not a date."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        return value
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value  # already canonical (or invalid in a way the schema reports)
    if value.strip() in LONG_TERM_WORDS:
        return long_term
    m = _DATE_RE.match(value)
    if not m:
        return value
    y, mo, d = m.groups()
    return f"{y}-{int(mo):02d}-{int(d):02d}"


def parse_datetime(value: Any) -> Any:
    """Return an RFC 3339 date-time; exports without an offset are China time."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.isoformat(timespec="seconds") + _CHINA_TZ
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00{_CHINA_TZ}"
    if not isinstance(value, str) or "T" in value:
        return value  # RFC 3339 already, or invalid in a way the schema reports
    m = _DATETIME_RE.match(value)
    if not m:
        return value
    y, mo, d, h, mi, s = m.groups()
    return f"{y}-{int(mo):02d}-{int(d):02d}T{int(h or 0):02d}:{mi or '00'}:{s or '00'}{_CHINA_TZ}"


def _as_text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets turn long codes into floats
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _as_number(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in text else number
    return value


def _as_integer(value: Any) -> Any:
    value = _as_number(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_TRUE = {"是", "true", "1", "y", "yes", "已签署", "√"}
_FALSE = {"否", "false", "0", "n", "no", "未签署"}


def _as_boolean(value: Any) -> Any:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    if isinstance(value, int) and value in (0, 1) and not isinstance(value, bool):
        return bool(value)
    return value


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return value
    return value


def _as_string_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return _as_json(text)
        return [part for part in _LIST_SPLIT.split(text) if part]
    return value


def _coded(conv: Callable[[Any], Any], codes: dict[str, str], value: Any) -> Any:
    value = conv(value)
    return codes.get(value, value) if isinstance(value, str) else value


def _with_codes(field: str, conv: Callable[[Any], Any]) -> Callable[[Any], Any]:
    codes = CODE_ALIASES.get(field)
    # functools.partial, not a closure: column plans travel to worker processes.
    return partial(_coded, conv, codes) if codes else conv


def _prop_types(prop: dict[str, Any]) -> tuple[str, str]:
    """(json type, format) of a property, looking through nullable anyOf/$ref."""
    if "anyOf" in prop:
        for alt in prop["anyOf"]:
            if alt.get("type") != "null":
                return _prop_types(alt)
    ref = prop.get("$ref", "")
    if ref:
        defn = schemas.load("common")["$defs"][ref.rsplit("/", 1)[-1]]
        return defn.get("type", "string"), defn.get("format", "")
    t = prop.get("type", "string")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    return t, prop.get("format", "")


@cache
def nullable(kind: str, path: str) -> bool:
    """Whether the schema accepts null for a top-level field."""
    prop = schemas.load(kind)["properties"].get(path, {})
    if any(alt.get("type") == "null" for alt in prop.get("anyOf", [])):
        return True
    t = prop.get("type")
    return isinstance(t, list) and "null" in t


@cache
def converter(kind: str, path: str) -> Callable[[Any], Any]:
    """The cell converter for a field path of a kind."""
    schema = schemas.load(kind)
    parts = path.split(".")
    prop = schema["properties"][parts[0]]
    if len(parts) == 2:
        prop = _object_schema(prop)["properties"][parts[1]]  # type: ignore[index]
    jtype, fmt = _prop_types(prop)
    if fmt == "date":
        conv: Callable[[Any], Any] = parse_date
    elif fmt == "date-time":
        conv = parse_datetime
    elif jtype == "number":
        conv = _as_number
    elif jtype == "integer":
        conv = _as_integer
    elif jtype == "boolean":
        conv = _as_boolean
    elif jtype == "array":
        items = prop.get("items", {})
        conv = _as_string_list if items.get("type") == "string" or "$ref" in items else _as_json
    elif jtype == "object":
        conv = _as_json
    else:
        conv = _as_text
    return _with_codes(parts[-1], conv)


@dataclass(frozen=True)
class ColumnPlan:
    """How the columns of one tabular file become record fields."""

    columns: tuple[tuple[int, str, Callable[[Any], Any]], ...]
    unknown: tuple[str, ...]
    duplicate: tuple[str, ...]

    def record(self, cells: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
        rec: dict[str, Any] = {}
        n = len(cells)
        for index, path, conv in self.columns:
            if index >= n:
                continue
            value = cells[index]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            value = conv(value)
            if "." in path:
                outer, inner = path.split(".", 1)
                rec.setdefault(outer, {})[inner] = value
            else:
                rec[path] = value
        return rec


def plan_columns(kind: str, headers: list[Any]) -> ColumnPlan:
    names = column_names(kind)
    seen: set[str] = set()
    columns = []
    unknown: list[str] = []
    duplicate: list[str] = []
    for index, header in enumerate(headers):
        key = header_key(header)
        if not key:
            continue
        path = names.get(key)
        if path is None:
            unknown.append(str(header))
        elif path in seen:
            duplicate.append(str(header))
        else:
            seen.add(path)
            columns.append((index, path, converter(kind, path)))
    return ColumnPlan(tuple(columns), tuple(unknown), tuple(duplicate))
