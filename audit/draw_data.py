"""Load what the draws audit needs, compactly.

Entities become integer indices (the roster first, then any entity a frame
names that the roster lacks); each task keeps its frame, strata and
selections as numpy index arrays, so thousands of draws over a city roster fit
in memory. Tasks are sorted by id: results do not depend on input order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from liushuang.generator.report import Report
from liushuang.generator.validate import Validator

from liushuang.policy import Policy

from .data import MISSING, Pool, day, encode_frame


@dataclass
class Inspector:
    department: str
    active_from: int
    active_to: int
    recusals: frozenset[str]


@dataclass
class TaskDraw:
    task_id: str
    department: str
    departments: tuple[str, ...]
    drawn_at: str
    drawn: int
    notice: int
    algorithm: tuple[str, str] | None
    commitment: dict[str, Any] | None
    seed: dict[str, Any] | None
    redraws: list[dict[str, Any]]
    frame: np.ndarray  # entity indices, platform order
    frame_strata: np.ndarray  # index into strata_names, per frame member
    strata_names: list[str]
    declared: list[tuple[str, int, int, float | None]]  # stratum, size, sample size, ratio
    frame_hash: str | None
    selections: np.ndarray  # entity indices, draw order
    selection_strata: list[str]
    assignments: list[tuple[int, tuple[str, ...]]]
    inspector_pool: tuple[str, ...] | None
    inspectors_per_entity: int


@dataclass
class DrawData:
    usccs: list[str]
    index: dict[str, int]
    in_roster: np.ndarray  # bool per entity index
    attributes: dict[str, list[Any]]  # region_code, industry_code, credit_class, status (roster entities; None otherwise)
    inspectors: dict[str, Inspector]
    tasks: list[TaskDraw]
    validation: Report
    extra: dict[str, Any] = field(default_factory=dict)

    def entity(self, uscc: str) -> int:
        idx = self.index.get(uscc)
        if idx is None:
            idx = self.index[uscc] = len(self.usccs)
            self.usccs.append(uscc)
            for values in self.attributes.values():
                values.append(None)
        return idx


def load(data_dir: str | Path, policy: Policy, *, progress: bool | None = None) -> DrawData:
    sink, finish = loader()
    return finish(Validator(policy, progress=progress).validate_dir(data_dir, sink=sink))


def loader() -> tuple[Callable[[str, dict[str, Any]], None], Callable[[Report], DrawData]]:
    """What the validator feeds each accepted record to, and what makes the DrawData after."""
    attrs: dict[str, list[Any]] = {"region_code": [], "industry_code": [], "credit_class": [], "status": []}
    data = DrawData([], {}, np.zeros(0, bool), attrs, {}, [], Report(""))
    roster = 0
    pool = Pool()  # inspector ids, strata, regions, classes: one string each, not one per row

    def sink(kind: str, rec: dict[str, Any]) -> None:
        nonlocal roster
        if kind == "entities":
            if rec["uscc"] in data.index:
                return
            data.index[rec["uscc"]] = len(data.usccs)
            data.usccs.append(rec["uscc"])
            for k in attrs:
                attrs[k].append(pool(rec.get(k)))
            roster = len(data.usccs)
        elif kind == "inspectors":
            data.inspectors[rec["inspector_id"]] = Inspector(rec["department"], day(rec["active_from"]), day(rec.get("active_to")),
                                                             frozenset(r["uscc"] for r in rec.get("recusals") or []))
        elif kind == "inspection_tasks":
            data.tasks.append(_task(rec, data, pool))

    def finish(report: Report) -> DrawData:
        data.validation = report
        pool.clear()
        data.in_roster = np.arange(len(data.usccs)) < roster
        data.tasks.sort(key=lambda t: t.task_id)
        return data

    return sink, finish


def _task(rec: dict[str, Any], data: DrawData, pool: Pool) -> TaskDraw:
    members = rec["frame"]["members"]
    names = sorted({m["stratum"] for m in members} | {s["stratum"] for s in rec["strata"]})
    frame, frame_strata = encode_frame(members, data.entity, names)
    algorithm = rec.get("algorithm")
    return TaskDraw(
        task_id=rec["task_id"], department=rec["department"], departments=tuple(rec["departments"]),
        drawn_at=rec["drawn_at"], drawn=day(rec["drawn_at"]), notice=day(rec.get("notice_on")),
        algorithm=(algorithm["id"], algorithm["version"]) if algorithm else None,
        commitment=rec.get("commitment"), seed=rec.get("seed"), redraws=list(rec.get("redraws") or []),
        frame=frame, frame_strata=frame_strata,
        strata_names=names,
        declared=[(s["stratum"], s["size"], s["sample_size"], s.get("ratio")) for s in rec["strata"]],
        frame_hash=rec["frame"].get("hash"),
        selections=np.array([data.entity(s["uscc"]) for s in rec["selections"]], dtype=np.int32),
        selection_strata=[pool(s["stratum"]) for s in rec["selections"]],
        assignments=[(data.entity(a["uscc"]), tuple(map(pool, a["inspectors"]))) for a in rec["assignments"]],
        inspector_pool=tuple(rec["inspector_pool"]) if rec.get("inspector_pool") else None,
        inspectors_per_entity=int(rec.get("inspectors_per_entity") or 2),
    )


__all__ = ["MISSING", "DrawData", "Inspector", "TaskDraw", "load"]
