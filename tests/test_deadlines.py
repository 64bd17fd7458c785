"""Each duty of the deadline audit: violated exactly, and met exactly on the last day.

Dates are worked out by hand from the State Council notices (see test_calendar).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from audit_fixtures import (
    DEPT,
    entity,
    feedback,
    inspector,
    item,
    licence,
    notification,
    penalty,
    result,
    task,
    tracking,
    uscc,
    write,
)
from audit_fixtures import day as D
from liushuang.audit import data as audit_data
from liushuang.audit.calendar import Calendar
from liushuang.audit.deadlines import STATUSES, audit_deadlines

from liushuang.policy import load_policy

POLICY = load_policy()
CAL = Calendar.load()


def run(path: Path, as_of: str = "2024-12-31"):
    loaded = audit_data.load(path, POLICY, progress=False)
    assert loaded.validation.valid, [i.message for i in loaded.validation.issues]
    return audit_deadlines(loaded, POLICY, CAL, D(as_of))


def statuses(audit, slug: str) -> dict[str, str]:
    r = next(x for x in audit.results if x.rule.slug == slug)
    return {i: STATUSES[s] for i, s in zip(r.ids, r.status)}


def test_claim_on_the_last_day_late_missing_pending(tmp_path):
    # Pushed Fri 2024-09-27: 5 working days → Sun 9-29 (make-up), Mon 9-30, then after National Day 10-8, 10-9, 10-10.
    write(tmp_path, notifications=[
        notification("N-last", "2024-09-27", "2024-10-10"),
        notification("N-late", "2024-09-27", "2024-10-11"),
        notification("N-none", "2024-09-27", None),
        notification("N-pending", "2024-12-27", None),
    ])
    got = statuses(run(tmp_path), "claim")
    assert got == {"N-last": "on_time", "N-late": "late", "N-none": "missing", "N-pending": "pending"}


def test_push_to_every_department_and_commitment(tmp_path):
    write(tmp_path, notifications=[
        notification("N1", "2024-03-01", "2024-03-04", reg="R-ok"),
        notification("N2", "2024-03-01", "2024-03-04", reg="R-gap", item_depts=(DEPT, "大连市卫生健康委员会")),
        notification("N3", "2024-03-01", "2024-03-04", reg="R-nosig", signed=False),
    ])
    audit = run(tmp_path)
    assert statuses(audit, "push-complete") == {"R-ok": "ok", "R-gap": "violation", "R-nosig": "ok"}
    assert statuses(audit, "commitment-signed") == {"N1": "ok", "N2": "ok", "N3": "violation"}


def test_feedback_receipt_and_outcome(tmp_path):
    # Claimed Mon 2024-04-01; 5 working days: 4-3 (4-4..4-6 清明, Sun 4-7 make-up) → 4-2, 4-3, 4-7, 4-8, 4-9.
    write(tmp_path, notifications=[notification(f"N{i}", "2024-04-01", "2024-04-01") for i in range(3)],
          feedback=[feedback("F0", "N0", "接收反馈", "2024-04-09"), feedback("F1", "N1", "接收反馈", "2024-04-10"),
                    feedback("F2", "N0", "结果反馈", "2024-04-29", "不予许可")])
    audit = run(tmp_path)
    assert statuses(audit, "receipt-feedback") == {"N0": "on_time", "N1": "late", "N2": "missing"}
    # Outcome: 20 working days after 4-1 → 4-29 (4-30..5-5 off? no: 5-1..5-5 off, Sun 4-28 make-up).
    assert CAL.add_working_days(D("2024-04-01"), 20) == D("2024-04-29")
    assert statuses(audit, "outcome-feedback") == {"N0": "on_time", "N1": "missing", "N2": "missing"}


def test_follow_up_of_entities_without_permit(tmp_path):
    write(tmp_path, notifications=[notification(f"N{i}", "2024-06-03", "2024-06-03") for i in range(3)],
          feedback=[feedback("F0", "N0", "结果反馈", "2024-06-05", "未申请"),
                    feedback("F1", "N1", "结果反馈", "2024-06-05", "准予许可", "L1"),
                    feedback("F2", "N2", "结果反馈", "2024-06-05", "撤回申请")],
          licenses=[licence("L1", "2024-06-05", "2024-06-06")],
          tracking=[tracking("T0", "N0", str(CAL.add_working_days(D("2024-06-03"), 20)))])
    got = statuses(run(tmp_path), "follow-up")
    assert got == {"N0": "on_time", "N2": "missing"}  # the granted one owes no follow-up


def test_revocation_reported_to_registrar(tmp_path):
    write(tmp_path, licenses=[licence("L-ok", "2024-01-02", "2024-01-03", revoked_on="2024-05-06", revocation_kind="撤销", n=1),
                              licence("L-bad", "2024-01-02", "2024-01-03", revoked_on="2024-05-06", revocation_kind="撤销", n=2)],
          tracking=[tracking("T1", None, "2024-05-06", "许可被撤销后经营", reported="2024-05-08", n=1),
                    tracking("T2", None, "2024-05-06", "许可被吊销后经营", reported=None, n=3)])
    assert statuses(run(tmp_path), "revocation-reported") == {"T1": "ok", "T2": "violation", "L-ok": "ok", "L-bad": "violation"}


def test_publication_within_seven_working_days(tmp_path):
    # Decided Fri 2024-09-27 → 7 working days: 9-29, 9-30, 10-8, 10-9, 10-10, 10-11, Sat 10-12 (make-up).
    assert CAL.add_working_days(D("2024-09-27"), 7) == D("2024-10-12")
    write(tmp_path, licenses=[licence("L-last", "2024-09-27", "2024-10-12"), licence("L-late", "2024-09-27", "2024-10-14")],
          penalties=[penalty("P-last", "2024-09-27", "2024-10-12"), penalty("P-late", "2024-09-27", "2024-10-14"),
                     penalty("P-warning", "2024-09-27", None, kinds=("警告",)),
                     penalty("P-summary", "2024-09-27", None, procedure="简易程序")])
    audit = run(tmp_path)
    assert statuses(audit, "licence-publicity") == {"L-last": "on_time", "L-late": "late"}
    assert statuses(audit, "penalty-publicity") == {"P-last": "on_time", "P-late": "late"}  # exempt ones owe nothing


def test_revoked_decisions_withdrawn_within_three_working_days(tmp_path):
    # Revoked Thu 2024-02-08: 3 working days → 2-9 (除夕 worked), then holiday to 2-17, Sun 2-18, Mon 2-19.
    write(tmp_path, penalties=[
        penalty("P-last", "2024-01-02", "2024-01-03", revoked_on="2024-02-08", revocation_kind="撤销", withdrawn_on="2024-02-19"),
        penalty("P-late", "2024-01-02", "2024-01-03", revoked_on="2024-02-08", revocation_kind="撤销", withdrawn_on="2024-02-20"),
        penalty("P-never", "2024-01-02", "2024-01-03", revoked_on="2024-02-08", revocation_kind="撤销"),
    ])
    assert statuses(run(tmp_path), "revocation-withdrawal") == {"P-last": "on_time", "P-late": "late", "P-never": "missing"}


def test_expired_penalties_withdrawn(tmp_path):
    # A low fine is public for 3 months: published 2024-01-05 → last day 2024-04-05 (清明 holiday 4-4..4-6);
    # taken down by the next working day, Sun 4-7 (make-up).
    write(tmp_path, penalties=[
        penalty("P-ok", "2024-01-04", "2024-01-05", fine_amount_wan=0.1, withdrawn_on="2024-04-07"),
        penalty("P-late", "2024-01-04", "2024-01-05", fine_amount_wan=0.1, withdrawn_on="2024-04-08"),
        penalty("P-still", "2024-01-04", "2024-01-05", fine_amount_wan=0.1),
        penalty("P-long", "2024-01-04", "2024-01-05", fine_amount_wan=50.0),  # 3 years: not due
    ])
    assert statuses(run(tmp_path), "expired-withdrawal") == {"P-ok": "on_time", "P-late": "late", "P-still": "missing", "P-long": "pending"}


def _spot_check(tmp_path, people_result=("ZF1", "ZF2"), published="2024-04-29", extra_items=(), assessments=()):
    members = [(uscc(i), "A") for i in range(1, 4)] + [(uscc(i), "D") for i in range(4, 6)]
    write(tmp_path, entities=[entity(i, "A") for i in range(1, 4)] + [entity(i, "D") for i in range(4, 6)],
          inspectors=[inspector("ZF1"), inspector("ZF2")], inspection_items=[item("SX1"), *[item(x) for x in extra_items]],
          assessments=list(assessments),
          inspection_tasks=[task("T1", "2024-03-01", members, [uscc(1), uscc(4)])],
          inspection_results=[result("T1", uscc(1), "2024-04-01", published, people_result),
                              result("T1", uscc(4), "2024-04-01", "2024-04-30")])


def test_results_published_within_twenty_working_days(tmp_path):
    assert CAL.add_working_days(D("2024-04-01"), 20) == D("2024-04-29")
    _spot_check(tmp_path)
    got = statuses(run(tmp_path), "result-publication")
    assert got == {f"T1/{uscc(1)}": "on_time", f"T1/{uscc(4)}": "late"}


def test_two_inspectors(tmp_path):
    _spot_check(tmp_path, people_result=("ZF1",))
    got = statuses(run(tmp_path), "two-inspectors")
    assert got == {f"T1/{uscc(1)}": "violation", f"T1/{uscc(4)}": "ok"}


def test_every_item_drawn_each_complete_year(tmp_path):
    _spot_check(tmp_path, extra_items=("SX2",))
    assert statuses(run(tmp_path, "2025-01-10"), "item-coverage") == {"SX1@2024": "ok", "SX2@2024": "violation"}
    assert statuses(run(tmp_path, "2024-12-31"), "item-coverage") == {}  # 2024 not complete yet


def test_class_coverage_against_policy_ratios(tmp_path):
    _spot_check(tmp_path)  # A: 1 of 3 inspected (33 % ≥ 1 %), D: 1 of 2 (50 % ≥ 30 %)
    assert statuses(run(tmp_path, "2025-01-10"), "class-coverage") == {"2024-A": "ok", "2024-D": "ok"}


def test_assessment_applied_to_later_draws(tmp_path):
    assessed = {"assessment_id": "PG1", "assessment_type": "信用评估", "subject_type": "主体", "subject": uscc(2), "uscc": uscc(2),
                "assessed_on": "2024-01-10", "level": "D", "department": DEPT}
    _spot_check(tmp_path, assessments=[assessed])  # entity 2 assessed D, but in the frame as A
    audit = run(tmp_path)
    assert statuses(audit, "assessment-applied") == {"T1": "violation"}
    r = next(x for x in audit.results if x.rule.slug == "assessment-applied")
    assert r.details[0] == f"1 个对象未按评估结果分层：{uscc(2)}（评估为 D，名单中为 A）"  # read back from the compact frame
    assessed["level"] = "A"
    _spot_check(tmp_path, assessments=[assessed])
    assert statuses(run(tmp_path), "assessment-applied") == {"T1": "ok"}


def test_loaded_columns_are_compact(tmp_path):
    # A province is ten million rows: day numbers are 32-bit arrays, a repeated value is one
    # object shared by every row and kind that names it, a frame is two index arrays.
    _spot_check(tmp_path)
    loaded = audit_data.load(tmp_path, POLICY, progress=False)
    results, tasks = loaded["inspection_results"], loaded["inspection_tasks"]
    assert results["completed"].typecode == "i" and list(results["completed"]) == [audit_data.day("2024-04-01")] * 2
    assert results["uscc"][0] is next(u for u in loaded["entities"]["uscc"] if u == uscc(1))
    assert results["task_id"][0] is results["task_id"][1] is tasks["task_id"][0]
    frame = tasks["members"][0]
    assert [loaded.usccs[i] for i in frame.entities] == [uscc(i) for i in range(1, 6)]
    assert [frame.names[s] for s in frame.strata] == ["A", "A", "A", "D", "D"]


def test_bunching_on_the_deadline_day(tmp_path):
    rng = random.Random(4)
    notes = []
    # One department claims 40 pushes exactly on the deadline and 5 the day before: backdating pattern.
    for i in range(45):
        pushed = D("2024-05-13") + __import__("datetime").timedelta(days=7 * (i % 20))
        last = CAL.add_working_days(pushed, 5)
        claimed = last if i < 40 else CAL.add_working_days(pushed, 4)
        notes.append(notification(f"N{i:03d}", str(pushed), str(claimed), reg=f"R{i}"))
    # Another claims spread out.
    for i in range(60):
        pushed = D("2024-05-13") + __import__("datetime").timedelta(days=7 * (i % 20))
        notes.append(notification(f"M{i:03d}", str(pushed), str(CAL.add_working_days(pushed, rng.randint(1, 5))), reg=f"S{i}",
                                  dept="大连市卫生健康委员会", item_depts=("大连市卫生健康委员会",)))
    write(tmp_path, notifications=notes)
    audit = run(tmp_path)
    by_dept = {b.department: b for b in audit.bunching if b.rule == "claim"}
    assert by_dept[DEPT].qvalue < 0.001 and by_dept[DEPT].on_deadline == 40
    assert "大连市卫生健康委员会" not in by_dept or by_dept["大连市卫生健康委员会"].qvalue > 0.05


def test_uncovered_year_is_reported_not_guessed(tmp_path):
    write(tmp_path, notifications=[notification("N-2027", "2026-12-29", "2027-01-06"), notification("N-ok", "2026-12-01", "2026-12-02")])
    audit = run(tmp_path, "2027-01-10")
    assert statuses(audit, "claim") == {"N-2027": "not_computable", "N-ok": "on_time"}
    assert any("无法计算" in n for n in audit.notes)


def test_results_do_not_depend_on_record_order(tmp_path, clean_dataset):
    from liushuang.synth.generate import write_dataset

    write_dataset(clean_dataset, tmp_path / "a")
    shuffled = {k: list(v) for k, v in clean_dataset.records.items()}
    for v in shuffled.values():
        random.Random(1).shuffle(v)
    write(tmp_path / "b", **shuffled)
    from liushuang.audit.deadline_report import build

    reports = []
    for d in ("a", "b"):
        audit = run(tmp_path / d, "2026-11-30")
        reports.append(build(audit, []).to_json())
    assert reports[0] == reports[1]


@pytest.mark.parametrize("level,expect", [("high", True), ("info", True)])
def test_fail_on_levels(tmp_path, level, expect):
    from liushuang.audit.deadline_report import build

    write(tmp_path, notifications=[notification("N-none", "2024-03-01", None)])
    report = build(run(tmp_path), [])
    assert report.fails(level) is expect


def test_both_audits_from_one_validation_pass_equal_each_alone(clean_dir: Path):
    from liushuang.audit import run as audit_run

    deadlines, draws = audit_run.load_both(clean_dir, POLICY, progress=False)
    assert draws.validation is deadlines.validation and draws.tasks and len(deadlines["inspection_tasks"]) == len(draws.tasks)
    assert (audit_run.deadlines_report(clean_dir, POLICY, progress=False, loaded=deadlines).to_json()
            == audit_run.deadlines_report(clean_dir, POLICY, progress=False).to_json())
    assert (audit_run.draws_report(clean_dir, POLICY, resamples=19, seed=2, progress=False, loaded=draws).to_json()
            == audit_run.draws_report(clean_dir, POLICY, resamples=19, seed=2, progress=False).to_json())


def test_monthly_tallies_count_each_due_row_in_its_trigger_month():
    from liushuang.audit.deadlines import Rule, RuleResult

    rng = random.Random(9)
    trigger = [rng.choice([audit_data.MISSING, *range(19000, 20500)]) for _ in range(3000)]
    status = [rng.randrange(len(STATUSES)) for _ in trigger]
    result = RuleResult(Rule("r", "双告知", "t", "b", "low"), "notifications", [str(i) for i in range(len(trigger))],
                        ["d"] * len(trigger), np.array(status), trigger=np.array(trigger))
    want: dict[str, dict[str, int]] = {}
    for t, s in zip(trigger, status):
        if t != audit_data.MISSING and STATUSES[s] in ("on_time", "late", "missing"):
            month = want.setdefault(audit_data.iso(t)[:7], {"due": 0, "good": 0})
            month["due"] += 1
            month["good"] += STATUSES[s] == "on_time"
    assert result.monthly() == dict(sorted(want.items())) and list(result.monthly()) == sorted(want)


def test_class_coverage_counts_match_a_loop_over_every_entity_and_year():
    # Counted per class with sorted registration days (a province has millions of entities,
    # over many years); checked against the direct loop over every entity in every year.
    import datetime as dt
    from collections import Counter

    from liushuang.audit.deadlines import _class_coverage

    rng = random.Random(11)
    entities = audit_data.Columns(("uscc", "credit_class", "registered_on"))
    for i in range(2000):
        entities.add((uscc(i), rng.choice(["A", "B", "C", "D", None]), rng.choice([audit_data.MISSING, *range(17000, 20000)])))
    results = audit_data.Columns(("uscc", "completed"))
    for _ in range(3000):
        results.add((uscc(rng.randrange(2100)), rng.randrange(17500, 20100)))  # some codes are no entity's
    as_of = dt.date(2024, 6, 1)
    got = _class_coverage({"entities": entities, "inspection_results": results}, POLICY, as_of)
    klass = dict(zip(entities["uscc"], entities["credit_class"]))
    inspected: dict[int, set[str]] = {}
    for u, c in zip(results["uscc"], results["completed"]):
        inspected.setdefault(int(audit_data.iso(c)[:4]), set()).add(u)
    want = []
    for y in sorted(inspected):
        if dt.date(y, 12, 31) >= as_of:
            continue
        end = (dt.date(y, 12, 31) - dt.date(1970, 1, 1)).days
        sizes = Counter(c for c, reg in zip(entities["credit_class"], entities["registered_on"]) if c and reg <= end)
        hits = Counter(klass[u] for u in inspected[y] if klass.get(u))
        want += [(f"{y}-{c}", f"{hits[c]}/{sizes[c]}") for c in sorted(sizes)]
    assert len(want) > 20
    assert [(i, d.split(" = ")[0].split()[-1]) for i, d in zip(got.ids, got.details)] == want


def test_by_department_groups_rows_as_a_mask_per_department_would():
    from liushuang.audit.deadlines import NOT_COVERED, Rule, RuleResult

    rng = random.Random(5)
    n = 4000
    deps = [rng.choice(["市场监管局", "卫健委", "交通局", "住建局"]) for _ in range(n)]
    status = np.array([rng.randrange(len(STATUSES)) for _ in range(n)])
    delay = np.array([rng.choice([NOT_COVERED, *range(0, 40)]) for _ in range(n)])
    result = RuleResult(Rule("r", "双告知", "t", "b", "low", 5), "notifications", [str(i) for i in range(n)], deps, status, delay=delay)
    arr = np.asarray(deps, dtype=object)
    want = {d: result.summary(arr == d) for d in sorted(set(deps))}
    assert result.by_department() == want and list(result.by_department()) == sorted(want)
    assert sum(s["records"] for s in want.values()) == n and all("median_delay" in s for s in want.values())
