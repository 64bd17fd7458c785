"""Calibration study of the draws audit (AUDIT-METHOD.md §3).

    python -m liushuang.audit.calibration                  # 2,000 fair replicates + the battery
    python -m liushuang.audit.calibration --replicates 300 --battery 50   # quicker

A realistic design (10,000 entities in 10 districts, credit classes A-D with
shares 40/35/18/7 % sampled at 2/5/10/30 %, 200 draws each over three
districts, pools of 20 of 60 inspectors, two per entity) is simulated under
the null many times; the audit's decision (Holm across test families) must
flag at most α + 2 SE of fair replicates. Then each manipulation of the
battery is simulated and its power reported with a Wilson interval.

Monte Carlo references are shared: replicate r uses the next ``resamples``
null replicates of one pool as its reference set. Those are independent
draws from the same null as r, so each Monte Carlo p-value stays exact.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from . import stats as S

CLASSES = ("A", "B", "C", "D")
SHARES = (0.40, 0.35, 0.18, 0.07)
RATIOS = (0.02, 0.05, 0.10, 0.30)  # AUDIT-METHOD.md §2 power paragraph


@dataclass
class Study:
    design: S.Design
    klass: np.ndarray  # class index per entity
    district: np.ndarray
    named: dict[str, np.ndarray]  # named groups (boolean per entity), e.g. a complaint list


def realistic_design(n_entities: int = 10_000, n_draws: int = 200, seed: int = 0) -> Study:
    rng = np.random.default_rng(seed)
    klass = rng.choice(len(CLASSES), size=n_entities, p=SHARES)
    district = rng.integers(0, 10, size=n_entities)
    order = rng.permutation(n_entities)  # the platform's list order
    sizes, samples, draws, chunks, pools = [], [], [], [], []
    for d in range(n_draws):
        chosen = rng.choice(10, size=3, replace=False)
        in_frame = order[np.isin(district[order], chosen)]
        for c, ratio in enumerate(RATIOS):
            members = in_frame[klass[in_frame] == c]
            if len(members):
                sizes.append(len(members))
                samples.append(min(len(members), max(1, round(ratio * len(members)))))
                draws.append(d)
                chunks.append(members)
        pools.append(np.sort(rng.choice(60, size=20, replace=False)).astype(np.int32))
    design = S.Design(n_entities, np.array(draws, np.int32), np.array(sizes, np.int64), np.array(samples, np.int64),
                      np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), np.concatenate(chunks).astype(np.int32),
                      pools, np.full(n_draws, 2), [f"ZF{i:02d}" for i in range(60)])
    named = {}
    for name, c, size in (("complaints", 1, 50), ("excluded", 1, 50), ("protected", 2, 20), ("rigged", 3, 5)):
        mask = np.zeros(n_entities, bool)
        mask[rng.choice(np.flatnonzero(klass == c), size=size, replace=False)] = True
        named[name] = mask
    return Study(design, klass, district, named)


class Evaluator:
    """Runs every test family on one observation of a fixed design."""

    def __init__(self, study: Study, alpha: float = 0.05) -> None:
        self.study, self.alpha = study, alpha
        self.null = S.NullModel(study.design)
        self.wnull = S.workload_null(study.design)
        self.cache: dict[str, object] = {}
        self.groups = {f"district {i}": study.district == i for i in range(10)}
        self.groups.update({f"class {c}": study.klass == i for i, c in enumerate(CLASSES)})
        self.groups.update({f"named {k}": v for k, v in study.named.items()})
        self.exposed = np.flatnonzero(self.null.exposed)

    def global_stats(self, obs: S.Observed) -> tuple[float, int]:
        return S.diffuse_statistic(self.null, obs.counts), S.zeros_statistic(self.null, obs.counts)

    def families(self, obs: S.Observed, ref_t: np.ndarray, ref_z: np.ndarray) -> dict[str, float]:
        t, z = self.global_stats(obs)
        B = len(ref_t)
        global_tests = [S.TestResult("diffuse", t, (1 + np.count_nonzero(ref_t >= t)) / (B + 1)),
                        S.TestResult("zeros", z, (1 + np.count_nonzero(ref_z >= z)) / (B + 1)),
                        S.order_test(self.study.design, obs)]
        groups = [self.null.group_test(name, mask, obs, cache=self.cache) for name, mask in self.groups.items()]
        for g, q in zip(groups, S.bh(np.array([g.pvalue for g in groups]))):
            g.adjusted = float(q)
        upper, lower = self.null.entity_tails(obs.counts)
        q = np.minimum(S.bh(upper[self.exposed]), S.bh(lower[self.exposed]))
        pairs, _ = S.pairing_test(self.study.design, obs, self.alpha)
        workload = S.workload_test(self.study.design, obs, self.wnull)
        for w, qq in zip(workload, S.bh(np.array([w.pvalue for w in workload]))):
            w.adjusted = float(qq)
        return S.family_pvalues(global_tests, groups, q, pairs, workload)

    def flags(self, families: dict[str, float]) -> set[str]:
        adjusted = S.holm(list(families.values()))
        return {k for k, a in zip(families, adjusted) if a < self.alpha}


# --- manipulations: each returns a manipulated observation ------------------------------------------

def _members(design: S.Design, b: int) -> np.ndarray:
    return design.members[design.offsets[b]:design.offsets[b + 1]]


_POSITIONS: dict[int, list[dict[int, int]]] = {}


def _positions(design: S.Design) -> list[dict[int, int]]:
    key = id(design)
    if key not in _POSITIONS:
        _POSITIONS[key] = [{e: i for i, e in enumerate(_members(design, b).tolist())} for b in range(design.n_blocks)]
    return _POSITIONS[key]


def _rebuild(design: S.Design, chosen: dict[int, set[int]], before: S.Observed, rng: np.random.Generator) -> S.Observed:
    """An observation from chosen sets; entities that kept their place keep their
    inspectors, newcomers get k uniformly from the draw's pool (fair)."""
    pos_of = _positions(design)
    kept = _assigned(before)
    sel_block, sel_pos, entity, rows = [], [], [], []
    for b in range(design.n_blocks):
        for e in sorted(chosen[b], key=lambda x: pos_of[b][x]):
            sel_block.append(b)
            sel_pos.append(pos_of[b][e])
            entity.append(e)
            row = kept.get((b, e))
            if row is None:
                pool = design.pools[design.block_draw[b]]
                row = rng.choice(pool, size=2, replace=False).tolist()
            rows.append(row)
    e = np.array(entity, np.int64)
    return S.Observed(np.bincount(e, minlength=design.n_entities), np.array(sel_block), np.array(sel_pos), e,
                      np.array(rows, np.int64).reshape(-1, 2))


