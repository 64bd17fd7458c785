"""The compiled gate (jsonschema-rs) reaches the same verdict as jsonschema.

The validator trusts the gate's "valid" answer without asking jsonschema, so
the two must agree on every record. Hypothesis mutates real valid records of
every kind with values chosen to probe where implementations differ: dates
and date-times at the edges of RFC 3339, digits from other scripts, huge and
special numbers, wrong types, missing and extra fields.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liushuang.generator.validate import Schemas

from liushuang import schemas
from liushuang.synth.generate import SynthConfig, generate

COMPILED = Schemas()
DATASET = generate(SynthConfig(entities=200, years=1, seed=3)).records
BASES = [(kind, rec) for kind in schemas.KINDS for rec in DATASET[kind][:3]]

TRICKY_TEXT = [
    "2024-02-29", "2023-02-29", "2024-1-01", "２０２４-01-01", "٢٠٢٤-01-01", "2024-01-01 ", "0000-00-00", "9999-12-31",
    "2024-03-01T09:30:00+08:00", "2024-03-01t09:30:00+08:00", "2024-03-01 09:30:00+08:00", "2024-03-01T09:30:00Z",
    "2024-03-01T09:30:00z", "2024-03-01T24:00:00+08:00", "2016-12-31T23:59:60Z", "2024-03-01T23:59:60+08:00",
    "2024-03-01T09:30:00.123456789+08:00", "2024-03-01T09:30:00+8:00", "2024-03-01T09:30", "2024-03-01T09:30:00+24:00",
    "91110108551385082Q", "9111010855138508２Q", "91110108551385082q", "", " ", "a" * 65, "\u0000", "𠀀",
    "210202", "２10202", "有效", "罚款", "1", "A",
]
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.0, -0.0, 1e308, 5e-324, 1.0, 2.0]),
    st.sampled_from(TRICKY_TEXT), st.text(max_size=20),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=6)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw):
    kind, base = draw(st.sampled_from(BASES))
    rec = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(rec) if p]
        op = draw(st.sampled_from(["set", "delete", "add"]))
        if op == "add" or not paths:
            rec[draw(st.sampled_from([*schemas.load(kind)["properties"], "extra"]))] = draw(json_values)
            continue
        path = draw(st.sampled_from(paths))
        parent = rec
        for step in path[:-1]:
            parent = parent[step]
        if op == "delete":
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        else:
            parent[path[-1]] = draw(json_values)
    return kind, rec


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_gate_agrees_with_jsonschema(case):
    kind, rec = case
    assert COMPILED.gate[kind].is_valid(rec) == COMPILED.exact[kind].is_valid(rec), rec


def test_unmodified_records_are_valid_in_both():
    for kind, rec in BASES:
        assert COMPILED.gate[kind].is_valid(rec) and COMPILED.exact[kind].is_valid(rec), kind


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([t for t in TRICKY_TEXT if t[:4].isascii()]))
def test_date_edge_cases_agree(text):
    for kind, field in [("penalties", "decided_on"), ("notifications", "pushed_at")]:
        rec = copy.deepcopy(next(r for k, r in BASES if k == kind))
        rec[field] = text
        assert COMPILED.gate[kind].is_valid(rec) == COMPILED.exact[kind].is_valid(rec), (field, text)
