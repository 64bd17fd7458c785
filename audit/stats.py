"""Statistics across draws (AUDIT-METHOD.md §2): were some entities favoured,
protected, or steered to particular inspectors?

Null model: in draw t an entity i of stratum h is selected with probability
π_it = n_th / N_th (simple random sampling without replacement in each
stratum, independently across draws), and each selected entity gets k of the
M inspectors of the draw's pool uniformly. The null distributions depend only
on the recorded design, so :class:`NullModel` computes them once; observing
a set of draws then costs look-ups. This is what makes the Monte Carlo tests
at city scale and the calibration study affordable.

Results are scipy-style objects with ``statistic``, ``pvalue`` and an effect
size. Every random procedure takes an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy import signal, special, stats

from liushuang import parallel

from .draw_data import DrawData

# --- design and observations ---------------------------------------------------------

@dataclass
class Design:
    n_entities: int
    block_draw: np.ndarray  # per block (draw × stratum): draw index
    block_size: np.ndarray  # N
    block_sample: np.ndarray  # n
    offsets: np.ndarray  # block b's members are members[offsets[b]:offsets[b+1]], in platform order
    members: np.ndarray  # entity indices
    pools: list[np.ndarray]  # per draw: inspector indices of its pool
    k: np.ndarray  # per draw: inspectors per selected entity
    inspector_names: list[str]

    @property
    def n_blocks(self) -> int:
        return len(self.block_size)

    @cached_property
    def flipped(self) -> np.ndarray:
        """Blocks sampled through their complement (the smaller side)."""
        return self.block_sample * 2 > self.block_size

    @cached_property
    def flipped_member_counts(self) -> np.ndarray:
        """How often each entity is a member of a flipped block."""
        return np.bincount(self.members[np.repeat(self.flipped, self.block_size)], minlength=self.n_entities)

    def blocks_only(self) -> Design:
        """The blocks without the draws' pools and inspector names: what simulating counts reads."""
        return Design(self.n_entities, self.block_draw, self.block_size, self.block_sample, self.offsets, self.members,
                      [], self.k, [])

    def member_block(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_blocks), self.block_size)

    @cached_property
    def entity_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Per entity the blocks it is a member of: ``blocks[ptr[e]:ptr[e + 1]]``."""
        ptr = np.zeros(self.n_entities + 1, np.int64)
        np.cumsum(np.bincount(self.members, minlength=self.n_entities), out=ptr[1:])
        return ptr, self.member_block()[np.argsort(self.members, kind="stable")]

    def group_counts(self, in_group: np.ndarray) -> np.ndarray:
        """Per block, how many of its members are in the group (a boolean per entity).

        A group of a few entities (an inspector's in one year) is counted through the
        blocks of its entities, not by a pass over every member of every block: a
        province has hundreds of thousands of such groups and tens of millions of members."""
        entities = np.flatnonzero(in_group)
        if len(entities) * 64 >= self.n_entities:
            return self._dense_counts(in_group)
        return self.entity_counts(entities)

    def entity_counts(self, entities: np.ndarray) -> np.ndarray:
        """``group_counts`` of a group given as distinct entity indices, through their blocks."""
        if not len(entities):
            return np.zeros(self.n_blocks, np.int64)
        ptr, blocks = self.entity_blocks
        starts, ends = ptr[entities], ptr[entities + 1]
        lengths = ends - starts
        at = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(lengths.sum())
        return np.bincount(blocks[at], minlength=self.n_blocks)

    def _dense_counts(self, in_group: np.ndarray) -> np.ndarray:
        if not self.n_blocks:
            return np.zeros(0, np.int64)
        k = np.add.reduceat(in_group[self.members].astype(np.int64), self.offsets[:-1])
        return np.where(self.block_size > 0, k, 0)


@dataclass
class Observed:
    counts: np.ndarray  # selections per entity
    sel_block: np.ndarray  # per selection: block
    sel_pos: np.ndarray  # per selection: position within the block's member list (0-based)
    sel_entity: np.ndarray
    assigned: np.ndarray  # per selection × k_max: inspector index, -1 where none


def design_from(data: DrawData) -> tuple[Design, Observed]:
    """The recorded design of every draw, and what was observed."""
    inspector_names = sorted({p for t in data.tasks for p in (t.inspector_pool or ())} |
                             {p for t in data.tasks for _, ps in t.assignments for p in ps})
    ins = {p: i for i, p in enumerate(inspector_names)}
    sizes, samples, draws, chunks, pools, ks = [], [], [], [], [], []
    sel_block, sel_pos, sel_entity, assigned = [], [], [], []
    k_max = max([t.inspectors_per_entity for t in data.tasks] + [2])
    for d, t in enumerate(data.tasks):
        people = {e: ps for e, ps in t.assignments}
        pool = t.inspector_pool or tuple(sorted({p for ps in people.values() for p in ps}))
        pools.append(np.array([ins[p] for p in pool], dtype=np.int32))
        ks.append(t.inspectors_per_entity)
        n_of = {s: n for s, _, n, _ in t.declared}
        selected = set(t.selections.tolist())
        for code, name in enumerate(t.strata_names):
            mem = t.frame[t.frame_strata == code]
            if not len(mem):
                continue
            b = len(sizes)
            sizes.append(len(mem))
            samples.append(min(n_of.get(name, 0), len(mem)))
            draws.append(d)
            chunks.append(mem)
            for pos, e in enumerate(mem.tolist()):
                if e in selected:
                    sel_block.append(b)
                    sel_pos.append(pos)
                    sel_entity.append(e)
                    row = [ins[p] for p in people.get(e, ())][:k_max]
                    assigned.append(row + [-1] * (k_max - len(row)))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    design = Design(len(data.usccs), np.array(draws, np.int32), np.array(sizes, np.int64), np.array(samples, np.int64), offsets,
                    np.concatenate(chunks).astype(np.int32) if chunks else np.zeros(0, np.int32), pools, np.array(ks, np.int64),
                    inspector_names)
    entity = np.array(sel_entity, np.int64)
    observed = Observed(np.bincount(entity, minlength=design.n_entities), np.array(sel_block, np.int64), np.array(sel_pos, np.int64),
                        entity, np.array(assigned, np.int64).reshape(-1, k_max))
    return design, observed


def simulate(design: Design, rng: np.random.Generator, *, with_assignments: bool = True) -> Observed:
    """One fair replicate of the whole recorded design."""
    block, pos = _sample(design, rng)
    chosen = np.zeros(len(design.members), dtype=bool)
    chosen[design.offsets[block] + pos] = True
    chosen ^= np.repeat(design.flipped, design.block_size)
    idx = np.flatnonzero(chosen)
    sel_block = np.searchsorted(design.offsets, idx, side="right") - 1
    entity = design.members[idx].astype(np.int64)
    k_max = int(design.k.max()) if len(design.k) else 2
    assigned = np.full((len(idx), k_max), -1, np.int64)
    if with_assignments and len(idx):
        draw = design.block_draw[sel_block]
        for d in np.unique(draw):
            rows = np.flatnonzero(draw == d)
            pool = design.pools[d]
            k = int(min(design.k[d], len(pool)))
            if not k:
                continue
            keys = rng.random((len(rows), len(pool)))
            pick = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < len(pool) else np.tile(np.arange(len(pool)), (len(rows), 1))
            assigned[rows, :k] = pool[pick]
    return Observed(np.bincount(entity, minlength=design.n_entities), sel_block, idx - design.offsets[sel_block], entity, assigned)


def simulate_counts(design: Design, rng: np.random.Generator) -> np.ndarray:
    """Selections per entity in one fair replicate: what the Monte Carlo tests
    need, without building frame-sized arrays (flipped blocks count every
    member once, minus the sampled complement)."""
    block, pos = _sample(design, rng)
    picked = design.members[design.offsets[block] + pos]
    flip = design.flipped[block]
    counts = np.bincount(picked[~flip], minlength=design.n_entities)
    if flip.any():
        counts = counts + design.flipped_member_counts - np.bincount(picked[flip], minlength=design.n_entities)
    return counts


def _sample(design: Design, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(block, position) of every pick of one replicate: each block samples
    its selections, or their complement where that is smaller."""
    n, size = design.block_sample, design.block_size
    block = np.repeat(np.arange(design.n_blocks), np.where(design.flipped, size - n, n))
    return block, _distinct_positions(block, size, rng)


def _distinct_positions(block: np.ndarray, size: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform distinct positions within each block: draw with replacement, keep
    the first occurrence of each position, and redraw the repeats until they
    land on free positions (rejection keeps the sample uniform). After the
    first round only the few repeats are re-examined, against the sorted set
    of positions already taken."""
    width = int(size.max()) + 1 if len(size) else 1
    pos = (rng.random(len(block)) * size[block]).astype(np.int64)
    key = block * width + pos
    taken, first = np.unique(key, return_index=True)
    todo = np.setdiff1d(np.arange(len(block)), first, assume_unique=True)
    while len(todo):
        new = (rng.random(len(todo)) * size[block[todo]]).astype(np.int64)
        k = block[todo] * width + new
        at = np.searchsorted(taken, k)
        clash = (at < len(taken)) & (taken[np.minimum(at, len(taken) - 1)] == k)
        _, first_new = np.unique(k, return_index=True)
        fresh = np.zeros(len(k), bool)
        fresh[first_new] = True
        ok = ~clash & fresh
        pos[todo[ok]] = new[ok]
        if ok.any():
            accepted = np.sort(k[ok])  # sorted, so that np.insert keeps `taken` sorted
            taken = np.insert(taken, np.searchsorted(taken, accepted), accepted)
        todo = todo[~ok]
    return pos


# --- result objects -----------------------------------------------------------------------

@dataclass
class TestResult:
    name: str
    statistic: float
    pvalue: float
    effect: float | None = None  # e.g. observed / expected
    detail: dict[str, Any] = field(default_factory=dict)
    adjusted: float | None = None  # after Holm / BH / Tarone


def holm(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p-values."""
    order = np.argsort(pvalues)
    m = len(pvalues)
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out.tolist()


def bh(pvalues: np.ndarray) -> np.ndarray:
    if len(pvalues) == 0:
        return np.zeros(0)
    return stats.false_discovery_control(np.clip(pvalues, 0, 1), method="bh")


# --- the null model ---------------------------------------------------------------------------

def _poisson_binomial_batches(probs: np.ndarray, owners: np.ndarray, n_owners: int) -> tuple[np.ndarray, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """Each owner's number of trials, and its pmfs in batches of owners with equally many
    trials: (owners, pmf rows). Built by the recurrence P_j(x) = P_{j-1}(x)(1-p_j) + P_{j-1}(x-1) p_j."""
    order = np.argsort(owners, kind="stable")
    probs, owners = probs[order], owners[order]
    length = np.bincount(owners, minlength=n_owners)
    start = np.concatenate([[0], np.cumsum(length)])

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for L in np.unique(length):
            who = np.flatnonzero(length == L)
            mat = probs[start[who][:, None] + np.arange(L)[None, :]]
            p = np.zeros((len(who), L + 1))
            p[:, 0] = 1.0
            for j in range(L):
                q = mat[:, j:j + 1]
                p[:, 1:j + 2] = p[:, 1:j + 2] * (1 - q) + p[:, 0:j + 1] * q
                p[:, 0] *= 1 - q[:, 0]
            yield who, p

    return length, batches()


def poisson_binomial_pmfs(probs: np.ndarray, owners: np.ndarray, n_owners: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson-binomial pmfs for many owners at once.

    ``probs[j]`` belongs to ``owners[j]``. Returns (pmf matrix padded to the
    longest owner, lengths). Owners are batched by their number of trials.
    """
    length, batches = _poisson_binomial_batches(probs, owners, n_owners)
    pmf = np.zeros((n_owners, int(length.max()) + 1 if n_owners else 1))
    pmf[:, 0] = 1.0
    for who, p in batches:
        pmf[who, :p.shape[1]] = p
    return pmf, length


def poisson_binomial_cdfs(probs: np.ndarray, owners: np.ndarray, n_owners: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cdfs P(X <= x) of ``poisson_binomial_pmfs``, ragged: owner e's are
    ``cdf[start[e]:start[e] + length[e] + 1]``. Padding every owner to the longest
    would take owners × the most trials of any (a province: millions × hundreds)."""
    length, batches = _poisson_binomial_batches(probs, owners, n_owners)
    start = (np.cumsum(length + 1) - (length + 1)).astype(np.int64)
    cdf = np.empty(int(length.sum()) + n_owners)
    for who, p in batches:
        cdf[start[who][:, None] + np.arange(p.shape[1])[None, :]] = np.cumsum(p, axis=1)
    return cdf, start, length


@dataclass
class Moments:
    """Each entity's null mean and variance of its selections, and whether it was ever in a frame."""
    mean: np.ndarray
    var: np.ndarray
    exposed: np.ndarray


class NullModel:
    """Everything the tests need that depends on the design only."""

    def __init__(self, design: Design) -> None:
        self.design = design
        member_block = design.member_block()
        pi = design.block_sample[member_block] / design.block_size[member_block]
        self.pi_member = pi
        E = design.n_entities
        self.mean = np.bincount(design.members, weights=pi, minlength=E)
        self.var = np.bincount(design.members, weights=pi * (1 - pi), minlength=E)
        self.exposed = np.bincount(design.members, minlength=E) > 0
        # Each entity's P(X <= x), x = 0..trials, one after the other.
        self.cdf, self.cdf_start, self.trials = poisson_binomial_cdfs(pi, design.members.astype(np.int64), E)

    def moments(self) -> Moments:
        return Moments(self.mean, self.var, self.exposed)

    # per entity ------------------------------------------------------------------------
    def entity_tails(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact P(X >= x) and P(X <= x) per entity."""
        x = np.minimum(counts, self.trials)
        lower = self.cdf[self.cdf_start + x]
        upper = 1.0 - np.where(x > 0, self.cdf[self.cdf_start + np.maximum(x - 1, 0)], 0.0)
        upper = np.where(counts > self.trials, 0.0, upper)
        return np.clip(upper, 0, 1), np.clip(lower, 0, 1)

    # named groups ------------------------------------------------------------------------
    def group_null(self, in_group: np.ndarray, blocks: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """pmf of the number of selections falling in a group (a boolean per
        entity): the convolution of one hypergeometric per block; and the offset
        of deterministic selections (blocks entirely inside the group).
        ``blocks`` restricts the test to some blocks (a boolean per block)."""
        return self._null_of(self.design.group_counts(in_group), blocks)

    def _null_of(self, k: np.ndarray, blocks: np.ndarray | None) -> tuple[np.ndarray, int]:
        d = self.design
        if blocks is not None:
            k = np.where(blocks, k, 0)
        fixed = int(d.block_sample[k == d.block_size].sum())
        mixed = (k > 0) & (k < d.block_size) & (d.block_sample > 0)
        return _convolve_all(_hypergeom_pmfs(d.block_size[mixed], k[mixed], d.block_sample[mixed])), fixed

    def group_test(self, name: str, in_group: np.ndarray, observed: Observed, blocks: np.ndarray | None = None,
                   cache: dict[str, Any] | None = None) -> TestResult:
        """Exact two-sided test of the group's selection total (hypergeometric convolution).
        ``cache`` keeps the null of a named group across observations of one design."""
        if cache is not None and name in cache:
            pmf, fixed = cache[name]
        else:
            pmf, fixed = self.group_null(in_group, blocks)
            if cache is not None:
                cache[name] = (pmf, fixed)
        hit = in_group[observed.sel_entity]
        if blocks is not None:
            hit &= blocks[observed.sel_block]
        return _group_result(name, pmf, fixed, int(np.count_nonzero(hit)), int(in_group.sum()))

    def entities_test(self, name: str, entities: np.ndarray, selected: int, blocks: np.ndarray | None = None) -> TestResult:
        """``group_test`` of a small group given as distinct entity indices, whose observed
        selections (in ``blocks``) the caller has counted: no pass over every entity or
        selection (a province has hundreds of thousands of inspector-year groups)."""
        pmf, fixed = self._null_of(self.design.entity_counts(entities), blocks)
        return _group_result(name, pmf, fixed, selected, len(entities))


def _group_result(name: str, pmf: np.ndarray, fixed: int, selected: int, entities: int) -> TestResult:
    s = selected - fixed
    support = np.arange(len(pmf))
    expected = float((support * pmf).sum()) + fixed
    upper = float(pmf[max(s, 0):].sum()) if s < len(pmf) else 0.0
    lower = float(pmf[:s + 1].sum()) if s >= 0 else 0.0
    p = min(1.0, 2 * min(upper, lower))
    return TestResult(name, float(s + fixed), p, (s + fixed) / expected if expected else None,
                      {"expected": expected, "p_upper": min(upper, 1.0), "p_lower": min(lower, 1.0), "entities": entities})


def _hypergeom_pmfs(N: np.ndarray, K: np.ndarray, n: np.ndarray) -> list[np.ndarray]:
    """Hypergeometric pmfs P(X = x), x = 0..min(n, K), of many blocks in one
    vectorised log-gamma evaluation (scipy.stats.hypergeom one block at a time
    spends its time in call overhead at city scale)."""
    if not len(N):
        return []
    hi = np.minimum(n, K)
    lengths = hi + 1
    block = np.repeat(np.arange(len(N)), lengths)
    x = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    Nb, Kb, nb = N[block], K[block], n[block]
    valid = (nb - x) <= (Nb - Kb)

    def lchoose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)

    logp = lchoose(Kb, x) + lchoose(Nb - Kb, np.where(valid, nb - x, 0)) - lchoose(Nb, nb)
    pmf = np.where(valid, np.exp(logp), 0.0)
    return np.split(pmf, np.cumsum(lengths)[:-1])


def _convolve_all(parts: list[np.ndarray]) -> np.ndarray:
    """Convolve many pmfs, pairwise (a balanced tree), FFT where long."""
    if not parts:
        return np.ones(1)
    while len(parts) > 1:
        merged = []
        for a, b in zip(parts[::2], parts[1::2]):
            c = signal.fftconvolve(a, b) if len(a) * len(b) > 50_000 else np.convolve(a, b)
            merged.append(np.clip(c, 0, None))
        if len(parts) % 2:
            merged.append(parts[-1])
        parts = merged
    out = parts[0]
    return out / out.sum()


# --- the tests -----------------------------------------------------------------------------

def diffuse_statistic(null: NullModel | Moments, counts: np.ndarray) -> float:
    ok = null.var > 0
    return float((((counts[ok] - null.mean[ok]) ** 2) / null.var[ok]).sum())


def zeros_statistic(null: NullModel | Moments, counts: np.ndarray) -> int:
    return int(np.count_nonzero(null.exposed & (counts == 0)))


def order_test(design: Design, observed: Observed) -> TestResult:
    """List-order bias: positions (rank + ½)/N of the selected within their
    block's platform order, pooled, against the uniform (KS)."""
    if not len(observed.sel_pos):
        return TestResult("list-order", 0.0, 1.0)
    u = (observed.sel_pos + 0.5) / design.block_size[observed.sel_block]
    res = stats.kstest(u, "uniform")
    return TestResult("list-order", float(res.statistic), float(res.pvalue), float(np.mean(u)) / 0.5,
                      {"mean_position": float(np.mean(u)), "selections": int(len(u))})


PAIR_CHUNK = 4_000_000  # (selection, pool member) rows per pairing job: its arrays stay in the hundreds of MB


@dataclass
class PairInput:
    """What the pairing test reads: the selections of entities selected twice or
    more, sorted by entity (an entity selected once can never make a significant
    pair), and the draws' pools."""
    entity: np.ndarray
    draw: np.ndarray
    assigned: np.ndarray  # per row × k_max: inspector index, -1 where none
    pools: list[np.ndarray]
    k: np.ndarray
    n_inspectors: int
    alpha: float

    def rows(self, a: int, b: int) -> PairInput:
        return PairInput(self.entity[a:b], self.draw[a:b], self.assigned[a:b], self.pools, self.k, self.n_inspectors, self.alpha)

    def widths(self) -> np.ndarray:
        """Per row, the size of its draw's inspector pool: the (selection, pool member) rows it makes."""
        return np.array([len(pool) for pool in self.pools], dtype=np.int64)[self.draw]

    def chunks(self, size: int = PAIR_CHUNK) -> list[tuple[int, int]]:
        """Row ranges of about ``size`` (selection, pool member) rows each, cut between
        entities: every pair is then counted within one range."""
        if not len(self.entity):
            return []
        width = self.widths()
        before = np.cumsum(width) - width
        starts = np.flatnonzero(np.r_[True, self.entity[1:] != self.entity[:-1]])
        bucket = before[starts] // size
        cuts = starts[np.r_[True, bucket[1:] != bucket[:-1]]].tolist()
        return list(zip(cuts, [*cuts[1:], len(self.entity)]))


@dataclass
class PairPart:
    """One range's share of the pairing test; the reduction needs only these."""
    pairs: int  # pairs of two or more trials
    small: np.ndarray  # their smallest attainable p, where <= alpha (all that Tarone's K depends on)
    key: np.ndarray  # candidates (attainable p <= alpha, seen twice or more): entity * J + inspector
    min_p: np.ndarray
    count: np.ndarray
    p: np.ndarray
    expected: np.ndarray
    trials: np.ndarray


def pair_part(inp: PairInput) -> PairPart:
    """The pairing test's counts and candidates' exact p-values over ``inp``'s rows."""
    J = max(inp.n_inspectors, 1)
    width = inp.widths()
    none = np.zeros(0)
    if not width.sum():
        return PairPart(0, none, np.zeros(0, np.int64), none, np.zeros(0, np.int64), none, none, np.zeros(0, np.int64))
    row_of = np.repeat(np.arange(len(width)), width)
    inspector = np.concatenate([inp.pools[d] for d in inp.draw.tolist()]).astype(np.int64)
    prob = np.repeat(np.minimum(1.0, inp.k[inp.draw] / np.maximum(width, 1)), width)
    key = inp.entity[row_of].astype(np.int64) * J + inspector
    del row_of, inspector
    uniq, inv, trials = np.unique(key, return_inverse=True, return_counts=True)
    min_p = np.exp(np.bincount(inv, weights=np.log(prob), minlength=len(uniq)))
    keep = trials >= 2
    small = keep & (min_p <= inp.alpha)
    got = inp.assigned >= 0
    seen, seen_count = np.unique(np.repeat(inp.entity.astype(np.int64), got.sum(axis=1)) * J + inp.assigned[got], return_counts=True)
    count = np.zeros(len(uniq), np.int64)
    at = np.searchsorted(uniq, seen)
    inside = at < len(uniq)
    inside[inside] = uniq[at[inside]] == seen[inside]
    count[at[inside]] = seen_count[inside]
    cand = np.flatnonzero(small & (count >= 2))
    p = np.zeros(len(cand))
    if len(cand):
        rank = np.full(len(uniq), -1, np.int64)
        rank[cand] = np.arange(len(cand))
        want = rank[inv] >= 0
        pmf, length = poisson_binomial_pmfs(prob[want], rank[inv][want], len(cand))
        # Each row trimmed to its own trials: the sum does not depend on what else shares the batch.
        p = np.array([pmf[n, c:length[n] + 1].sum() for n, c in enumerate(count[cand].tolist())])
    expected = np.bincount(inv, weights=prob, minlength=len(uniq))[cand]
    return PairPart(int(keep.sum()), min_p[small], uniq[cand], min_p[cand], count[cand], p, expected, trials[cand])


def _pair_job(bounds: tuple[int, int]) -> PairPart:
    return pair_part(parallel.shared().rows(*bounds))


def _pair_rows(data: PairInput, bounds: tuple[int, int]) -> tuple[tuple[int, int], PairInput]:
    return (0, bounds[1] - bounds[0]), data.rows(*bounds)


def pairing_test(design: Design, observed: Observed, alpha: float = 0.05, *,
                 chunk: int = PAIR_CHUNK) -> tuple[list[TestResult], dict[str, Any]]:
    """Inspector–entity pairs seen together more often than k/M allows.

    For each (inspector, entity) pair, over the draws that selected the entity
    with the inspector in the pool, the pair count is Poisson-binomial with
    probabilities k/M. Pairs that could never reach significance are dropped
    first (Tarone 1990): m(K) pairs whose smallest attainable p (all the
    probabilities multiplied) is ≤ α/K, with the smallest K such that
    m(K) ≤ K; the remaining pairs are tested at α/K (Bonferroni).

    Map-reduce over ranges of entities (``chunk`` rows each, in worker processes
    or on the Dask engine when there are several): a range's pairs are its own,
    and Tarone's K needs only the attainable p-values at or below α (m(K) for
    K >= 1 counts no others). A province has tens of millions of (selection,
    pool member) rows; one pass over all of them took gigabytes at once.
    """
    multi = np.bincount(observed.sel_entity, minlength=design.n_entities)[observed.sel_entity] >= 2
    rows = np.flatnonzero(multi)
    rows = rows[np.argsort(observed.sel_entity[rows], kind="stable")]
    inp = PairInput(observed.sel_entity[rows], design.block_draw[observed.sel_block[rows]], observed.assigned[rows],
                    design.pools, design.k, len(design.inspector_names), alpha)
    ranges = inp.chunks(chunk)
    if len(ranges) > 1:
        parts = parallel.fork_map(_pair_job, ranges, inp, parallel=len(ranges) > 2, part=_pair_rows)
    else:
        parts = [pair_part(inp)] if ranges else []
    if not sum(p.pairs for p in parts):  # no pair of two or more trials (and so no attainable p either)
        return [], {"pairs": 0, "testable": 0, "tarone_k": 1}
    small = np.sort(np.concatenate([p.small for p in parts]))
    # Tarone: the smallest K with m(K) = #{min_p <= alpha/K} <= K; m falls as K grows, so search it on sorted min_p.
    Ks = np.arange(1, len(small) + 2)
    m_of_K = np.searchsorted(small, alpha / Ks, side="right")
    K = int(Ks[np.argmax(m_of_K <= Ks)])
    info = {"pairs": sum(p.pairs for p in parts), "testable": int(np.searchsorted(small, alpha / K, side="right")), "tarone_k": K}
    J = max(len(design.inspector_names), 1)
    results = []
    for part in parts:
        for n in np.flatnonzero(part.min_p <= alpha / K).tolist():
            e, j = divmod(int(part.key[n]), J)
            c, p, expected = int(part.count[n]), float(part.p[n]), float(part.expected[n])
            results.append(TestResult("pair", float(c), p, c / expected, {"inspector": design.inspector_names[j], "entity": e,
                                                                      "expected": expected, "draws": int(part.trials[n])},
                                      adjusted=min(1.0, p * K)))
    return results, info


def workload_null(design: Design) -> dict[int, np.ndarray]:
    """pmf of each inspector's number of assignments: in each draw the
    inspector is picked for each of its n selections with probability k/M,
    independently: a binomial per draw, convolved over the draws."""
    per_draw = np.zeros(len(design.pools), np.int64)
    np.add.at(per_draw, design.block_draw, design.block_sample)
    parts: dict[int, list[np.ndarray]] = {}
    for d, pool in enumerate(design.pools):
        if not per_draw[d] or not len(pool):
            continue
        pmf = stats.binom.pmf(np.arange(per_draw[d] + 1), per_draw[d], min(1.0, design.k[d] / len(pool)))
        for j in pool.tolist():
            parts.setdefault(j, []).append(pmf)
    return {j: _convolve_all(ps) for j, ps in parts.items()}


def workload_test(design: Design, observed: Observed, null: dict[int, np.ndarray] | None = None) -> list[TestResult]:
    """Assignments per inspector against the exact null (workload_null), two-sided."""
    null = workload_null(design) if null is None else null
    counts = np.bincount(observed.assigned[observed.assigned >= 0], minlength=len(design.inspector_names))
    out = []
    for j, pmf in sorted(null.items()):
        c = int(counts[j])
        upper, lower = float(pmf[c:].sum()), float(pmf[:c + 1].sum())
        expected = float(np.dot(np.arange(len(pmf)), pmf))
        out.append(TestResult("workload", float(c), min(1.0, 2 * min(upper, lower)), c / expected if expected else None,
                              {"inspector": design.inspector_names[j], "expected": expected}))
    return out


def family_pvalues(global_tests: list[TestResult], groups: list[TestResult], entity_q: np.ndarray,
                   pairs: list[TestResult], workload: list[TestResult]) -> dict[str, float]:
    """One p-value per family of tests, to be combined by Holm: each family's
    smallest adjusted p (BH, Tarone-Bonferroni) is a valid p-value for the
    family's global null, and the global tests enter one by one."""
    fam = {f"global:{t.name}": t.pvalue for t in global_tests}
    fam["groups"] = float(min([g.adjusted for g in groups if g.adjusted is not None], default=1.0))
    fam["entities"] = float(min(1.0, 2 * entity_q.min())) if len(entity_q) else 1.0  # upper and lower scans: Bonferroni ×2
    fam["pairs"] = float(min([p.adjusted for p in pairs if p.adjusted is not None], default=1.0))
    fam["workload"] = float(min([w.adjusted for w in workload if w.adjusted is not None], default=1.0))
    return fam
