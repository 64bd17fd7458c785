"""Inject known defects into synthetic records, returning the issues expected.

Each injector breaks exactly one rule of one record, chosen so that no other
rule fires on it; where other records depend on the broken one (results on a
task), the cascade is part of the expectation. ``record-parse`` is injected by
the JSON Lines writer, since it is a property of the file, not of a record.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from liushuang import ids

Records = dict[str, list[dict[str, Any]]]
Expected = list[dict[str, str]]

_touched: set[int] = set()


def _pick(rng: random.Random, rows: list[dict[str, Any]], ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    candidates = [r for r in rows if id(r) not in _touched and ok(r)]
    if not candidates:
        return None
    row = rng.choice(candidates)
    _touched.add(id(row))
    return row


def _other_char(rng: random.Random, alphabet: str, not_this: str) -> str:
    return rng.choice([c for c in alphabet if c != not_this])


def _pen(rule: str, r: dict[str, Any]) -> dict[str, str]:
    return {"rule": rule, "kind": "penalties", "record_id": r["decision_number"]}


def _free_license(records: Records) -> Callable[[dict[str, Any]], bool]:
    used = {f.get("license_decision_number") for f in records.get("feedback", [])}
    return lambda r: r["decision_number"] not in used


def _free_penalty(records: Records) -> Callable[[dict[str, Any]], bool]:
    used = {t.get("penalty_decision_number") for t in records.get("tracking", [])}
    return lambda r: r["decision_number"] not in used


def _task_cascade(records: Records, task: dict[str, Any], rule: str) -> Expected:
    out = [{"rule": rule, "kind": "inspection_tasks", "record_id": task["task_id"]}]
    out += [{"rule": "ref-rejected", "kind": "inspection_results", "record_id": f"{r['task_id']}/{r['uscc']}"}
            for r in records.get("inspection_results", []) if r["task_id"] == task["task_id"]]
    return out


def _uscc_checksum(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["penalties"], lambda r: r["uscc"] is not None and _free_penalty(records)(r))
    if not r:
        return []
    r["uscc"] = r["uscc"][:17] + _other_char(rng, ids.USCC_ALPHABET, r["uscc"][17])
    return [_pen("uscc-checksum", r)]


def _id_checksum(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["entities"], lambda r: bool(r.get("legal_representative")))
    if not r:
        return []
    rep = r["legal_representative"]
    rep["id_number"] = rep["id_number"][:17] + _other_char(rng, "0123456789X", rep["id_number"][17])
    return [{"rule": "id-checksum", "kind": "entities", "record_id": r["uscc"]}]


def _org_code_checksum(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["penalties"], lambda r: r["uscc"] is not None and _free_penalty(records)(r))
    if not r:
        return []
    org = ids.uscc_org_code(r["uscc"])
    r["org_code"] = org[:8] + _other_char(rng, "0123456789X", org[8])
    return [_pen("org-code-checksum", r)]


def _org_code_mismatch(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["penalties"], lambda r: r["uscc"] is not None and _free_penalty(records)(r))
    if not r:
        return []
    body = "12345678" if ids.uscc_org_code(r["uscc"])[:8] != "12345678" else "87654321"
    r["org_code"] = body + ids.org_code_check_char(body)  # type: ignore[operator]
    return [_pen("org-code-mismatch", r)]


def _region_unknown(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["entities"], lambda r: True)
    if not r:
        return []
    r["region_code"] = "110105"
    return [{"rule": "region-unknown", "kind": "entities", "record_id": r["uscc"]}]


def _date_order(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["licenses"], _free_license(records))
    if not r:
        return []
    r["valid_from"], r["valid_to"] = r["valid_to"], r["valid_from"]
    return [{"rule": "date-order", "kind": "licenses", "record_id": r["decision_number"]}]


def _fine_consistency(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["penalties"], lambda r: "罚款" in r["penalty_kinds"] and _free_penalty(records)(r))
    if not r:
        return []
    r["fine_amount_wan"] = None
    return [_pen("fine-consistency", r)]


def _subject_kind(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["penalties"], lambda r: (r["uscc"] or "").startswith("91") and _free_penalty(records)(r))
    if not r:
        return []
    r["subject_category"] = "个体工商户"
    return [_pen("subject-kind-mismatch", r)]


def _duplicate(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["penalties"], _free_penalty(records))
    if not r:
        return []
    copy = dict(r)
    _touched.add(id(copy))
    records["penalties"].append(copy)
    return [_pen("duplicate-key", r)]


def _ref_missing(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["feedback"], lambda r: True)
    if not r:
        return []
    r["notification_id"] = "TZ000000000"
    return [{"rule": "ref-missing", "kind": "feedback", "record_id": r["feedback_id"]}]


def _schema(rule: str, mutate: Callable[[dict[str, Any]], None], ok: Callable[[dict[str, Any]], bool] = lambda r: True):
    def inject(records: Records, rng: random.Random) -> Expected:
        free = _free_penalty(records)
        r = _pick(rng, records["penalties"], lambda r: ok(r) and free(r))
        if not r:
            return []
        mutate(r)
        return [_pen(rule, r)]

    return inject


def _schema_enum(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["licenses"], _free_license(records))
    if not r:
        return []
    r["license_category"] = "特殊"
    return [{"rule": "schema-enum", "kind": "licenses", "record_id": r["decision_number"]}]


def _schema_pattern(records: Records, rng: random.Random) -> Expected:
    r = _pick(rng, records["entities"], lambda r: True)
    if not r:
        return []
    r["uscc"] = r["uscc"][:9] + "I" + r["uscc"][10:]
    return [{"rule": "schema-pattern", "kind": "entities", "record_id": r["uscc"]}]


def _task_defect(rule: str, mutate: Callable[[Records, dict[str, Any], random.Random], bool]):
    def inject(records: Records, rng: random.Random) -> Expected:
        r = _pick(rng, records["inspection_tasks"], lambda r: len(r["selections"]) >= 2)
        if not r or not mutate(records, r, rng):
            return []
        return _task_cascade(records, r, rule)

    return inject


def _not_in_frame(records: Records, task: dict[str, Any], rng: random.Random) -> bool:
    members = {m["uscc"] for m in task["frame"]["members"]}
    outside = [e["uscc"] for e in records["entities"] if e["uscc"] not in members]
    if not outside:
        return False
    old = task["selections"][0]["uscc"]
    new = rng.choice(outside)
    task["selections"][0]["uscc"] = new
    for a in task["assignments"]:
        if a["uscc"] == old:
            a["uscc"] = new
    return True


def _frame_size(records: Records, task: dict[str, Any], rng: random.Random) -> bool:
    task["frame"]["size"] += 1
    return True


def _unassigned(records: Records, task: dict[str, Any], rng: random.Random) -> bool:
    task["assignments"].pop()
    return True


def _revocation(r: dict[str, Any]) -> None:
    r["revoked_on"] = r["decided_on"]
    r["revocation_kind"] = None


INJECTORS: dict[str, Callable[[Records, random.Random], Expected]] = {
    "uscc-checksum": _uscc_checksum,
    "id-checksum": _id_checksum,
    "org-code-checksum": _org_code_checksum,
    "org-code-mismatch": _org_code_mismatch,
    "region-unknown": _region_unknown,
    "date-order": _date_order,
    "fine-consistency": _fine_consistency,
    "subject-kind-mismatch": _subject_kind,
    "revocation-consistency": _schema("revocation-consistency", _revocation),
    "duplicate-key": _duplicate,
    "ref-missing": _ref_missing,
    "schema-required": _schema("schema-required", lambda r: r.pop("violation_facts")),
    "schema-format": _schema("schema-format", lambda r: r.update(decided_on=r["decided_on"][:5] + "02-30")),
    "schema-type": _schema("schema-type", lambda r: r.update(confiscation_amount_wan="五千元")),
    "schema-length": _schema("schema-length", lambda r: r.update(violation_facts="违" * 20001)),
    "schema-range": _schema("schema-range", lambda r: r.update(confiscation_amount_wan=-2)),
    "schema-items": _schema("schema-items", lambda r: r.update(penalty_kinds=[]), lambda r: "罚款" not in r["penalty_kinds"]),
    "schema-additional": _schema("schema-additional", lambda r: r.update(phone_number="13800000000")),
    "schema-enum": _schema_enum,
    "schema-pattern": _schema_pattern,
    "selection-not-in-frame": _task_defect("selection-not-in-frame", _not_in_frame),
    "frame-inconsistent": _task_defect("frame-inconsistent", _frame_size),
    "assignment-not-selected": _task_defect("assignment-not-selected", _unassigned),
}
FILE_DEFECTS = {"record-parse"}
JSON_ONLY = {"record-parse", "schema-additional"}
ALL = sorted([*INJECTORS, *FILE_DEFECTS])


def inject(records: Records, defects: dict[str, int], rng: random.Random) -> Expected:
    unknown = set(defects) - set(INJECTORS) - FILE_DEFECTS
    if unknown:
        raise ValueError(f"unknown defect(s): {', '.join(sorted(unknown))}; known: {', '.join(ALL)}")
    _touched.clear()
    expected: Expected = []
    for rule in sorted(defects):
        if rule in FILE_DEFECTS:
            expected += [{"rule": rule, "kind": "penalties", "record_id": ""} for _ in range(defects[rule])]
            continue
        for _ in range(defects[rule]):
            found = INJECTORS[rule](records, rng)
            if not found:
                raise ValueError(f"no record left to inject {rule!r} into; use more entities")
            expected += found
    return expected
