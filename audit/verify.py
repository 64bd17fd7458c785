"""Exact verification of each spot-check draw (AUDIT-METHOD.md §1, step 6).

A draw recorded with its algorithm and seed is re-derived and must match to
the last entity and inspector; the commitment, the seed derivation and the
order of events are checked too. A draw without algorithm or seed is **not
verifiable**: that is itself a finding, and only the roster checks and the
statistics apply to it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from liushuang.generator.report import Report

from liushuang import parallel

from . import draw as drawing
from .calendar import from_day_number
from .draw_data import MISSING, DrawData, TaskDraw

FAILURES = {
    # slug: (title, grade)
    "not-verifiable": ("抽取无法复核（未记录算法或种子）", "medium"),
    "unknown-algorithm": ("抽取算法未知", "medium"),
    "no-commitment": ("抽取前未公布承诺哈希", "medium"),
    "commitment-mismatch": ("承诺哈希与名单、样本量、人员库不符", "high"),
    "frame-hash-mismatch": ("名单哈希与名单不符", "high"),
    "seed-mismatch": ("随机种子不是由承诺和公开随机数导出", "high"),
    "event-order": ("承诺、种子、抽取、公告的时间顺序错误", "high"),
    "selection-mismatch": ("按种子复算的抽中对象与记录不符", "high"),
    "assignment-mismatch": ("按种子复算的检查人员与记录不符", "high"),
    "ratio-mismatch": ("抽取数量与申报比例不符", "medium"),
    "frame-not-in-roster": ("名单中有不在检查对象名录库的主体", "high"),
    "frame-inactive-entity": ("名单中有已注销、吊销或迁出的主体", "low"),
    "inspector-not-on-roster": ("检查人员不在执法检查人员名录库", "high"),
    "inspector-inactive": ("检查人员抽取时不在库", "high"),
    "inspector-wrong-department": ("检查人员不属于任务部门", "medium"),
    "too-few-inspectors": ("每户检查人员少于两名", "high"),
    "inspector-recused": ("分配了应回避的检查人员", "high"),
    "redraw-unjustified": ("重新抽取未说明理由或编号不连续", "high"),
    "redrawn": ("存在重新抽取", "medium"),
}
INACTIVE = {"注销", "吊销", "迁出", "撤销"}


@dataclass
class Verdict:
    task_id: str
    department: str
    status: str  # verified | failed | not_verifiable
    failures: list[tuple[str, str]] = field(default_factory=list)  # (slug, message)
    algorithm: str = ""

    def slugs(self) -> set[str]:
        return {s for s, _ in self.failures}


def _instant(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    if len(value) == 10:
        return dt.datetime.fromisoformat(value + "T23:59:59+08:00")
    return dt.datetime.fromisoformat(value)


def _ratio_ok(size: int, n: int, ratio: float | None) -> bool:
    if ratio is None:
        return True
    target = ratio * size
    allowed = {math.floor(target), math.ceil(target), round(target)}
    if target > 0:
        allowed.add(1)  # at least one where the stratum has members
    return n in {min(a, size) for a in allowed}


def design_of(task: TaskDraw, data: DrawData) -> drawing.DrawDesign:
    pool = task.inspector_pool
    if pool is None:  # not recorded: the department's inspectors on the roster at the draw
        pool = tuple(sorted(i for i, r in data.inspectors.items() if r.department == task.department
                            and r.active_from <= task.drawn and (r.active_to == MISSING or r.active_to >= task.drawn)))
    recusals = {i: data.inspectors[i].recusals for i in pool if i in data.inspectors and data.inspectors[i].recusals}
    frame = tuple((data.usccs[e], task.strata_names[s]) for e, s in zip(task.frame.tolist(), task.frame_strata.tolist()))
    return drawing.DrawDesign(task.task_id, frame, {s: n for s, _, n, _ in task.declared}, tuple(pool),
                              task.inspectors_per_entity, (task.seed or {}).get("source", ""), recusals,
                              task.algorithm or (drawing.ALGORITHM_ID, drawing.ALGORITHM_VERSION))


def verify(task: TaskDraw, data: DrawData) -> Verdict:
    v = Verdict(task.task_id, task.department, "verified", algorithm=" ".join(task.algorithm) if task.algorithm else "")
    fail = v.failures.append
    _roster_checks(task, data, fail)
    if task.algorithm is None or not task.seed:
        fail(("not-verifiable", "平台未记录抽取算法及其版本或随机种子，任何人都无法复算本次抽取"))
        v.status = "not_verifiable"
        return v
    if task.algorithm not in drawing.ALGORITHMS:
        fail(("unknown-algorithm", f"算法“{task.algorithm[0]} {task.algorithm[1]}”不在可复算的算法之列"))
        v.status = "not_verifiable"
        return v
    design = design_of(task, data)
    if task.frame_hash and task.frame_hash != drawing.frame_hash(design.frame):
        fail(("frame-hash-mismatch", "记录的名单哈希与名单成员计算所得不一致"))
    commit = (task.commitment or {}).get("hash")
    if not commit:
        fail(("no-commitment", "抽取前未公布承诺哈希，无法证明名单和样本量在种子产生前已确定"))
    elif commit != drawing.commitment(design):
        fail(("commitment-mismatch", "承诺哈希与按名单、分层样本量、人员库、回避关系和种子来源计算所得不一致"))
    public = task.seed.get("public_values") or []
    if commit and public and drawing.derive_seed(commit, public) != task.seed["value"]:
        fail(("seed-mismatch", "种子不等于 SHA-256（承诺哈希 | 公开随机数），可能由一方单独决定"))
    times = [("承诺", _instant((task.commitment or {}).get("committed_at"))), ("种子", _instant(task.seed.get("derived_at"))),
             ("抽取", _instant(task.drawn_at))]
    known = [(n, t) for n, t in times if t is not None]
    # The commitment must precede all randomness strictly; the seed may be derived in the same step as the draw.
    for (n1, t1), (n2, t2) in zip(known, known[1:]):
        if t1 > t2 or (n1 == "承诺" and t1 == t2):
            fail(("event-order", f"{n1}时间（{t1.isoformat()}）不早于{n2}时间（{t2.isoformat()}）"))
    if task.notice != MISSING and _instant(task.drawn_at).date() > from_day_number(task.notice):
        fail(("event-order", "公告日期早于抽取时间"))
    try:
        result = drawing.draw(design, task.seed["value"])
    except ValueError as exc:
        fail(("selection-mismatch", f"无法按记录的设计复算：{exc}"))
    else:
        recorded = [data.usccs[e] for e in task.selections.tolist()]
        derived = [u for u, _ in result.selections]
        if recorded != derived:
            extra, missing = sorted(set(recorded) - set(derived)), sorted(set(derived) - set(recorded))
            detail = f"多出 {len(extra)} 个（{'、'.join(extra[:3])}），缺少 {len(missing)} 个（{'、'.join(missing[:3])}）" if extra or missing else "顺序不同"
            fail(("selection-mismatch", f"复算的抽中对象与记录不一致：{detail}"))
        else:
            derived_people = {u: set(p) for u, p in result.assignments}
            wrong = [data.usccs[e] for e, people in task.assignments if derived_people.get(data.usccs[e]) != set(people)]
            if wrong:
                fail(("assignment-mismatch", f"{len(wrong)} 户的检查人员与复算结果不一致（如 {'、'.join(wrong[:3])}）"))
    if any(s not in ("redrawn", "frame-inactive-entity") and FAILURES[s][1] in ("high", "medium") for s in v.slugs()):
        v.status = "failed"
    return v


def _verify_range(bounds: tuple[int, int]) -> list[Verdict]:
    data: DrawData = parallel.shared()
    return [verify(t, data) for t in data.tasks[bounds[0]:bounds[1]]]


def tasks_part(data: DrawData, bounds: tuple[int, int]) -> tuple[tuple[int, int], DrawData]:
    """A range of tasks with only the entities they name, renumbered: what a Dask
    worker needs to verify them. (Every worker receiving a province's whole
    DrawData would hold a copy of it each, on top of the client's.)"""
    tasks = data.tasks[bounds[0]:bounds[1]]
    assigned = [np.array([e for e, _ in t.assignments], np.int64) for t in tasks]
    named = [t.frame for t in tasks] + [t.selections for t in tasks] + assigned
    used = np.unique(np.concatenate(named).astype(np.int64)) if named else np.zeros(0, np.int64)

    def local(e: np.ndarray) -> np.ndarray:
        return np.searchsorted(used, e).astype(e.dtype)

    departments = {t.department for t in tasks}
    people = {p for t in tasks for p in t.inspector_pool or ()} | {p for t in tasks for _, ps in t.assignments for p in ps}
    inspectors = {i: r for i, r in data.inspectors.items() if i in people or r.department in departments}
    part = DrawData([data.usccs[e] for e in used.tolist()], {}, data.in_roster[used],
                    {"status": [data.attributes["status"][e] for e in used.tolist()]}, inspectors,
                    [replace(t, frame=local(t.frame), selections=local(t.selections),
                             assignments=[(e, people) for e, (_, people) in zip(local(a).tolist(), t.assignments)])
                     for t, a in zip(tasks, assigned)],
                    Report(""))
    return (0, len(tasks)), part


def verify_all(data: DrawData, workers: int | None = None) -> list[Verdict]:
    """Every task's verdict, in task order; draws are independent, so large
    audits spread them over worker processes (forked: they share ``data``),
    or over the Dask engine's workers, each sent its own tasks alone."""
    step = max(1, len(data.tasks) // 16)
    ranges = [(i, min(i + step, len(data.tasks))) for i in range(0, len(data.tasks), step)]
    big = sum(len(t.frame) for t in data.tasks) >= 2_000_000
    return [v for chunk in parallel.fork_map(_verify_range, ranges, data, parallel=big, workers=workers, part=tasks_part,
                                             frozen=True) for v in chunk]


def _roster_checks(task: TaskDraw, data: DrawData, fail: Any) -> None:
    outside = [data.usccs[e] for e in task.frame.tolist() if not data.in_roster[e]]
    if outside:
        fail(("frame-not-in-roster", f"{len(outside)} 个名单成员不在名录库：{'、'.join(outside[:5])}" + ("…" if len(outside) > 5 else "")))
    status = data.attributes["status"]
    inactive = [data.usccs[e] for e in task.frame.tolist() if data.in_roster[e] and status[e] in INACTIVE]
    if inactive:
        fail(("frame-inactive-entity", f"{len(inactive)} 个名单成员已注销、吊销或迁出：{'、'.join(inactive[:5])}"))
    for stratum, size, n, ratio in task.declared:
        if not _ratio_ok(size, n, ratio):
            fail(("ratio-mismatch", f"层“{stratum}”{size} 户按比例 {ratio:.2%} 应抽 {ratio * size:.1f} 户，实抽 {n} 户"))
    for e, people in task.assignments:
        u = data.usccs[e]
        if len(set(people)) < 2:
            fail(("too-few-inspectors", f"“{u}”仅分配 {len(set(people))} 名检查人员（行政处罚法第四十二条）"))
        for p in people:
            r = data.inspectors.get(p)
            if r is None:
                fail(("inspector-not-on-roster", f"检查人员“{p}”不在名录库"))
                continue
            if r.active_from > task.drawn or (r.active_to != MISSING and r.active_to < task.drawn):
                fail(("inspector-inactive", f"检查人员“{p}”在抽取日不在库"))
            if r.department not in task.departments:
                fail(("inspector-wrong-department", f"检查人员“{p}”属于{r.department}，不在任务部门之列"))
            if u in r.recusals:
                fail(("inspector-recused", f"检查人员“{p}”应回避“{u}”，却被分配检查"))
    if task.redraws:
        counters = [r.get("counter") for r in task.redraws]
        unjustified = [r for r in task.redraws if not str(r.get("reason", "")).strip()]
        if unjustified or counters != list(range(1, len(counters) + 1)):
            fail(("redraw-unjustified", f"{len(task.redraws)} 次重新抽取中，编号或理由不完整"))
        fail(("redrawn", f"重新抽取 {len(task.redraws)} 次：" + "；".join(str(r.get("reason")) for r in task.redraws[:3])))
