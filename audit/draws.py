"""The draws audit: exact verification of every draw, then statistics across
all draws with stated power (AUDIT-METHOD.md §1-§3)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from liushuang import parallel
from liushuang.progress import Steps

from . import stats as S
from .data import integer_codes, iso
from .draw_data import DrawData
from .verify import FAILURES, Verdict, verify_all

ALPHA = 0.05
CLASS_ZH = {"A": "A 类（低风险）", "B": "B 类（一般风险）", "C": "C 类（较高风险）", "D": "D 类（高风险）"}


@dataclass
class DrawsAudit:
    verdicts: list[Verdict]
    global_tests: list[S.TestResult]
    groups: list[S.TestResult]
    inspector_groups: list[S.TestResult]
    entity_leads: list[dict[str, Any]]
    pairs: list[S.TestResult]
    pairing_info: dict[str, Any]
    workload: list[S.TestResult]
    power: list[dict[str, Any]]
    entity_pvalues: np.ndarray  # upper-tail p of every exposed entity, for the histogram
    by_class: list[tuple[str, float, float]]  # class, observed, expected
    resamples: int
    seed: int
    families: dict[str, tuple[float, float]] = field(default_factory=dict)  # family -> (p, Holm-adjusted p)
    notes: list[str] = field(default_factory=list)

    def flagged(self, family: str, alpha: float = ALPHA) -> bool:
        return family in self.families and self.families[family][1] < alpha


def read_groups(paths: tuple[Path, ...]) -> dict[str, set[str]]:
    """User group files: one USCC per line (or the first CSV column); the name is the file stem."""
    out = {}
    for path in paths:
        text = path.read_text(encoding="utf-8-sig")
        out[path.stem] = {line.split(",")[0].strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}
    return out


def audit_draws(data: DrawData, *, resamples: int = 999, seed: int = 0, user_groups: dict[str, set[str]] | None = None,
                alpha: float = ALPHA, verdicts: list[Verdict] | None = None,
                echo: Callable[[str], None] | None = None) -> DrawsAudit:
    """Verify every draw (unless ``verdicts`` are given), then the statistics;
    each step announced on ``echo`` (a province's take minutes each)."""
    step = Steps(echo)
    if verdicts is None:
        with step("verify", f"逐次复算抽取（{len(data.tasks)} 次）"):
            verdicts = verify_all(data)
    with step("null", "抽取统计：设计与零假设模型"):
        design, observed = S.design_from(data)
        null = S.NullModel(design)

    # Global tests (Holm): diffuse favouritism, entities never drawn, list order.
    with step("monte-carlo", f"抽取统计：蒙特卡罗重抽 {resamples} 次"):
        t_sim, z_sim = monte_carlo(design, null, resamples, seed)
    t_obs = S.diffuse_statistic(null, observed.counts)
    z_obs = S.zeros_statistic(null, observed.counts)
    global_tests = [
        S.TestResult("diffuse", t_obs, float((1 + np.count_nonzero(t_sim >= t_obs)) / (resamples + 1)),
                     t_obs / float(t_sim.mean()) if len(t_sim) and t_sim.mean() else None, {"simulated_mean": float(t_sim.mean()) if len(t_sim) else None}),
        S.TestResult("zeros", float(z_obs), float((1 + np.count_nonzero(z_sim >= z_obs)) / (resamples + 1)),
                     z_obs / float(z_sim.mean()) if len(z_sim) and z_sim.mean() else None, {"simulated_mean": float(z_sim.mean()) if len(z_sim) else None}),
        S.order_test(design, observed),
    ]
    for test, adj in zip(global_tests, S.holm([t.pvalue for t in global_tests])):
        test.adjusted = adj

    with step("groups", "抽取统计：分组、检查人员与单个主体的检验"):
        groups, inspector_groups, leads, entity_p, entity_q = _group_tests(data, design, observed, null, user_groups, alpha)
    with step("pairs", "抽取统计：人员配对与工作量检验"):
        pairs, pair_info = S.pairing_test(design, observed, alpha)
        workload = S.workload_test(design, observed)
        for w, q in zip(workload, S.bh(np.array([w.pvalue for w in workload]))):
            w.adjusted = float(q)
    with step("power", "抽取统计：检验力"):
        power = power_statements(null, design, data, alpha, len(groups), pair_info)

    classes = np.array([v or "" for v in data.attributes["credit_class"]], dtype=object)
    by_class = [(c, float(observed.counts[classes == c].sum()), float(null.mean[classes == c].sum())) for c in sorted(set(classes.tolist()) - {""})]
    fam = S.family_pvalues(global_tests, groups, entity_q, pairs, workload)
    fam["inspector_groups"] = float(min([g.adjusted for g in inspector_groups if g.adjusted is not None], default=1.0))
    adjusted = S.holm(list(fam.values()))
    audit = DrawsAudit(verdicts, global_tests, groups, inspector_groups, leads, pairs, pair_info, workload,
                       power, entity_p, by_class, resamples, seed,
                       {k: (v, a) for (k, v), a in zip(fam.items(), adjusted)})
    nv = sum(v.status == "not_verifiable" for v in verdicts)
    if nv:
        audit.notes.append(f"{nv} 次抽取未记录算法或种子，无法逐一复核，只能用统计方法检验（统计方法只能发现较大或成组的偏差）。")
    return audit


def _group_tests(data: DrawData, design: S.Design, observed: S.Observed, null: S.NullModel, user_groups: dict[str, set[str]] | None,
                 alpha: float) -> tuple[list[S.TestResult], list[S.TestResult], list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Named groups, inspectors' groups and the entity scan: the tests, the leads, and
    each exposed entity's upper-tail p and smaller q."""
    # Named groups (BH): districts, industries, credit classes, recusal-related entities, user groups.
    groups: list[S.TestResult] = []
    n = design.n_entities
    for attr, label in (("region_code", "区域"), ("industry_code", "行业"), ("credit_class", "信用风险分类")):
        codes, code = integer_codes(data.attributes[attr])  # a province has millions of entities, hundreds of values
        for value in sorted(v for v in code if v):  # not None or ""
            mask = codes == code[value]
            if 0 < mask.sum() < n:
                groups.append(null.group_test(f"{label}：{value}", mask, observed))
    related = {u for r in data.inspectors.values() for u in r.recusals}
    for name, members in sorted({"与执法人员有回避关系的主体": related, **(user_groups or {})}.items()):
        mask = np.zeros(n, bool)
        idx = [data.index[u] for u in members if u in data.index]
        mask[idx] = True
        if mask.any():
            groups.append(null.group_test(name, mask, observed))
    for g, q in zip(groups, S.bh(np.array([g.pvalue for g in groups]))):
        g.adjusted = float(q)

    # Each inspector's entities of one year, tested on the next year's draws (BH).
    inspector_groups = _inspector_groups(data, design, observed, null)

    # Entity scan (BH, leads not verdicts).
    upper, lower = null.entity_tails(observed.counts)
    exposed = np.flatnonzero(null.exposed)
    q_up, q_low = S.bh(upper[exposed]), S.bh(lower[exposed])
    leads = []
    for pos in np.flatnonzero((q_up < alpha) | (q_low < alpha)):
        e = int(exposed[pos])
        leads.append({"uscc": data.usccs[e], "selected": int(observed.counts[e]), "expected": float(null.mean[e]),
                      "p_upper": float(upper[e]), "p_lower": float(lower[e]), "q": float(min(q_up[pos], q_low[pos])),
                      "direction": "favoured" if q_up[pos] < q_low[pos] else "protected"})
    leads.sort(key=lambda x: x["q"])
    return groups, inspector_groups, leads, upper[exposed], np.minimum(q_up, q_low)


MC_STREAMS = 8  # fixed, so the result depends on the seed only, not on the number of workers


def _mc_stream(job: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse and zeros statistics of ``count`` re-runs from one seed stream.
    Only the two statistics are kept: count vectors would take resamples × entities."""
    design, null = parallel.shared()
    seed, stream, count = job
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(MC_STREAMS)[stream])
    t, z = np.empty(count), np.empty(count)
    for r in range(count):
        counts = S.simulate_counts(design, rng)
        t[r], z[r] = S.diffuse_statistic(null, counts), S.zeros_statistic(null, counts)
    return t, z


def monte_carlo(design: S.Design, null: S.NullModel, resamples: int, seed: int,
                workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``resamples`` fair re-runs of the recorded design, in MC_STREAMS
    independent streams spawned from ``seed`` (worker processes when large).
    The workers get the blocks and the entities' moments only: on Dask they are
    sent to every worker, and the pools, names and exact nulls are not needed."""
    jobs = [(seed, s, resamples // MC_STREAMS + (s < resamples % MC_STREAMS)) for s in range(MC_STREAMS)]
    big = resamples * len(design.members) > 200_000_000
    blocks = design.blocks_only()
    _ = blocks.flipped_member_counts  # computed once here, not in every worker
    parts = parallel.fork_map(_mc_stream, jobs, (blocks, null.moments()), parallel=big or workers is not None, workers=workers)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _inspector_groups(data: DrawData, design: S.Design, observed: S.Observed, null: S.NullModel) -> list[S.TestResult]:
    """Each inspector's entities of year y (three or more), tested on the draws of y + 1."""
    years = np.array([int(iso(t.drawn)[:4]) for t in data.tasks], dtype=np.int64)
    block_year = years[design.block_draw]
    sel_year = block_year[observed.sel_block]
    # (inspector, year, entity) of every assignment, distinct, sorted: one group per (inspector, year).
    rows, slots = np.nonzero(observed.assigned >= 0)
    first = int(years.min()) if len(years) else 0
    span = int(years.max()) - first + 1 if len(years) else 1
    group = observed.assigned[rows, slots].astype(np.int64) * span + (sel_year[rows] - first)
    pairs = np.unique(np.stack([group, observed.sel_entity[rows].astype(np.int64)], axis=1), axis=0)
    starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]) if len(pairs) else np.zeros(0, np.int64)
    later_of: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(pairs)]):
        j, y = divmod(int(pairs[start, 0]), span)
        y += first
        if y + 1 not in later_of:
            later = block_year == y + 1
            # Each entity's selections in the draws of y + 1, counted once per year.
            later_of[y + 1] = later, np.bincount(observed.sel_entity[later[observed.sel_block]], minlength=design.n_entities)
        later, selections = later_of[y + 1]
        entities = pairs[start:end, 1]
        if not later.any() or len(entities) < 3:
            continue
        r = null.entities_test(f"{design.inspector_names[j]} 于 {y} 年检查的主体，在 {y + 1} 年", entities,
                               int(selections[entities].sum()), blocks=later)
        if r.detail["expected"] > 0:
            out.append(r)
    for r, q in zip(out, S.bh(np.array([r.pvalue for r in out]))):
        r.adjusted = float(q)
    return out


def power_statements(null: S.NullModel, design: S.Design, data: DrawData, alpha: float, n_groups: int,
                     pair_info: dict[str, Any]) -> list[dict[str, Any]]:
    """What this audit could have detected with 80 % power on this design."""
    out: list[dict[str, Any]] = []
    exposed = np.flatnonzero(null.exposed)
    m = max(len(exposed), 1)
    classes = np.array([v or "" for v in data.attributes["credit_class"]], dtype=object)
    member_block = design.member_block()
    pi = null.pi_member
    for c in sorted(set(classes[exposed].tolist())):
        who = exposed[classes[exposed] == c]
        typical = int(who[np.argsort(null.mean[who])[len(who) // 2]])
        probs = pi[design.members == typical]
        pmf, _ = S.poisson_binomial_pmfs(probs, np.zeros(len(probs), np.int64), 1)
        tail = np.cumsum(pmf[0][::-1])[::-1]  # P(X >= x)
        crit = int(np.argmax(tail <= alpha / m)) if (tail <= alpha / m).any() else None
        found = None
        if crit is not None:
            for f in (1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20):
                alt, _ = S.poisson_binomial_pmfs(np.minimum(1.0, probs * f), np.zeros(len(probs), np.int64), 1)
                if alt[0, crit:].sum() >= 0.8:
                    found = f
                    break
        never = float(pmf[0][0]) <= alpha / m
        out.append({"kind": "favoured-entity", "class": c, "exposures": len(probs), "expected": float(probs.sum()),
                    "factor": found, "never_drawn_detectable": never,
                    "text": (f"{CLASS_ZH.get(c, c)}的典型主体（参加 {len(probs)} 次抽取、期望被抽 {probs.sum():.2f} 次）："
                             + (f"被抽概率提高到 {found:g} 倍即可以 80% 的把握发现" if found else "即使被抽概率提高 20 倍也难以单独发现")
                             + ("；从未被抽中可以发现" if never else "；从未被抽中不足以单独发现"))})
    del member_block
    mean_pi = float(null.mean[exposed].mean()) if len(exposed) else 0.0
    var_pi = float(null.var[exposed].mean()) if len(exposed) else 0.0
    z = sps.norm.isf(alpha / (2 * max(n_groups, 1)))
    for f, label in ((2.0, "偏袒"), (0.5, "保护")):
        need = None
        for g in (5, 10, 20, 30, 50, 100, 200, 500, 1000, 2000, 5000):
            if g > len(exposed):
                break
            mu, sd = g * mean_pi, math.sqrt(g * var_pi) if var_pi else 0.0
            if sd and sps.norm.cdf((abs(f - 1) * mu - z * sd) / (sd * math.sqrt(f))) >= 0.8:
                need = g
                break
        out.append({"kind": "group", "factor": f, "group_size": need,
                    "text": (f"一组主体被{label}（被抽概率 ×{f:g}）：" + (f"组内约 {need} 个主体即可以 80% 的把握发现（正态近似）" if need else "在本数据规模下难以发现"))})
    pools = [len(p) for p in design.pools if len(p)]
    if pools:
        k = float(np.median(design.k))
        M = float(np.median(pools))
        K = max(int(pair_info.get("tarone_k", 1)), 1)
        L = math.ceil(math.log(alpha / K) / math.log(k / M)) if 0 < k < M else None
        out.append({"kind": "pairing", "draws": L,
                    "text": f"某检查人员与某主体被固定配对：该主体被抽中并由其检查达 {L} 次即可发现（人员库中位 {M:g} 人，每户 {k:g} 人）" if L else "人员库过小，无法检验配对"})
    return out


def verdict_counts(audit: DrawsAudit) -> Counter[str]:
    return Counter(v.status for v in audit.verdicts)


__all__ = ["DrawsAudit", "FAILURES", "audit_draws", "read_groups", "verdict_counts"]