def _chosen(design: S.Design, obs: S.Observed) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {b: set() for b in range(design.n_blocks)}
    for b, e in zip(obs.sel_block.tolist(), obs.sel_entity.tolist()):
        out[b].add(e)
    return out


def _assigned(obs: S.Observed) -> dict[tuple[int, int], list[int]]:
    return {(b, e): row.tolist() for b, e, row in zip(obs.sel_block.tolist(), obs.sel_entity.tolist(), obs.assigned)}


def favoured_entity(study: Study, klass: int, factor: float, rng: np.random.Generator) -> Callable[[S.Observed], S.Observed]:
    d = study.design
    exposure = np.bincount(d.members, minlength=d.n_entities)
    cands = np.flatnonzero((study.klass == klass) & (exposure > 0))
    target = int(cands[np.argsort(exposure[cands])[len(cands) // 2]])

    def apply(obs: S.Observed) -> S.Observed:
        chosen = _chosen(d, obs)
        for b in np.flatnonzero(np.add.reduceat((d.members == target).astype(int), d.offsets[:-1]) > 0):
            pi = d.block_sample[b] / d.block_size[b]
            if target not in chosen[b] and rng.random() < (min(1, factor * pi) - pi) / (1 - pi):
                chosen[b].remove(rng.choice(sorted(chosen[b])))
                chosen[b].add(target)
        return _rebuild(d, chosen, obs, rng)
    return apply


def swap_out(study: Study, group: np.ndarray, keep: float, rng: np.random.Generator) -> Callable[[S.Observed], S.Observed]:
    """Each selected group member is replaced, with probability 1 - keep, by an unselected non-member of its block."""
    d = study.design

    def apply(obs: S.Observed) -> S.Observed:
        chosen = _chosen(d, obs)
        for b in range(d.n_blocks):
            for e in [e for e in chosen[b] if group[e]]:
                if rng.random() >= keep:
                    spare = [x for x in _members(d, b).tolist() if not group[x] and x not in chosen[b]]
                    if spare:
                        chosen[b].remove(e)
                        chosen[b].add(int(rng.choice(spare)))
        return _rebuild(d, chosen, obs, rng)
    return apply


def list_order_tilt(study: Study, share: float, rng: np.random.Generator) -> Callable[[S.Observed], S.Observed]:
    d = study.design

    def apply(obs: S.Observed) -> S.Observed:
        chosen = _chosen(d, obs)
        for b in range(d.n_blocks):
            head = _members(d, b)[: max(1, d.block_size[b] // 5)].tolist()
            for e in list(chosen[b]):
                spare = [x for x in head if x not in chosen[b]]
                if spare and rng.random() < share:
                    chosen[b].remove(e)
                    chosen[b].add(int(rng.choice(spare)))
        return _rebuild(d, chosen, obs, rng)
    return apply


def rigged_pairing(study: Study, inspector: int) -> Callable[[S.Observed], S.Observed]:
    group = study.named["rigged"]
    d = study.design

    def apply(obs: S.Observed) -> S.Observed:
        assigned = obs.assigned.copy()
        draw = d.block_draw[obs.sel_block]
        for row in np.flatnonzero(group[obs.sel_entity]):
            if inspector in d.pools[draw[row]] and inspector not in assigned[row]:
                assigned[row, 0] = inspector
        return S.Observed(obs.counts, obs.sel_block, obs.sel_pos, obs.sel_entity, assigned)
    return apply


def best_of_k(study: Study, k: int, rng: np.random.Generator) -> Callable[[S.Observed], S.Observed]:
    """Per draw, redraw up to k times and keep the draw with the fewest protected entities."""
    d = study.design
    group = study.named["protected"]

    def apply(obs: S.Observed) -> S.Observed:
        tries = [obs] + [S.simulate(d, rng, with_assignments=False) for _ in range(k - 1)]
        per_try = [np.bincount(d.block_draw[t.sel_block][group[t.sel_entity]], minlength=len(d.pools)) for t in tries]
        best = np.argmin(np.vstack(per_try), axis=0)
        chosen: dict[int, set[int]] = {b: set() for b in range(d.n_blocks)}
        for i, t in enumerate(tries):
            keep = best[d.block_draw[t.sel_block]] == i
            for b, e in zip(t.sel_block[keep].tolist(), t.sel_entity[keep].tolist()):
                chosen[b].add(e)
        return _rebuild(d, chosen, obs, rng)
    return apply


def wilson(successes: int, n: int) -> tuple[float, float]:
    ci = sps.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def run(replicates: int = 2000, battery: int = 200, resamples: int = 99, n_entities: int = 10_000, n_draws: int = 200,
        seed: int = 2026, alpha: float = 0.05, manipulations: tuple[str, ...] | None = None, echo: Callable[[str], None] = print) -> dict:
    started = time.perf_counter()
    study = realistic_design(n_entities, n_draws, seed)
    ev = Evaluator(study, alpha)
    rng = np.random.default_rng(seed + 1)
    pool = [S.simulate(study.design, rng) for _ in range(replicates + resamples)]
    stats_t = np.array([ev.global_stats(o)[0] for o in pool])
    stats_z = np.array([ev.global_stats(o)[1] for o in pool])
    flagged = 0
    by_family: dict[str, int] = {}
    for r in range(replicates):
        ref = (np.arange(1, resamples + 1) + r) % len(pool)
        flags = ev.flags(ev.families(pool[r], stats_t[ref], stats_z[ref]))
        flagged += bool(flags)
        for f in flags:
            by_family[f] = by_family.get(f, 0) + 1
        if (r + 1) % 500 == 0:
            echo(f"  fair replicates: {r + 1}/{replicates}")
    se = float(np.sqrt(alpha * (1 - alpha) / replicates))
    result = {"design": {"entities": n_entities, "draws": n_draws, "blocks": int(study.design.n_blocks),
                         "selections_per_replicate": int(study.design.block_sample.sum()), "classes": dict(zip(CLASSES, RATIOS))},
              "alpha": alpha, "replicates": replicates, "resamples": resamples, "seed": seed,
              "false_positive_rate": flagged / replicates, "bound": alpha + 2 * se, "wilson": wilson(flagged, replicates),
              "by_family": by_family, "battery": []}
    ref_t, ref_z = stats_t[replicates:], stats_z[replicates:]  # references independent of the battery's bases
    mrng = np.random.default_rng(seed + 2)
    battery_defs = {
        "favoured D-class entity ×3": (favoured_entity(study, 3, 3.0, mrng), "entities"),
        "favoured A-class entity ×2": (favoured_entity(study, 0, 2.0, mrng), "entities"),
        "protected named group of 50 at ×0.5": (swap_out(study, study.named["complaints"], 0.5, mrng), "groups"),
        "frame exclusion of 50 named entities": (swap_out(study, study.named["excluded"], 0.0, mrng), "groups"),
        "list-order tilt (20 % of picks from the top fifth)": (list_order_tilt(study, 0.2, mrng), "global:list-order"),
        "rigged inspector pairing (5 D-class entities)": (rigged_pairing(study, 0), "pairs"),
        "best-of-5 redraw against 20 named entities": (best_of_k(study, 5, mrng), "groups"),
    }
    for name, (manipulate, family) in battery_defs.items():
        if manipulations and not any(m in name for m in manipulations):
            continue
        hits = any_hits = 0
        for i in range(battery):
            obs = manipulate(pool[i % replicates])
            flags = ev.flags(ev.families(obs, ref_t, ref_z))
            hits += family in flags
            any_hits += bool(flags)
        result["battery"].append({"manipulation": name, "family": family, "replicates": battery, "power": hits / battery,
                                  "wilson": wilson(hits, battery), "any_flag": any_hits / battery})
        echo(f"  {name}: power {hits / battery:.2f}")
    result["seconds"] = time.perf_counter() - started
    return result


def markdown(result: dict) -> str:
    lines = [f"Fair replicates: {result['replicates']:,}; Monte Carlo references: {result['resamples']} per replicate; α = {result['alpha']}.",
             "", f"Family-wise false-positive rate: **{result['false_positive_rate']:.4f}** "
             f"(Wilson 95 % {result['wilson'][0]:.4f}–{result['wilson'][1]:.4f}); bound α + 2 SE = {result['bound']:.4f}.", "",
             "| manipulation | family | power | Wilson 95 % | any flag |", "|---|---|---:|---|---:|"]
    for b in result["battery"]:
        lines.append(f"| {b['manipulation']} | {b['family']} | {b['power']:.2f} | {b['wilson'][0]:.2f}–{b['wilson'][1]:.2f} | {b['any_flag']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--battery", type=int, default=200)
    ap.add_argument("--resamples", type=int, default=99)
    ap.add_argument("--entities", type=int, default=10_000)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    result = run(args.replicates, args.battery, args.resamples, args.entities, args.draws, args.seed)
    print(markdown(result))
    print(f"\n({result['seconds']:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
