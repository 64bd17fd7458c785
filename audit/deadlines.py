"""Audit the deadlines and duties of all six doubles, in Chinese working days.

Each duty is a :class:`Rule` with its legal basis and policy value. Deadline
rules compare, per record, the trigger date (push, claim, decision, revocation,
completion …) with the date the duty was done, against the N-th working day
after the trigger (``audit.calendar``). Statuses:

- ``on_time`` / ``late``: done, by or after the deadline;
- ``missing``: not done, and the deadline has passed (as of the audit date);
- ``pending``: not done, deadline still ahead;
- ``not_computable``: the calendar lacks a year the deadline needs.

Other duties (a commitment letter, two inspectors, every item drawn …) are
``ok`` or ``violation``. Everything is computed on arrays sorted by record key,
so results do not depend on the order of the input records.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from liushuang.policy import Policy

from .calendar import NOT_COVERED, Calendar, day_number
from .data import MISSING, AuditData, integer_codes, iso

STATUSES = ("on_time", "late", "missing", "pending", "not_computable", "ok", "violation")
GRADES = ("info", "low", "medium", "high")


@dataclass(frozen=True)
class Rule:
    slug: str
    duty: str  # 双告知, 双反馈, …
    title: str  # zh-CN
    basis: str
    severity: str  # grade of a violation of this rule
    working_days: int | None = None  # for deadline rules


@dataclass
class RuleResult:
    rule: Rule
    kind: str  # record kind the rows refer to
    ids: list[str]
    departments: list[str]
    status: np.ndarray  # index into STATUSES
    trigger: np.ndarray | None = None  # day numbers
    deadline: np.ndarray | None = None
    event: np.ndarray | None = None
    delay: np.ndarray | None = None  # working days from trigger to event
    details: list[str] | None = None  # for non-deadline violations
    _departments: dict[str, dict[str, Any]] | None = field(default=None, init=False, repr=False, compare=False)

    def count(self, status: str, rows: np.ndarray | None = None) -> int:
        s = self.status if rows is None else self.status[rows]
        return int(np.count_nonzero(s == STATUSES.index(status)))

    @property
    def violations(self) -> np.ndarray:
        bad = [STATUSES.index(s) for s in ("late", "missing", "violation")]
        return np.flatnonzero(np.isin(self.status, bad))

    def summary(self, rows: np.ndarray | None = None) -> dict[str, Any]:
        """Counts by status, compliance and delays, of all rows or of ``rows`` (a mask or indices)."""
        counts = {s: self.count(s, rows) for s in STATUSES}
        due = counts["on_time"] + counts["late"] + counts["missing"] + counts["ok"] + counts["violation"]
        good = counts["on_time"] + counts["ok"]
        out: dict[str, Any] = {"records": len(self.status if rows is None else self.status[rows]),
                               **{k: v for k, v in counts.items() if v}, "due": due,
                               "compliance": round(good / due, 4) if due else None}
        if self.delay is not None:
            d = self.delay if rows is None else self.delay[rows]
            done = d[(d != NOT_COVERED) & (d > -(10**8))]
            if len(done):
                out["median_delay"] = float(np.median(done))
                out["worst_delay"] = int(done.max())
        return out

    def by_department(self) -> dict[str, dict[str, Any]]:
        """``summary`` per department, sorted by name. The rows are grouped once
        (a province's rule has millions of rows and hundreds of departments)."""
        if self._departments is None:
            codes, code = integer_codes(self.departments)
            order = np.argsort(codes, kind="stable")
            groups = np.split(order, np.cumsum(np.bincount(codes, minlength=len(code)))[:-1])
            self._departments = {d: self.summary(groups[code[d]]) for d in sorted(code)}
        return self._departments

    def monthly(self) -> dict[str, dict[str, int]]:
        """Due and compliant per month of the trigger (deadline rules)."""
        if self.trigger is None:
            return {}
        trigger, status = np.asarray(self.trigger, dtype=np.int64), np.asarray(self.status)
        due = np.isin(status, [STATUSES.index(s) for s in ("on_time", "late", "missing")]) & (trigger != MISSING)
        # Day numbers count from 1970-01-01, as numpy's dates do: months without a loop over the rows.
        months, at = np.unique(trigger[due].astype("datetime64[D]").astype("datetime64[M]"), return_inverse=True)
        dues = np.bincount(at, minlength=len(months))
        goods = np.bincount(at, weights=status[due] == STATUSES.index("on_time"), minlength=len(months))
        return {str(m): {"due": int(d), "good": int(g)} for m, d, g in zip(months, dues, goods)}

    def rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The violating records, sorted: most overdue first."""
        idx = list(self.violations)
        if self.delay is not None:
            idx.sort(key=lambda i: (-int(self.delay[i]) if self.delay[i] != NOT_COVERED else 1, self.ids[i]))
        out = []
        for i in idx[:limit]:
            row: dict[str, Any] = {"kind": self.kind, "id": self.ids[i], "department": self.departments[i],
                                   "status": STATUSES[self.status[i]]}
            if self.trigger is not None:
                row.update(trigger=iso(int(self.trigger[i])), deadline=iso(int(self.deadline[i])) if self.deadline[i] >= 0 else None,
                           done=iso(int(self.event[i])) if self.event[i] != MISSING else None,
                           delay=int(self.delay[i]) if self.delay[i] not in (NOT_COVERED,) and self.event[i] != MISSING else None)
            if self.details is not None:
                row["detail"] = self.details[i]
            out.append(row)
        return out


@dataclass
class Bunching:
    rule: str
    department: str
    on_deadline: int
    day_before: int
    statistic: float  # share on the deadline day among the two
    pvalue: float
    qvalue: float = 1.0


@dataclass
class DeadlineAudit:
    as_of: dt.date
    calendar_version: str
    results: list[RuleResult]
    bunching: list[Bunching] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _deadline_rule(rule: Rule, kind: str, ids: list[str], departments: list[str], trigger: np.ndarray,
                   event: np.ndarray, cal: Calendar, as_of: int) -> RuleResult:
    n = rule.working_days
    assert n is not None
    trigger = np.asarray(trigger, dtype=np.int64)
    event = np.asarray(event, dtype=np.int64)
    deadline = cal.deadlines(trigger, n)
    done = event != MISSING
    computable = deadline >= 0
    status = np.full(len(trigger), STATUSES.index("not_computable"), dtype=np.int8)
    status[computable & done & (event <= deadline)] = STATUSES.index("on_time")
    status[computable & done & (event > deadline)] = STATUSES.index("late")
    status[computable & ~done & (as_of > deadline)] = STATUSES.index("missing")
    status[computable & ~done & (as_of <= deadline)] = STATUSES.index("pending")
    # Not yet triggered as of the audit date: nothing is due, whatever the calendar covers.
    status[~done & (trigger >= as_of)] = STATUSES.index("pending")
    # A late event is late even when its own year is not covered; only the deadline must be.
    delay = np.where(done, cal.working_days_between(trigger, np.where(done, event, trigger)), NOT_COVERED)
    return RuleResult(rule, kind, ids, departments, status, trigger, deadline, event, delay)


def _flag_rule(rule: Rule, kind: str, ids: list[str], departments: list[str], bad: list[bool], details: list[str]) -> RuleResult:
    status = np.where(np.asarray(bad, dtype=bool), STATUSES.index("violation"), STATUSES.index("ok")).astype(np.int8)
    return RuleResult(rule, kind, ids, departments, status, details=details)


def _first_by(keys: list[str], values: list[int], wanted: set[str] | None = None) -> dict[str, int]:
    """Earliest value per key."""
    out: dict[str, int] = {}
    for k, v in zip(keys, values):
        if (wanted is None or k in wanted) and (k not in out or v < out[k]):
            out[k] = v
    return out


def audit_deadlines(data: AuditData, policy: Policy, cal: Calendar, as_of: dt.date) -> DeadlineAudit:
    d = policy.raw["deadlines"]
    today = day_number(as_of)
    results: list[RuleResult] = []
    R = Rule

    # --- 双告知 ---------------------------------------------------------------------
    notes = data["notifications"]
    by_reg: dict[str, tuple[set[str], set[str], str]] = {}
    for reg, dept, need in zip(notes["registration_id"], notes["department"], notes["item_departments"]):
        required, pushed, _ = by_reg.setdefault(reg, (set(), set(), dept))
        required.update(need)
        pushed.add(dept)
    regs = sorted(by_reg)
    results.append(_flag_rule(
        R("push-complete", "双告知", "登记信息推送至全部审批部门", "双告知：登记机关将涉及后置审批事项的登记信息推送至有关审批部门 (DOMAIN.md §1)", "high"),
        "notifications", regs, [", ".join(sorted(by_reg[r][0] - by_reg[r][1])) or by_reg[r][2] for r in regs],
        [bool(by_reg[r][0] - by_reg[r][1]) for r in regs],
        [f"未推送至：{'、'.join(sorted(by_reg[r][0] - by_reg[r][1]))}" if by_reg[r][0] - by_reg[r][1] else "" for r in regs]))
    results.append(_flag_rule(
        R("commitment-signed", "双告知", "申请人签署承诺书", "双告知：申请人签署告知承诺书 (DOMAIN.md §1)", "medium"),
        "notifications", notes["notification_id"], notes["department"], [not s for s in notes["commitment_signed"]],
        ["未签署承诺书" if not s else "" for s in notes["commitment_signed"]]))
    results.append(_deadline_rule(
        R("claim", "双告知", f"推送后 {d['claim_working_days']} 个工作日内认领", "双告知：审批部门在规定时限内认领推送信息（本市规定 5 个工作日，他省多为 15 个；可配置）",
          "high", d["claim_working_days"]),
        "notifications", notes["notification_id"], notes["department"], notes.array("pushed"), notes.array("claimed"), cal, today))

    # --- 双反馈 ---------------------------------------------------------------------
    fb = data["feedback"]
    claimed = [i for i, c in enumerate(notes["claimed"]) if c != MISSING]
    claimed_ids = [notes["notification_id"][i] for i in claimed]
    claimed_set = set(claimed_ids)
    receipts = _first_by([n for n, t in zip(fb["notification_id"], fb["feedback_type"]) if t == "接收反馈"],
                         [v for v, t in zip(fb["fed_back"], fb["feedback_type"]) if t == "接收反馈"], claimed_set)
    outcomes = _first_by([n for n, t in zip(fb["notification_id"], fb["feedback_type"]) if t == "结果反馈"],
                         [v for v, t in zip(fb["fed_back"], fb["feedback_type"]) if t == "结果反馈"], claimed_set)
    claim_days = np.array([notes["claimed"][i] for i in claimed], dtype=np.int64)
    claim_depts = [notes["department"][i] for i in claimed]
    results.append(_deadline_rule(
        R("receipt-feedback", "双反馈", f"认领后 {d['receipt_feedback_working_days']} 个工作日内反馈接收情况", "双反馈：审批部门反馈接收情况（时限为策略默认值）",
          "medium", d["receipt_feedback_working_days"]),
        "notifications", claimed_ids, claim_depts, claim_days, np.array([receipts.get(n, MISSING) for n in claimed_ids], dtype=np.int64), cal, today))
    results.append(_deadline_rule(
        R("outcome-feedback", "双反馈", f"认领后 {d['outcome_feedback_working_days']} 个工作日内反馈办理结果",
          "双反馈：反馈许可办理结果；行政许可法第四十二条（二十日内作出决定）、第八十二条（期限以工作日计算）", "medium", d["outcome_feedback_working_days"]),
        "notifications", claimed_ids, claim_depts, claim_days, np.array([outcomes.get(n, MISSING) for n in claimed_ids], dtype=np.int64), cal, today))

    # --- 双跟踪 ---------------------------------------------------------------------
    tr = data["tracking"]
    granted = {n for n, t, o in zip(fb["notification_id"], fb["feedback_type"], fb["outcome"]) if t == "结果反馈" and o == "准予许可"}
    follow = [i for i in claimed if notes["notification_id"][i] not in granted]
    follow_ids = [notes["notification_id"][i] for i in follow]
    first_action = _first_by([n or "" for n in tr["notification_id"]], tr["action_on"], set(follow_ids))
    results.append(_deadline_rule(
        R("follow-up", "双跟踪", f"未取得许可的认领对象 {d['tracking_working_days']} 个工作日内跟踪核查",
          "双跟踪：照后证前，对未取得许可的市场主体跟踪核查，谁审批谁监管（时限为策略默认值）", "high", d["tracking_working_days"]),
        "notifications", follow_ids, [notes["department"][i] for i in follow],
        np.array([notes["claimed"][i] for i in follow], dtype=np.int64),
        np.array([first_action.get(n, MISSING) for n in follow_ids], dtype=np.int64), cal, today))
    revocation_findings = {"许可被吊销后经营", "许可被撤销后经营", "许可被注销后经营"}
    rev = [i for i, f in enumerate(tr["finding"]) if f in revocation_findings]
    lic = data["licenses"]
    reported_by_entity = _first_by([u for u, r in zip(tr["uscc"], tr["reported"]) if r != MISSING],
                                   [r for r in tr["reported"] if r != MISSING])
    revoked_lic = [i for i, r in enumerate(lic["revoked"]) if r != MISSING and lic["uscc"][i]]
    results.append(_flag_rule(
        R("revocation-reported", "双跟踪", "许可被撤销、吊销的，告知登记机关", "双跟踪：许可被撤销、吊销、注销的，审批部门告知登记机关，由其责令变更经营范围或办理注销 (DOMAIN.md §1)", "medium"),
        "tracking", [tr["tracking_id"][i] for i in rev] + [lic["decision_number"][i] for i in revoked_lic],
        [tr["department"][i] for i in rev] + [lic["authority"][i] for i in revoked_lic],
        [tr["reported"][i] == MISSING for i in rev] + [reported_by_entity.get(lic["uscc"][i], MISSING) < lic["revoked"][i] for i in revoked_lic],
        ["跟踪发现许可被撤销/吊销后仍经营，未告知登记机关"] * len(rev) + ["许可已撤销，未见告知登记机关的记录"] * len(revoked_lic)))

    # --- 双公示 ---------------------------------------------------------------------
    pen = data["penalties"]
    owed = [i for i, e in enumerate(pen["exempt"]) if e is None]
    results.append(_deadline_rule(
        R("licence-publicity", "双公示", f"行政许可决定 {d['publicity_working_days']} 个工作日内公示", "双公示：行政许可决定自作出之日起 7 个工作日内公示 (DOMAIN.md §1)",
          "medium", d["publicity_working_days"]),
        "licenses", lic["decision_number"], lic["authority"], lic.array("decided"), lic.array("published"), cal, today))
    results.append(_deadline_rule(
        R("penalty-publicity", "双公示", f"行政处罚决定 {d['publicity_working_days']} 个工作日内公示", "双公示：行政处罚决定自作出之日起 7 个工作日内公示（仅警告和简易程序的除外）(DOMAIN.md §1, §4)",
          "medium", d["publicity_working_days"]),
        "penalties", [pen["decision_number"][i] for i in owed], [pen["authority"][i] for i in owed],
        np.array([pen["decided"][i] for i in owed], dtype=np.int64), np.array([pen["published"][i] for i in owed], dtype=np.int64), cal, today))
    w_ids, w_deps, w_trig, w_event = [], [], [], []
    for table in (lic, pen):
        for i, r in enumerate(table["revoked"]):
            if r != MISSING and table["published"][i] != MISSING:
                w_ids.append(table["decision_number"][i])
                w_deps.append(table["authority"][i])
                w_trig.append(max(r, table["published"][i]))
                w_event.append(table["withdrawn"][i])
    results.append(_deadline_rule(
        R("revocation-withdrawal", "双公示", f"撤销、变更的决定 {d['withdrawal_working_days']} 个工作日内撤下公示",
          "行政处罚法第四十八条（三日内撤回公开）、第八十五条（“三日”指工作日）", "high", d["withdrawal_working_days"]),
        "decisions", w_ids, w_deps, np.array(w_trig, dtype=np.int64), np.array(w_event, dtype=np.int64), cal, today))
    exp = [i for i, e in enumerate(pen["publicity_end"]) if e != MISSING and pen["revoked"][i] == MISSING and pen["published"][i] != MISSING]
    results.append(_deadline_rule(
        R("expired-withdrawal", "双公示", "公示期满后下一个工作日撤下", "公示期满的处罚信息应停止公示（市场监管总局 2021 年行政处罚信息公示规定；信用中国 3 个月至 3 年；DOMAIN.md §4）", "high", 1),
        "penalties", [pen["decision_number"][i] for i in exp], [pen["authority"][i] for i in exp],
        np.array([pen["publicity_end"][i] for i in exp], dtype=np.int64), np.array([pen["withdrawn"][i] for i in exp], dtype=np.int64), cal, today))

    # --- 双评估 ---------------------------------------------------------------------
    results.append(_assessments_applied(data))

    # --- 双随机、一公开 ---------------------------------------------------------------
    res = data["inspection_results"]
    task_dept = dict(zip(data["inspection_tasks"]["task_id"], data["inspection_tasks"]["department"]))
    res_depts = [task_dept.get(t, "未知部门") for t in res["task_id"]]
    results.append(_deadline_rule(
        R("result-publication", "双随机一公开", f"检查完成后 {d['result_publication_working_days']} 个工作日内公示结果", "一公开：抽查结果及时向社会公开（20 个工作日为策略默认值）",
          "medium", d["result_publication_working_days"]),
        "inspection_results", res["key"], res_depts, res.array("completed"), res.array("published"), cal, today))
    min_insp = int(policy.raw["inspections"]["min_inspectors"])
    results.append(_flag_rule(
        R("two-inspectors", "双随机一公开", f"每次检查至少 {min_insp} 名执法人员", "行政处罚法第四十二条：执法人员不得少于两人", "high"),
        "inspection_results", res["key"], res_depts, [n < min_insp for n in res["n_inspectors"]],
        [f"仅 {n} 名检查人员" if n < min_insp else "" for n in res["n_inspectors"]]))
    results.append(_items_covered(data, as_of))
    results.append(_class_coverage(data, policy, as_of))

    audit = DeadlineAudit(as_of, cal.version, results)
    audit.bunching = _bunching(results, cal, policy)
    not_comp = sum(r.count("not_computable") for r in results)
    if not_comp:
        audit.notes.append(f"{not_comp} 条记录的期限落在工作日历未覆盖的年份，无法计算（未作推测）；覆盖年份："
                           f"{min(cal.years)}–{max(cal.years)}。")
    return audit


def _assessments_applied(data: AuditData) -> RuleResult:
    """A credit assessment sets the entity's class: later draws must put the
    entity in that stratum, else it was drawn at the wrong ratio."""
    a = data["assessments"]
    latest: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for t, st, u, lvl, on, until in zip(a["assessment_type"], a["subject_type"], a["uscc"], a["level"], a["assessed"], a["valid_until"]):
        if t == "信用评估" and st == "主体" and u:
            latest[u].append((on, lvl, until))
    for v in latest.values():
        v.sort()
    tasks = data["inspection_tasks"]
    # Only frame members with an assessment can be in the wrong stratum: find them by index.
    assessed = np.zeros(len(data.usccs), bool)  # per entity: a look-up per member, not a set operation per frame
    assessed[[i for i, u in enumerate(data.usccs) if u in latest]] = True
    ids, deps, bad, details = [], [], [], []
    for task_id, dept, drawn, frame in zip(tasks["task_id"], tasks["department"], tasks["drawn"], tasks["members"]):
        wrong = []
        for pos in np.flatnonzero(assessed[frame.entities]):
            uscc, stratum = data.usccs[frame.entities[pos]], frame.names[frame.strata[pos]]
            current = [h for h in latest[uscc] if h[0] <= drawn and (h[2] == MISSING or h[2] >= drawn)]
            if current and current[-1][1] != stratum:
                wrong.append(f"{uscc}（评估为 {current[-1][1]}，名单中为 {stratum}）")
        ids.append(task_id)
        deps.append(dept)
        bad.append(bool(wrong))
        details.append(f"{len(wrong)} 个对象未按评估结果分层：" + "；".join(wrong[:5]) + ("…" if len(wrong) > 5 else "") if wrong else "")
    return _flag_rule(Rule("assessment-applied", "双评估", "抽查分层采用最新信用评估结果", "双评估：评估结果决定抽查比例和频次 (DOMAIN.md §1, §5)", "medium"),
                      "inspection_tasks", ids, deps, bad, details)


def _items_covered(data: AuditData, as_of: dt.date) -> RuleResult:
    """Every item on the list drawn at least once in each complete year (全覆盖)."""
    items = data["inspection_items"]
    tasks = data["inspection_tasks"]
    drawn_years: dict[str, set[int]] = defaultdict(set)
    years = set()
    for its, drawn in zip(tasks["items"], tasks["drawn"]):
        y = int(iso(drawn)[:4])
        years.add(y)
        for it in its:
            drawn_years[it].add(y)
    complete = sorted(y for y in years if dt.date(y, 12, 31) < as_of)
    ids, deps, bad, details = [], [], [], []
    for item, name, dept in zip(items["item_id"], items["name"], items["department"]):
        for y in complete:
            ids.append(f"{item}@{y}")
            deps.append(dept)
            missing = y not in drawn_years[item]
            bad.append(missing)
            details.append(f"{y} 年未抽查事项“{name}”" if missing else "")
    return _flag_rule(Rule("item-coverage", "双随机一公开", "抽查事项清单每年全覆盖", "一单两库一细则：抽查事项清单内的事项每年至少抽查一次（全覆盖，策略默认）", "medium"),
                      "inspection_items", ids, deps, bad, details)


def _years(days: np.ndarray) -> np.ndarray:
    """Calendar year of each day number (numpy's dates count from 1970-01-01 too)."""
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _class_coverage(data: AuditData, policy: Policy, as_of: dt.date) -> RuleResult:
    """Share of each credit class inspected per complete year against the policy ratios."""
    ratios = policy.raw["inspections"]["class_ratios"]
    ent = data["entities"]
    res = data["inspection_results"]
    klass = dict(zip(ent["uscc"], ent["credit_class"]))
    completed = res.array("completed")
    inspected: dict[int, set[str]] = defaultdict(set)
    for u, y, c in zip(res["uscc"], _years(completed).tolist(), completed.tolist(), strict=True):
        if c != MISSING:
            inspected[y].add(u)
    # Entities registered by a year's end, per class: one sorted array of registration
    # days per class, counted by binary search (a province has millions of entities).
    classes = np.array([c or "" for c in ent["credit_class"]], dtype=object)
    registered = ent.array("registered_on")
    by_class = {c: np.sort(registered[classes == c]) for c in sorted(set(classes.tolist()) - {""})}
    ids, deps, bad, details = [], [], [], []
    for y in sorted(inspected):
        if dt.date(y, 12, 31) >= as_of:
            continue
        end = day_number(dt.date(y, 12, 31))
        hits = Counter(klass[u] for u in inspected[y] if klass.get(u))
        for c, days in by_class.items():
            size = int(np.searchsorted(days, end, side="right"))
            if not size:
                continue
            share = hits[c] / size
            want = float(ratios.get(c, 0))
            ids.append(f"{y}-{c}")
            deps.append("全市")
            bad.append(share < want)
            details.append(f"{y} 年 {c} 类抽查 {hits[c]}/{size} = {share:.1%}，要求 ≥ {want:.0%}")
    return _flag_rule(Rule("class-coverage", "双随机一公开", "各信用风险类别的年度抽查比例", "双评估结果运用：高风险 30%、较高 10%、一般 2%、低 1%（一省标准，策略默认；DOMAIN.md §5）", "medium"),
                      "entities", ids, deps, bad, details)


def _bunching(results: list[RuleResult], cal: Calendar, policy: Policy) -> list[Bunching]:
    """Excess of events exactly on the deadline day, per rule and department.

    Without backdating, an event is no more likely on the last permitted
    working day than on the one before (delay distributions fall with time),
    so among events on either day the share on the deadline day is at most
    1/2: a one-sided exact binomial test, Benjamini-Hochberg across tests.
    """
    cfg = policy.raw["bunching"]
    out: list[Bunching] = []
    for r in results:
        if r.trigger is None or r.rule.working_days is None or r.rule.working_days < 2:
            continue
        before = cal.deadlines(r.trigger, r.rule.working_days - 1)
        on = (r.event == r.deadline) & (r.deadline >= 0)
        prev = (r.event == before) & (before >= 0)
        deps = np.asarray(r.departments, dtype=object)
        for dep in sorted(set(r.departments)):
            m = deps == dep
            k_on, k_prev = int(np.count_nonzero(on & m)), int(np.count_nonzero(prev & m))
            if k_on + k_prev < int(cfg["min_events"]):
                continue
            p = stats.binomtest(k_on, k_on + k_prev, 0.5, alternative="greater").pvalue
            out.append(Bunching(r.rule.slug, dep, k_on, k_prev, k_on / (k_on + k_prev), float(p)))
    if out:
        q = stats.false_discovery_control([b.pvalue for b in out], method="bh")
        for b, qv in zip(out, q):
            b.qvalue = float(qv)
    return out
