"""Statistics of the draws audit against independently computed references.

References are brute-force enumerations of every possible outcome on tiny
designs (the method is named in each test), or scipy's own implementation.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from liushuang.audit import stats as S
from scipy import stats as sps


def tiny_design(blocks: list[tuple[list[int], int]], n_entities: int, pool: int = 3, k: int = 2) -> S.Design:
    """blocks: (members, sample size); one draw per block."""
    sizes = [len(m) for m, _ in blocks]
    return S.Design(n_entities, np.arange(len(blocks), dtype=np.int32), np.array(sizes), np.array([n for _, n in blocks]),
                    np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), np.concatenate([m for m, _ in blocks]).astype(np.int32),
                    [np.arange(pool, dtype=np.int32) for _ in blocks], np.full(len(blocks), k), [f"I{i}" for i in range(pool)])


def observe(design: S.Design, chosen: list[tuple[int, ...]], assigned: list[list[tuple[int, ...]]] | None = None) -> S.Observed:
    sel_block, sel_pos, entity, rows = [], [], [], []
    for b, picks in enumerate(chosen):
        members = design.members[design.offsets[b]:design.offsets[b + 1]].tolist()
        for j, e in enumerate(picks):
            sel_block.append(b)
            sel_pos.append(members.index(e))
            entity.append(e)
            rows.append(list(assigned[b][j]) if assigned else [-1, -1])
    e = np.array(entity, np.int64)
    return S.Observed(np.bincount(e, minlength=design.n_entities), np.array(sel_block), np.array(sel_pos), e, np.array(rows).reshape(-1, 2))


def test_poisson_binomial_against_enumeration_and_scipy():
    rng = np.random.default_rng(0)
    probs = rng.random(7) * 0.6
    # Reference 1: enumerate all 2^7 outcomes.
    ref = np.zeros(8)
    for outcome in itertools.product([0, 1], repeat=7):
        ref[sum(outcome)] += np.prod([p if o else 1 - p for p, o in zip(probs, outcome)])
    pmf, length = S.poisson_binomial_pmfs(probs, np.zeros(7, np.int64), 1)
    assert length[0] == 7
    np.testing.assert_allclose(pmf[0], ref, rtol=1e-12, atol=1e-15)
    # Reference 2: scipy.stats.poisson_binom (SciPy >= 1.15).
    np.testing.assert_allclose(pmf[0], sps.poisson_binom(probs).pmf(np.arange(8)), rtol=1e-10, atol=1e-14)


def test_entity_tails_are_exact():
    # Entity 0 is in three blocks with π = 1/2, 1/3, 1/4; it was drawn twice.
    design = tiny_design([([0, 1], 1), ([0, 1, 2], 1), ([0, 1, 2, 3], 1)], 4)
    null = S.NullModel(design)
    obs = observe(design, [(0,), (0,), (1,)])
    upper, lower = null.entity_tails(obs.counts)
    p = [1 / 2, 1 / 3, 1 / 4]
    exact_ge2 = sum(np.prod([q if o else 1 - q for q, o in zip(p, out)]) for out in itertools.product([0, 1], repeat=3) if sum(out) >= 2)
    assert upper[0] == pytest.approx(exact_ge2, rel=1e-12)
    assert lower[0] == pytest.approx(1 - 1 / 24, rel=1e-12)  # P(X <= 2) = 1 - P(all three)
    np.testing.assert_allclose(null.mean[:4], [1 / 2 + 1 / 3 + 1 / 4, 1 / 2 + 1 / 3 + 1 / 4, 1 / 3 + 1 / 4, 1 / 4])


def test_group_test_against_enumeration():
    # Two draws; the group is entities {0, 1}. Enumerate every pair of samples (10 × 6 outcomes, equally likely).
    blocks = [([0, 1, 2, 3, 4], 2), ([0, 1, 5, 6], 2)]
    design = tiny_design(blocks, 7)
    null = S.NullModel(design)
    group = np.zeros(7, bool)
    group[[0, 1]] = True
    dist = Counter()
    for a in itertools.combinations(blocks[0][0], 2):
        for b in itertools.combinations(blocks[1][0], 2):
            dist[sum(e in (0, 1) for e in a + b)] += 1
    total = sum(dist.values())
    obs = observe(design, [(0, 1), (0, 1)])  # the group took all four selections
    r = null.group_test("g", group, obs)
    exact_upper = sum(c for s, c in dist.items() if s >= 4) / total
    exact_lower = sum(c for s, c in dist.items() if s <= 4) / total
    assert r.statistic == 4
    assert r.detail["p_upper"] == pytest.approx(exact_upper, rel=1e-12)
    assert r.pvalue == pytest.approx(min(1, 2 * min(exact_upper, exact_lower)), rel=1e-12)
    assert r.detail["expected"] == pytest.approx(2 * 2 / 5 + 2 * 2 / 4)


def test_group_restricted_to_blocks_and_deterministic_blocks():
    blocks = [([0, 1], 2), ([0, 1, 2], 1)]
    design = tiny_design(blocks, 3)
    null = S.NullModel(design)
    group = np.array([True, True, False])
    pmf, fixed = null.group_null(group)
    assert fixed == 2  # block 0 lies entirely in the group
    np.testing.assert_allclose(pmf, [1 / 3, 2 / 3])
    only_second = np.array([False, True])
    r = null.group_test("g", group, observe(design, [(0, 1), (2,)]), blocks=only_second)
    assert r.statistic == 0 and r.detail["p_lower"] == pytest.approx(1 / 3)


def test_simulation_is_uniform_over_subsets():
    # N = 5, n = 2 (10 subsets) and N = 4, n = 3 (the complement path): every subset equally likely.
    design = tiny_design([([0, 1, 2, 3, 4], 2), ([5, 6, 7, 8], 3)], 9)
    rng = np.random.default_rng(42)
    seen = [Counter(), Counter()]
    reps = 6000
    for _ in range(reps):
        obs = S.simulate(design, rng, with_assignments=False)
        for b in range(2):
            seen[b][tuple(sorted(obs.sel_entity[obs.sel_block == b].tolist()))] += 1
    for b, n_subsets in ((0, 10), (1, 4)):
        assert len(seen[b]) == n_subsets
        expected = reps / n_subsets
        # Each count is binomial(reps, 1/n): within 5 standard deviations.
        assert all(abs(c - expected) < 5 * np.sqrt(expected * (1 - 1 / n_subsets)) for c in seen[b].values())


def test_simulated_assignments_are_uniform_pairs():
    design = tiny_design([([0, 1, 2], 1)], 3, pool=4, k=2)
    rng = np.random.default_rng(7)
    pairs = Counter(tuple(sorted(S.simulate(design, rng).assigned[0].tolist())) for _ in range(6000))
    assert len(pairs) == 6 and all(abs(c - 1000) < 5 * np.sqrt(1000 * 5 / 6) for c in pairs.values())


def test_order_test_detects_a_tilt():
    rng = np.random.default_rng(1)
    blocks = [(list(range(b * 100, b * 100 + 100)), 10) for b in range(40)]
    design = tiny_design(blocks, 4000)
    fair = S.simulate(design, rng, with_assignments=False)
    assert S.order_test(design, fair).pvalue > 0.001
    tilted = observe(design, [tuple(range(b * 100, b * 100 + 10)) for b in range(40)])  # always the head of the list
    result = S.order_test(design, tilted)
    assert result.pvalue < 1e-10 and result.detail["mean_position"] < 0.1


def test_pairing_with_tarone_by_hand():
    # One entity drawn in 4 draws, pool of 3, k = 2: P(a given inspector) = 2/3 per draw.
    design = tiny_design([([0, 1], 1)] * 4, 2, pool=3, k=2)
    obs = observe(design, [(0,)] * 4, [[(0, 1)]] * 4)
    results, info = S.pairing_test(design, obs)
    # Pairs (I0,0), (I1,0), (I2,0): the smallest attainable p is (2/3)^4 ≈ 0.198 > 0.05: none testable.
    assert info == {"pairs": 3, "testable": 0, "tarone_k": 1} and results == []
    # With a pool of 10 (π = 0.2), (0.2)^4 = 0.0016: testable, and 4 of 4 is significant.
    design = tiny_design([([0, 1], 1)] * 4, 2, pool=10, k=2)
    results, info = S.pairing_test(design, observe(design, [(0,)] * 4, [[(3, 4)]] * 4))
    assert info["testable"] == 10 and info["tarone_k"] == 10
    assert {r.detail["inspector"] for r in results} == {"I3", "I4"}
    assert all(r.pvalue == pytest.approx(0.2**4) and r.adjusted == pytest.approx(10 * 0.2**4) for r in results)


def pairing_case() -> tuple[S.Design, S.Observed]:
    """40 entities in 60 draws of 8, pools of 6 (k = 2); entity 5 always gets inspectors 0 and 1 when drawn."""
    rng = np.random.default_rng(11)
    design = tiny_design([(list(range(40)), 8)] * 60, 40, pool=6, k=2)
    obs = S.simulate(design, rng)
    obs.assigned[obs.sel_entity == 5] = [0, 1]
    return design, obs


def test_pairing_is_the_same_whatever_the_ranges_of_entities():
    design, obs = pairing_case()
    whole, info = S.pairing_test(design, obs)
    assert info["testable"] > 0 and {(r.detail["entity"], r.detail["inspector"]) for r in whole} >= {(5, "I0"), (5, "I1")}
    width = 6 * int((np.bincount(obs.sel_entity)[obs.sel_entity] >= 2).sum())
    assert len(S.PairInput(obs.sel_entity, design.block_draw[obs.sel_block], obs.assigned, design.pools, design.k, 6, 0.05)
               .chunks(width // 7)) >= 5
    # Ranges of about a seventh of the rows each, run in worker processes: the same tests, the same Tarone K.
    ranged, ranged_info = S.pairing_test(design, obs, chunk=width // 7)
    assert ranged_info == info
    assert [(r.statistic, r.pvalue, r.adjusted, r.detail) for r in ranged] == [(r.statistic, r.pvalue, r.adjusted, r.detail) for r in whole]


def test_pairing_tarone_k_counts_pairs_of_every_range():
    # Planted pairs in two far-apart entities: with one range per entity, K still counts both ranges' pairs.
    design, obs = pairing_case()
    obs.assigned[obs.sel_entity == 30] = [2, 3]
    _, info = S.pairing_test(design, obs)
    assert S.pairing_test(design, obs, chunk=1)[1] == info and info["tarone_k"] > 1


def test_workload_against_binomial():
    # 10 draws of one entity each, pool 4, k 2: each inspector's load is Binomial(10, 1/2).
    design = tiny_design([([0], 1)] * 10, 1, pool=4, k=2)
    assigned = [[(0, 1)]] * 10  # inspectors 0 and 1 every time
    res = {r.detail["inspector"]: r for r in S.workload_test(design, observe(design, [(0,)] * 10, assigned))}
    ref = sps.binom(10, 0.5)
    assert res["I0"].statistic == 10 and res["I0"].pvalue == pytest.approx(2 * ref.sf(9))
    assert res["I2"].statistic == 0 and res["I2"].pvalue == pytest.approx(2 * ref.cdf(0))


def test_holm_and_bh():
    # Holm by hand: sorted p = .01, .02, .04 with m = 3 → .03, .04, .04.
    assert S.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    q = S.bh(np.array([0.01, 0.02, 0.04, 0.5]))
    np.testing.assert_allclose(q, [0.04, 0.04, 0.16 / 3, 0.5])


def test_counts_only_simulation_matches_the_full_one():
    # Same generator state → the same replicate, with or without frame-sized arrays (including a flipped block).
    design = tiny_design([([0, 1, 2, 3, 4], 2), ([5, 6, 7, 8], 3), ([0, 5, 9], 1)], 10)
    for seed in range(20):
        full = S.simulate(design, np.random.default_rng(seed), with_assignments=False).counts
        fast = S.simulate_counts(design, np.random.default_rng(seed))
        np.testing.assert_array_equal(full, fast)


def test_no_entity_is_drawn_twice_in_a_block_at_high_sampling_fractions():
    # Many collisions (30-49 % fractions): every block's sample must have distinct members, n of them.
    rng = np.random.default_rng(3)
    blocks = [(list(range(b * 200, b * 200 + 200)), int(n)) for b, n in enumerate(rng.integers(60, 99, size=50))]
    design = tiny_design(blocks, 10_000)
    for _ in range(20):
        obs = S.simulate(design, rng, with_assignments=False)
        for b, (_members, n) in enumerate(blocks):
            picked = obs.sel_entity[obs.sel_block == b]
            assert len(picked) == n == len(set(picked.tolist()))
        assert S.simulate_counts(design, rng).max() == 1


def test_vectorised_hypergeometric_pmfs_equal_scipy():
    N = np.array([5, 40, 1000, 7, 300])
    K = np.array([2, 13, 999, 7, 1])
    n = np.array([3, 20, 10, 2, 299])
    for (nn, kk, ss), pmf in zip(zip(N, K, n), S._hypergeom_pmfs(N, K, n)):
        np.testing.assert_allclose(pmf, sps.hypergeom.pmf(np.arange(min(ss, kk) + 1), nn, kk, ss), rtol=1e-9, atol=1e-300)


def test_monte_carlo_depends_on_the_seed_only():
    from liushuang.audit.draws import monte_carlo

    design = tiny_design([(list(range(b * 50, b * 50 + 50)), 7) for b in range(30)], 1500)
    null = S.NullModel(design)
    serial = monte_carlo(design, null, 101, seed=5, workers=1)
    assert len(serial[0]) == 101
    again = monte_carlo(design, null, 101, seed=5, workers=2)
    np.testing.assert_array_equal(serial[0], again[0])
    np.testing.assert_array_equal(serial[1], again[1])
    assert not np.array_equal(serial[0], monte_carlo(design, null, 101, seed=6, workers=1)[0])


def test_a_small_group_is_counted_through_its_entities_blocks_exactly_as_by_a_pass_over_all_members():
    rng = np.random.default_rng(5)
    n_entities = 5000
    blocks = []
    for _ in range(300):
        size = int(rng.integers(0, 60))  # empty blocks too
        blocks.append((sorted(rng.choice(n_entities, size=size, replace=False).tolist()), min(size, 3)))
    design = tiny_design(blocks, n_entities)
    for size in (0, 1, 3, 40, 77, 2000):  # below n_entities / 64 through the entities' blocks; at or above it, a pass
        for _ in range(5):
            in_group = np.zeros(n_entities, bool)
            in_group[rng.choice(n_entities, size=size, replace=False)] = True
            counts = design.group_counts(in_group)
            want = [sum(in_group[e] for e in members) for members, _ in blocks]
            assert counts.tolist() == want == design._dense_counts(in_group).tolist()


def test_inspector_year_groups_equal_the_test_of_each_group_as_a_mask():
    # The per-inspector groups are built from the assignments at once and tested through their
    # own entities (a province has hundreds of thousands); the reference tests each (inspector,
    # year) group as a boolean mask over every entity, with group_test.
    import datetime as dt
    from types import SimpleNamespace

    from liushuang.audit.draws import _inspector_groups

    rng = np.random.default_rng(8)
    n_entities, draws, pool = 300, 40, 6
    blocks = [(sorted(rng.choice(n_entities, size=int(rng.integers(10, 40)), replace=False).tolist()), 0) for _ in range(draws)]
    blocks = [(m, int(rng.integers(2, 8))) for m, _ in blocks]
    design = tiny_design(blocks, n_entities, pool=pool)
    chosen = [tuple(rng.choice(m, size=n, replace=False).tolist()) for m, n in blocks]
    assigned = [[tuple(rng.choice(pool, size=2, replace=False).tolist()) if rng.random() > 0.1 else (int(rng.integers(pool)), -1)
                 for _ in picks] for picks in chosen]
    observed = observe(design, chosen, assigned)
    drawn = [(dt.date(2020 + int(rng.integers(0, 4)), 3, 1) - dt.date(1970, 1, 1)).days for _ in range(draws)]
    data = SimpleNamespace(tasks=[SimpleNamespace(drawn=d) for d in drawn])
    null = S.NullModel(design)
    got = _inspector_groups(data, design, observed, null)

    years = np.array([(dt.date(1970, 1, 1) + dt.timedelta(days=d)).year for d in drawn])
    block_year = years[design.block_draw]
    handled: dict[tuple[int, int], set[int]] = {}
    for row, e in enumerate(observed.sel_entity.tolist()):
        for j in observed.assigned[row][observed.assigned[row] >= 0].tolist():
            handled.setdefault((j, int(block_year[observed.sel_block[row]])), set()).add(e)
    want = []
    for (j, y), entities in sorted(handled.items()):
        later = block_year == y + 1
        if not later.any() or len(entities) < 3:
            continue
        mask = np.zeros(n_entities, bool)
        mask[list(entities)] = True
        r = null.group_test(f"I{j} 于 {y} 年检查的主体，在 {y + 1} 年", mask, observed, blocks=later)
        if r.detail["expected"] > 0:
            want.append(r)
    assert len(want) >= 10
    assert [(r.name, r.statistic, r.pvalue, r.detail) for r in got] == [(r.name, r.statistic, r.pvalue, r.detail) for r in want]
    assert all(r.adjusted is not None for r in got)


def test_named_groups_are_every_region_industry_and_class_with_their_exact_tests(clean_dir):
    from liushuang.audit import draw_data
    from liushuang.audit.draws import audit_draws

    from liushuang.policy import load_policy

    data = draw_data.load(clean_dir, load_policy(), progress=False)
    audit = audit_draws(data, resamples=19, seed=1)
    design, observed = S.design_from(data)
    null = S.NullModel(design)
    want = []
    for attr, label in (("region_code", "区域"), ("industry_code", "行业"), ("credit_class", "信用风险分类")):
        values = data.attributes[attr]
        for value in sorted({v for v in values if v}):
            mask = np.array([v == value for v in values])
            if 0 < mask.sum() < design.n_entities:
                want.append(null.group_test(f"{label}：{value}", mask, observed))
    named = [g for g in audit.groups if g.name.split("：")[0] in ("区域", "行业", "信用风险分类")]
    assert len(want) >= 5 and {g.name.split("：")[0] for g in want} == {"区域", "行业", "信用风险分类"}
    assert [(g.name, g.statistic, g.pvalue, g.detail["entities"]) for g in named] == [(g.name, g.statistic, g.pvalue, g.detail["entities"]) for g in want]


def test_ragged_cdfs_equal_the_padded_pmf_matrix_and_the_tails_use_them():
    # The null keeps each entity's cdf only as long as its trials: padding every entity to
    # the most trials of any took owners × width (a province: millions × hundreds).
    rng = np.random.default_rng(3)
    owners = rng.integers(0, 400, size=3000)
    owners[owners == 7] = 8  # an owner with no trials
    probs = rng.uniform(0.01, 0.9, size=len(owners))
    pmf, length = S.poisson_binomial_pmfs(probs, owners, 401)
    cdf, start, trials = S.poisson_binomial_cdfs(probs, owners, 401)
    np.testing.assert_array_equal(trials, length)
    assert len(cdf) == len(owners) + 401 and trials[7] == 0 and cdf[start[7]] == 1.0
    dense = np.cumsum(pmf, axis=1)
    for e in range(401):
        np.testing.assert_array_equal(cdf[start[e]:start[e] + trials[e] + 1], dense[e, :trials[e] + 1])
    blocks = [(sorted(rng.choice(500, size=int(rng.integers(5, 60)), replace=False).tolist()), int(rng.integers(1, 5))) for _ in range(80)]
    design = tiny_design(blocks, 500)
    null = S.NullModel(design)
    counts = rng.integers(0, 6, size=500)
    upper, lower = null.entity_tails(counts)
    pmf, trials = S.poisson_binomial_pmfs(null.pi_member, design.members.astype(np.int64), 500)
    want_lower = [pmf[e, :min(c, trials[e]) + 1].sum() for e, c in enumerate(counts)]
    want_upper = [pmf[e, c:].sum() if c <= trials[e] else 0.0 for e, c in enumerate(counts)]
    np.testing.assert_allclose(lower, np.clip(want_lower, 0, 1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(upper, np.clip(want_upper, 0, 1), rtol=1e-9, atol=1e-12)
    assert (counts > trials).any() and (upper[counts > trials] == 0).all()
