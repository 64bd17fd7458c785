"""Turn ``jsonschema`` errors into catalogue issues with Chinese messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema.exceptions import ValidationError

from liushuang import schemas

from .rules import json_pointer

SLUG = {
    "required": "schema-required", "dependentRequired": "schema-required",
    "type": "schema-type",
    "enum": "schema-enum", "const": "schema-enum",
    "format": "schema-format",
    "pattern": "schema-pattern",
    "minLength": "schema-length", "maxLength": "schema-length",
    "minimum": "schema-range", "maximum": "schema-range", "exclusiveMinimum": "schema-range",
    "exclusiveMaximum": "schema-range", "multipleOf": "schema-range",
    "minItems": "schema-items", "maxItems": "schema-items", "uniqueItems": "schema-items", "contains": "schema-items",
    "additionalProperties": "schema-additional", "unevaluatedProperties": "schema-additional",
}
TYPE_ZH = {"string": "文本", "number": "数字", "integer": "整数", "boolean": "是/否", "array": "列表", "object": "对象", "null": "空值"}
PATTERN_HINT = {
    "uscc": "应为 18 位统一社会信用代码（数字和大写字母，不含 I、O、S、V、Z）",
    "date": "应为 YYYY-MM-DD",
    "datetime": "应为 RFC 3339 日期时间，如 2024-03-01T09:30:00+08:00",
    "region_code": "应为 6 位数字",
    "sha256": "应为 64 位小写十六进制",
}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: Any, n: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "⏎")
    return text if len(text) <= n else text[:n] + f"…（共 {len(text)} 字符）"


def field_title(kind: str, path: list[Any]) -> str:
    """Chinese title of the field at path, e.g. 罚款金额（万元） or 抽中对象[3].uscc."""
    if not path:
        return "记录"
    props = schemas.load(kind)["properties"]
    first = path[0]
    title = props.get(first, {}).get("title", str(first)) if isinstance(first, str) else str(first)
    rest = "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in path[1:])
    return title + rest


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """For anyOf/oneOf (our nullable fields), the errors of the non-null branch."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        useful = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
        if useful:
            for e in useful:
                yield from _leaves(e)
            return
    yield error


def _hint(error: ValidationError) -> str:
    common = schemas.load("common")["$defs"]
    for name, hint in PATTERN_HINT.items():
        if common[name].get("pattern") == error.validator_value:
            return hint
    return f"应匹配 {error.validator_value}"


def describe(kind: str, error: ValidationError) -> Iterator[tuple[str, str, str]]:
    """(slug, JSON pointer, Chinese message) for one jsonschema error."""
    for e in _leaves(error):
        path = list(e.absolute_path)
        kw = e.validator
        slug = SLUG.get(str(kw), "schema-other")
        inst = e.instance
        if kw == "required":
            missing = [f for f in e.validator_value if not isinstance(inst, dict) or f not in inst]
            for f in missing:
                yield slug, json_pointer(path + [f]), f"缺少必填字段“{field_title(kind, path + [f])}”（{f}）"
            continue
        title = field_title(kind, path)
        ptr = json_pointer(path)
        if kw == "type" and inst is None:
            # null where a value is needed (e.g. 办理结果 of an outcome feedback): missing, not mistyped
            yield "schema-required", ptr, f"“{title}”为空，但此处必填"
            continue
        if kw == "type":
            want = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
            want_zh = "或".join(TYPE_ZH.get(t, t) for t in want if t != "null") or "空值"
            msg = f"“{title}”应为{want_zh}，实为{TYPE_ZH[_type_of(inst)]}“{_show(inst)}”"
        elif kw in ("enum", "const"):
            options = e.validator_value if kw == "enum" else [e.validator_value]
            shown = "、".join(str(o) for o in options if o is not None)
            msg = f"“{title}”的值“{_show(inst)}”不在代码表中（可选：{_show(shown, 120)}）"
        elif kw == "format":
            what = "日期（YYYY-MM-DD）" if e.validator_value == "date" else "日期时间（RFC 3339，含时区，如 2024-03-01T09:30:00+08:00）"
            msg = f"“{title}”的值“{_show(inst)}”不是有效的{what}"
        elif kw == "pattern":
            msg = f"“{title}”的值“{_show(inst)}”格式不符：{_hint(e)}"
        elif kw in ("minLength", "maxLength"):
            n = len(inst) if isinstance(inst, str) else 0
            bound = "至少" if kw == "minLength" else "至多"
            msg = f"“{title}”长度为 {n}，应{bound} {e.validator_value} 个字符" if n else f"“{title}”不能为空"
        elif slug == "schema-range":
            sign = {"minimum": "≥", "maximum": "≤", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}.get(str(kw), "为倍数")
            msg = f"“{title}”的值 {_show(inst)} 超出范围（应 {sign} {e.validator_value}）"
        elif kw == "minItems":
            msg = f"“{title}”至少应有 {e.validator_value} 项"
        elif kw == "maxItems":
            msg = f"“{title}”至多应有 {e.validator_value} 项"
        elif kw == "uniqueItems":
            msg = f"“{title}”含重复项"
        elif slug == "schema-additional":
            extra = sorted(set(inst) - set(e.schema.get("properties", {}))) if isinstance(inst, dict) else []
            for f in extra or ["?"]:
                yield slug, json_pointer(path + [f]), f"“{field_title(kind, path) if path else '记录'}”含未定义的字段“{_show(f)}”"
            continue
        else:
            msg = f"“{title}”不符合数据规范（{_show(e.message, 120)}）"
        yield slug, ptr, msg
