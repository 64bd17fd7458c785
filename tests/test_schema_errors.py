"""Chinese messages name the field, the value and what was expected."""

from __future__ import annotations

from jsonschema import Draft202012Validator
from liushuang.generator.schema_errors import describe, field_title
from liushuang.generator.validate import Schemas

COMPILED = Schemas()


def _messages(kind, rec):
    return [m for e in COMPILED.exact[kind].iter_errors(rec) for m in describe(kind, e)]


def test_field_titles_follow_the_path():
    assert field_title("penalties", ["fine_amount_wan"]) == "罚款金额（万元）"
    assert field_title("inspection_tasks", ["selections", 2, "uscc"]) == "抽中对象[3].uscc"


def test_messages_name_field_value_and_expectation():
    rec = {"item_id": "SX1", "name": "检查", "basis": "依据", "department": "大连市市场监督管理局",
           "item_kind": "特别检查", "ratio": 1.5}
    got = sorted(_messages("inspection_items", rec))
    assert got == [
        ("schema-enum", "/item_kind", "“事项类别”的值“特别检查”不在代码表中（可选：一般检查事项、重点检查事项）"),
        ("schema-range", "/ratio", "“抽查比例”的值 1.5 超出范围（应 ≤ 1）"),
    ]


def test_nullable_field_reports_the_real_problem_not_the_null_branch():
    rec = {"item_id": "SX1", "name": "检查", "basis": "依据", "department": "大连市市场监督管理局",
           "item_kind": "一般检查事项", "frequency": "每天"}
    (slug, ptr, msg), = _messages("inspection_items", rec)
    assert (slug, ptr) == ("schema-enum", "/frequency") and "每天" in msg


def test_unknown_keyword_falls_back_to_schema_other():
    # Users may extend the schemas; a keyword we have no message for still reports, as schema-other.
    error = next(Draft202012Validator({"not": {"type": "string"}}).iter_errors("x"))
    ((slug, ptr, msg),) = list(describe("penalties", error))
    assert slug == "schema-other" and ptr == "" and "不符合数据规范" in msg
