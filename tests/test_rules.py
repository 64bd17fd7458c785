"""Every rule of the catalogue, with a fixture that triggers exactly it.

Each case changes one record of a clean synthetic city and asserts that the
changed record, and only it, is rejected for exactly the expected rule (a
broken task also rejects its results: ``ref-rejected`` is allowed as cascade).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import mutate, read_jsonl, rules_by_record, validate, write_jsonl
from liushuang.generator.rules import RULES

from liushuang import ids

PEN = "penalties"


def _org(rec):
    return rec.get("uscc") and rec["uscc"].startswith("91")


def _bump_check(code: str) -> str:
    alphabet = ids.USCC_ALPHABET
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % 31]


def _set(**values):
    return lambda r: r.update(values)


def _first_stratum_size(r):
    r["strata"][0]["size"] += 1


def _first_sample_size(r):
    r["strata"][0]["sample_size"] += 1


def _undeclared_stratum(r):
    selected = {s["uscc"] for s in r["selections"]}
    next(m for m in r["frame"]["members"] if m["uscc"] not in selected)["stratum"] = "Z"


def _selection_stratum(r):
    sel = r["selections"][0]
    sel["stratum"] = next(s["stratum"] for s in r["strata"] if s["stratum"] != sel["stratum"])


def _selection_outside(r):
    outside = "91210202MA0000000" + ids.uscc_check_char("91210202MA0000000")
    old = r["selections"][0]["uscc"]
    r["selections"][0]["uscc"] = outside
    for a in r["assignments"]:
        if a["uscc"] == old:
            a["uscc"] = outside


def _drop_assignment(r):
    r["assignments"].pop()


def _assign_unselected(r):
    r["assignments"][0]["uscc"] = r["frame"]["members"][-1]["uscc"] if r["frame"]["members"][-1]["uscc"] not in {
        s["uscc"] for s in r["selections"]} else r["assignments"][0]["uscc"]
    r["assignments"].append({"uscc": r["selections"][0]["uscc"], "inspectors": r["assignments"][1]["inspectors"]})


def _duplicate_selection_order(r):
    r["selections"][1]["order"] = r["selections"][0]["order"]


CASES = [
    # (id, kind, pick, change, expected rules on the record)
    ("uscc-checksum", PEN, _org, lambda r: r.update(uscc=_bump_check(r["uscc"])), {"uscc-checksum"}),
    ("authority-uscc-checksum", PEN, _org, lambda r: r.update(authority_uscc=_bump_check(r["authority_uscc"])), {"uscc-checksum"}),
    ("org-code-checksum", PEN, _org, lambda r: r.update(org_code=ids.uscc_org_code(r["uscc"])[:8] + ("0" if ids.uscc_org_code(r["uscc"])[8] != "0" else "1")), {"org-code-checksum"}),
    ("org-code-mismatch", PEN, _org, lambda r: r.update(org_code="123456789" if ids.is_valid_org_code("123456789") else "12345678" + ids.org_code_check_char("12345678")), {"org-code-mismatch"}),
    ("id-checksum-legal-rep", PEN, _org, lambda r: r.update(legal_rep_id_number=r["legal_rep_id_number"][:17] + ("0" if r["legal_rep_id_number"][17] != "0" else "1")), {"id-checksum"}),
    ("id-checksum-person", PEN, lambda r: r["subject_category"] == "自然人", lambda r: r.update(person_id_number="21020219990230123" + ids.id_check_char("21020219990230123")), {"id-checksum"}),
    ("id-checksum-entity", "entities", lambda r: True, lambda r: r["legal_representative"].update(id_number="12345"), {"id-checksum"}),
    ("region-unknown", "entities", lambda r: True, _set(region_code="110105"), {"region-unknown"}),
    ("subject-kind-92", PEN, _org, _set(subject_category="个体工商户"), {"subject-kind-mismatch"}),
    ("subject-kind-person-with-uscc", PEN, _org, _set(subject_category="自然人", person_id_type="身份证", person_id_number="11010519491231002X"), {"subject-kind-mismatch"}),
    ("subject-kind-entity", "entities", lambda r: r["uscc"].startswith("91"), _set(kind="个体工商户"), {"subject-kind-mismatch"}),
    ("date-order-licence", "licenses", lambda r: r["valid_to"] != "2099-12-31", lambda r: r.update(valid_from=r["valid_to"], valid_to=r["valid_from"]), {"date-order"}),
    ("date-order-published", PEN, lambda r: r.get("published_on"), _set(published_on="2000-01-01"), {"date-order"}),
    ("date-order-claim", "notifications", lambda r: r.get("claimed_at"), _set(claimed_at="2000-01-01T09:00:00+08:00"), {"date-order"}),
    ("date-order-inspector", "inspectors", lambda r: True, _set(active_to="1990-01-01"), {"date-order"}),
    ("fine-missing", PEN, lambda r: "罚款" in r["penalty_kinds"], _set(fine_amount_wan=None), {"fine-consistency"}),
    ("fine-without-kind", PEN, lambda r: "罚款" not in r["penalty_kinds"] and r["penalty_kinds"] != [], _set(fine_amount_wan=1.0), {"fine-consistency"}),
    ("revocation-consistency", PEN, lambda r: True, lambda r: r.update(revoked_on=r["decided_on"], revocation_kind=None), {"revocation-consistency"}),
    ("schema-required", PEN, lambda r: True, lambda r: r.pop("violation_facts"), {"schema-required"}),
    ("schema-required-if-then", "feedback", lambda r: r["feedback_type"] == "结果反馈", lambda r: r.update(outcome=None), {"schema-required"}),
    ("schema-type", PEN, lambda r: True, _set(confiscation_amount_wan="五千元"), {"schema-type"}),
    ("schema-enum", "licenses", lambda r: True, _set(license_category="特殊"), {"schema-enum"}),
    ("schema-format", PEN, lambda r: True, _set(penalty_valid_until="0000-00-00"), {"schema-format"}),
    ("schema-format-datetime", "notifications", lambda r: True, _set(pushed_at="2024-13-01T09:00:00+08:00"), {"schema-format"}),
    ("schema-pattern", "entities", lambda r: True, lambda r: r.update(uscc=r["uscc"][:9] + "O" + r["uscc"][10:]), {"schema-pattern"}),
    ("schema-length", PEN, lambda r: True, _set(violation_facts="违" * 20001), {"schema-length"}),
    ("schema-range", PEN, lambda r: True, _set(confiscation_amount_wan=-1), {"schema-range"}),
    ("schema-items", PEN, lambda r: "罚款" not in r["penalty_kinds"], _set(penalty_kinds=[]), {"schema-items"}),
    ("schema-additional", PEN, lambda r: True, _set(home_address="某某路 1 号"), {"schema-additional"}),
    ("frame-size", "inspection_tasks", lambda r: True, lambda r: r["frame"].update(size=r["frame"]["size"] + 1), {"frame-inconsistent"}),
    ("frame-stratum-size", "inspection_tasks", lambda r: True, _first_stratum_size, {"frame-inconsistent"}),
    ("frame-sample-size", "inspection_tasks", lambda r: True, _first_sample_size, {"frame-inconsistent"}),
    ("frame-undeclared-stratum", "inspection_tasks", lambda r: True, _undeclared_stratum, {"frame-inconsistent"}),
    ("frame-order", "inspection_tasks", lambda r: len(r["selections"]) > 1, _duplicate_selection_order, {"frame-inconsistent"}),
    ("selection-outside-frame", "inspection_tasks", lambda r: True, _selection_outside, {"selection-not-in-frame"}),
    ("selection-wrong-stratum", "inspection_tasks", lambda r: len(r["strata"]) > 1, _selection_stratum, {"selection-not-in-frame", "frame-inconsistent"}),
    ("assignment-missing", "inspection_tasks", lambda r: True, _drop_assignment, {"assignment-not-selected"}),
    ("ref-missing-feedback", "feedback", lambda r: True, _set(notification_id="TZ-NOPE"), {"ref-missing"}),
    ("ref-missing-licence", "feedback", lambda r: r.get("license_decision_number"), _set(license_decision_number="不存在的文号"), {"ref-missing"}),
    ("ref-missing-item", "inspection_tasks", lambda r: True, _set(items=["SX-NOPE"]), {"ref-missing"}),
    ("ref-missing-inspector", "inspection_results", lambda r: True, _set(inspectors=["ZF-NOPE"]), {"ref-missing"}),
    ("ref-missing-task", "inspection_results", lambda r: True, _set(task_id="RW-NOPE"), {"ref-missing"}),
    ("ref-missing-not-selected", "inspection_results", lambda r: True, lambda r: r.update(uscc="91210202MA0000000" + ids.uscc_check_char("91210202MA0000000")), {"ref-missing"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule_triggers_exactly(data_dir: Path, case):
    _, kind, pick, change, expected = case
    changed = mutate(data_dir, kind, pick, change)
    report = validate(data_dir)
    by_record = rules_by_record(report)
    key = changed.get("decision_number") or changed.get("uscc") if kind in ("penalties", "licenses", "entities") else None
    flagged = {rid: rules for rid, rules in by_record.items() if rules != {"ref-rejected"}}
    assert len(flagged) == 1, flagged
    (rid, rules), = flagged.items()
    assert rules == expected
    if key:
        assert rid == key
    assert report.kinds[kind].rejected == 1
    assert all(k.conserved for k in report.kinds.values())
    assert report.exit_code == 1


def test_ref_rejected_cascades_from_a_broken_task(data_dir: Path):
    task = mutate(data_dir, "inspection_tasks", lambda r: True, lambda r: r["frame"].update(size=-1))
    report = validate(data_dir)
    results = [r for r in read_jsonl(data_dir / "inspection_results.jsonl") if r["task_id"] == task["task_id"]]
    assert results, "fixture needs a task with results"
    cascaded = {i.record_id for i in report.issues if i.rule == "ref-rejected"}
    assert cascaded == {f"{r['task_id']}/{r['uscc']}" for r in results}


def test_duplicate_key_keeps_the_first(data_dir: Path):
    path = data_dir / "penalties.jsonl"
    records = read_jsonl(path)
    write_jsonl(path, records + [records[3]])
    report = validate(data_dir)
    assert [(i.rule, i.line) for i in report.issues] == [("duplicate-key", len(records) + 1)]
    assert "第 4 行" in report.issues[0].message
    assert report.kinds["penalties"].accepted == len(records)


def test_record_shape_rules(data_dir: Path):
    path = data_dir / "penalties.jsonl"
    good = path.read_bytes()
    path.write_bytes(good + b'{"decision_number": "x", "subject_na\n' + b"[1, 2]\n" + b"null\n" + b'{"a": "\x00"}\n')
    report = validate(data_dir)
    got = [(i.rule, i.line) for i in report.issues]
    n = good.count(b"\n")
    assert got == [("record-parse", n + 1), ("record-not-object", n + 2), ("record-not-object", n + 3), ("record-parse", n + 4)]
    assert "NUL" in report.issues[-1].message
    assert report.kinds["penalties"].read == n + 4


def test_jsonl_invalid_utf8_names_the_byte_offset(data_dir: Path):
    path = data_dir / "penalties.jsonl"
    good = path.read_bytes()
    bad_line = '{"subject_name": "大连'.encode() + b"\xff\xfe" + b'"}\n'
    path.write_bytes(good + bad_line)
    report = validate(data_dir)
    (issue,) = report.issues
    assert issue.rule == "file-decode"
    assert issue.byte_offset == len(good) + len('{"subject_name": "大连'.encode())
    assert str(issue.byte_offset) in issue.message


def test_file_level_rules(data_dir: Path):
    (data_dir / "notes.csv").write_text("a,b\n1,2\n")
    (data_dir / "licenses.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    (data_dir / "tracking.parquet").write_bytes(b"PAR1 broken")
    os.symlink(data_dir / "does-not-exist", data_dir / "assessments.csv")
    report = validate(data_dir)
    rules = sorted((i.rule, i.file) for i in report.issues)
    assert rules == [("file-format", "licenses.xlsx"), ("file-format", "tracking.parquet"),
                     ("file-unknown-kind", "notes.csv"), ("file-unreadable", "assessments.csv")]
    # The other files are still read in full.
    assert report.kinds["penalties"].accepted == len(read_jsonl(data_dir / "penalties.jsonl"))
    assert report.exit_code == 2


def test_column_rules(data_dir: Path):
    (data_dir / "inspection_items.jsonl").unlink()
    (data_dir / "inspection_items.csv").write_text(
        "item_id,name,抽查事项,basis,department,item_kind,颜色\n"
        "SX1,食品检查,重复,依据,大连市市场监督管理局,一般检查事项,红\n", encoding="utf-8")
    report = validate(data_dir)
    file_issues = sorted((i.rule, i.message) for i in report.issues if i.file == "inspection_items.csv")
    assert file_issues == [("column-duplicate", "列“抽查事项”与前面的列对应同一字段，未读取"),
                           ("column-unknown", "列“颜色”不对应“inspection_items”的任何字段，未读取")]
    assert report.valid is False  # a duplicate column is an error; an unknown one only a warning
    assert report.kinds["inspection_items"].accepted == 1


def test_every_rule_has_a_failing_fixture():
    covered = set().union(*(c[4] for c in CASES)) | {
        "ref-rejected", "duplicate-key", "record-parse", "record-not-object", "file-decode",  # tests above
        "file-format", "file-unknown-kind", "file-unreadable", "column-unknown", "column-duplicate",
        "schema-other",  # test_schema_errors.py
    }
    assert covered == set(RULES), set(RULES) - covered
