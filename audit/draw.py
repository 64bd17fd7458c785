"""The liushuang verifiable draw, algorithm ``liushuang-ticket`` version 1.

A hash-ticket draw in the spirit of election risk-limiting audits:

1. commitment = SHA-256 of the canonical JSON of everything fixed before any
   randomness exists (task, frame with strata, sample sizes, inspector pool,
   inspectors per entity, seed source, algorithm id and version);
2. seed = SHA-256(commitment ‖ "|" ‖ public random values joined by "|");
3. every frame member gets ticket = SHA-256("seed|task|stratum|uscc") read as
   a big-endian integer; each stratum takes its n_h smallest tickets. This is
   simple random sampling without replacement, independent of frame order;
4. inspectors for each selected entity: the k smallest tickets
   SHA-256("seed|task|inspector|uscc|inspector_id") over the pool minus the
   inspectors recused for that entity.

Canonical JSON: UTF-8, keys sorted, no insignificant whitespace
(``orjson.dumps(..., option=OPT_SORT_KEYS)``).

A second algorithm, ``cryptorandom-sample_by_index`` version ``0.4``, re-derives
draws made with Stark's ``cryptorandom`` package (the SHA-256 PRNG election
audits use): one generator seeded with the seed value; strata in sorted name
order, each sampled with ``sample_by_index`` over its members in frame order;
then, for each selected entity in order, ``sample_by_index`` over the sorted
pool minus that entity's recusals. Its result depends on the frame order, so
its commitment covers the frame in platform order.

The specification with test vectors is docs/draw-algorithm.md; tests pin them.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

ALGORITHM_ID = "liushuang-ticket"
ALGORITHM_VERSION = "1"
CRYPTORANDOM_ID = "cryptorandom-sample_by_index"
CRYPTORANDOM_VERSION = "0.4"
ALGORITHMS = {(ALGORITHM_ID, ALGORITHM_VERSION), (CRYPTORANDOM_ID, CRYPTORANDOM_VERSION)}


@dataclass(frozen=True)
class DrawDesign:
    task_id: str
    frame: tuple[tuple[str, str], ...]  # (uscc, stratum) in platform order
    sample_sizes: Mapping[str, int]
    inspector_pool: tuple[str, ...]
    inspectors_per_entity: int
    seed_source: str
    recusals: Mapping[str, frozenset[str]]  # inspector id -> entities they must not inspect
    algorithm: tuple[str, str] = (ALGORITHM_ID, ALGORITHM_VERSION)

    @property
    def order_matters(self) -> bool:
        return self.algorithm[0] == CRYPTORANDOM_ID

    def canonical(self) -> bytes:
        frame = [[u, s] for u, s in self.frame]
        payload = {
            "algorithm": {"id": self.algorithm[0], "version": self.algorithm[1]},
            "task_id": self.task_id,
            "frame": frame if self.order_matters else sorted(frame),
            "sample_sizes": dict(sorted(self.sample_sizes.items())),
            "inspector_pool": sorted(self.inspector_pool),
            "inspectors_per_entity": self.inspectors_per_entity,
            "recusals": {k: sorted(v) for k, v in sorted(self.recusals.items()) if v},
            "seed_source": self.seed_source,
        }
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def commitment(design: DrawDesign) -> str:
    return hashlib.sha256(design.canonical()).hexdigest()


def frame_hash(frame: Iterable[tuple[str, str]]) -> str:
    """SHA-256 of the canonical frame alone (sorted [uscc, stratum] pairs)."""
    return hashlib.sha256(orjson.dumps(sorted([u, s] for u, s in frame))).hexdigest()


def derive_seed(commitment_hex: str, public_values: Sequence[str]) -> str:
    return hashlib.sha256("|".join([commitment_hex, *public_values]).encode("utf-8")).hexdigest()


def ticket(seed: str, task_id: str, stratum: str, uscc: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{task_id}|{stratum}|{uscc}".encode()).digest(), "big")


def inspector_ticket(seed: str, task_id: str, uscc: str, inspector_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{task_id}|inspector|{uscc}|{inspector_id}".encode()).digest(), "big")


@dataclass(frozen=True)
class DrawResult:
    selections: tuple[tuple[str, str], ...]  # (uscc, stratum) in draw order
    assignments: tuple[tuple[str, tuple[str, ...]], ...]


def draw(design: DrawDesign, seed: str) -> DrawResult:
    """Perform the design's draw with ``seed``, by its algorithm."""
    if design.algorithm == (ALGORITHM_ID, ALGORITHM_VERSION):
        return _ticket_draw(design, seed)
    if design.algorithm == (CRYPTORANDOM_ID, CRYPTORANDOM_VERSION):
        return _cryptorandom_draw(design, seed)
    raise ValueError(f"unknown algorithm {design.algorithm[0]} {design.algorithm[1]}")


def _eligible(design: DrawDesign, uscc: str) -> list[str]:
    pool = [i for i in sorted(design.inspector_pool) if uscc not in design.recusals.get(i, frozenset())]
    if len(pool) < design.inspectors_per_entity:
        raise ValueError(f"{uscc}: only {len(pool)} inspectors left after recusal")
    return pool


def _cryptorandom_draw(design: DrawDesign, seed: str) -> DrawResult:
    from .sha256prng import Sha256Prng, sample_by_index

    prng = Sha256Prng(int(seed) if seed.isdigit() else seed)
    members: dict[str, list[str]] = {}
    for uscc, stratum in design.frame:
        members.setdefault(stratum, []).append(uscc)
    selections: list[tuple[str, str]] = []
    for stratum in sorted(members):
        n = design.sample_sizes.get(stratum, 0)
        selections += [(members[stratum][i], stratum) for i in sample_by_index(len(members[stratum]), n, prng)]
    assignments = []
    for uscc, _ in selections:
        pool = _eligible(design, uscc)
        assignments.append((uscc, tuple(pool[i] for i in sample_by_index(len(pool), design.inspectors_per_entity, prng))))
    return DrawResult(tuple(selections), tuple(assignments))


def _ticket_draw(design: DrawDesign, seed: str) -> DrawResult:
    """Select entities per stratum and assign inspectors. Strata are taken in
    sorted name order, entities within a stratum by ascending ticket.

    Same tickets as ticket()/inspector_ticket(), computed by hashing the shared
    prefix once and copying the hash state per member (the vectors pin this)."""
    by_stratum: dict[str, list[str]] = {}
    for uscc, stratum in design.frame:
        by_stratum.setdefault(stratum, []).append(uscc)
    selections: list[tuple[str, str]] = []
    for stratum in sorted(by_stratum):
        members = by_stratum[stratum]
        n = design.sample_sizes.get(stratum, 0)
        if n > len(members):
            raise ValueError(f"stratum {stratum!r}: sample size {n} exceeds its {len(members)} members")
        prefix = hashlib.sha256(f"{seed}|{design.task_id}|{stratum}|".encode())
        selections += [(u, stratum) for _, u in heapq.nsmallest(n, ((_continue(prefix, u), u) for u in members))]
    assignments = []
    for uscc, _ in selections:
        prefix = hashlib.sha256(f"{seed}|{design.task_id}|inspector|{uscc}|".encode())
        ranked = heapq.nsmallest(design.inspectors_per_entity, ((_continue(prefix, i), i) for i in _eligible(design, uscc)))
        assignments.append((uscc, tuple(i for _, i in ranked)))
    return DrawResult(tuple(selections), tuple(assignments))


def _continue(prefix: Any, text: str) -> int:
    h = prefix.copy()
    h.update(text.encode())
    return int.from_bytes(h.digest(), "big")


def read_frame(path: str) -> list[tuple[str, str]]:
    """A frame file in platform order: CSV with uscc and stratum columns (or
    统一社会信用代码 and 层), or JSON Lines of {"uscc", "stratum"}."""
    import csv
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        rows = [orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip()]
        return [(r["uscc"], str(r["stratum"])) for r in rows]
    with open(p, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        out = []
        for r in reader:
            uscc = (r.get("uscc") or r.get("统一社会信用代码") or "").strip()
            stratum = (r.get("stratum") or r.get("层") or r.get("信用风险分类") or "").strip()
            if uscc:
                out.append((uscc, stratum or "全部"))
        return out


def sample_sizes(frame: Sequence[tuple[str, str]], sizes: Mapping[str, int], ratios: Mapping[str, float]) -> dict[str, int]:
    """Explicit sizes, else round(ratio × stratum size) with at least one."""
    counts: dict[str, int] = {}
    for _, s in frame:
        counts[s] = counts.get(s, 0) + 1
    out = {}
    for s, n in counts.items():
        if s in sizes:
            out[s] = sizes[s]
        elif s in ratios:
            out[s] = min(n, max(1, round(ratios[s] * n)))
        else:
            raise ValueError(f"no sample size or ratio for stratum {s!r}")
    return out


def task_record(design: DrawDesign, *, commitment_hex: str, committed_at: str, public_values: Sequence[str], drawn_at: str,
                department: str, items: Sequence[str], plan_id: str, task_name: str, start_on: str, end_on: str,
                ratios: Mapping[str, float]) -> dict:
    """Perform the draw and return the task in the inspection_tasks schema."""
    seed = derive_seed(commitment_hex, public_values)
    result = draw(design, seed)
    sizes: dict[str, int] = {}
    for _, s in design.frame:
        sizes[s] = sizes.get(s, 0) + 1
    return {
        "task_id": design.task_id, "plan_id": plan_id, "task_name": task_name, "department": department,
        "departments": [department], "items": list(items), "start_on": start_on, "end_on": end_on,
        "frame": {"size": len(design.frame), "hash": frame_hash(design.frame),
                  "members": [{"uscc": u, "stratum": s} for u, s in design.frame]},
        "strata": [{"stratum": s, "size": sizes[s], "sample_size": design.sample_sizes[s], "ratio": ratios.get(s)} for s in sorted(sizes)],
        "algorithm": {"id": design.algorithm[0], "version": design.algorithm[1]},
        "commitment": {"hash": commitment_hex, "committed_at": committed_at},
        "seed": {"value": seed, "source": design.seed_source, "public_values": list(public_values), "derived_at": drawn_at},
        "inspector_pool": sorted(design.inspector_pool), "inspectors_per_entity": design.inspectors_per_entity,
        "drawn_at": drawn_at, "redraws": [],
        "selections": [{"uscc": u, "stratum": s, "order": i} for i, (u, s) in enumerate(result.selections, 1)],
        "assignments": [{"uscc": u, "inspectors": list(p)} for u, p in result.assignments],
    }
