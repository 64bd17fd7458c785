"""Load validated records into the compact columns the audits need.

Records pass the same validator as the site build; only accepted records are
audited, and the validation summary travels with the audit report. Dates
become day numbers (days since 1970-01-01, ``MISSING`` when absent) so the
deadline arithmetic runs on numpy arrays. Rows are sorted by key on load:
results do not depend on the order of the input records.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from liushuang.generator.report import Report
from liushuang.generator.validate import Validator

from liushuang.policy import Policy

from .calendar import day_number, from_day_number

MISSING = -1
_CN = dt.timezone(dt.timedelta(hours=8))


def day(value: Any) -> int:
    """Day number of an ISO date, or of a date-time's date in China time."""
    if not value:
        return MISSING
    if len(value) == 10 or value.endswith("+08:00"):
        return day_number(dt.date.fromisoformat(value[:10]))
    return day_number(dt.datetime.fromisoformat(value).astimezone(_CN).date())


def iso(number: int) -> str | None:
    return None if number == MISSING else from_day_number(number).isoformat()


# Day-number and count columns: kept as 32-bit integer arrays, not lists of Python ints
# (a province has about ten million rows).
INTS = frozenset({"registered_on", "active_from", "active_to", "pushed", "claimed", "fed_back", "action_on", "reported",
                  "decided", "published", "revoked", "withdrawn", "publicity_end", "assessed", "valid_until", "drawn",
                  "completed", "n_inspectors"})
# Columns whose values repeat across rows and kinds (an entity's code, a department, a task):
# one string object per distinct value, not one per row.
SHARED = frozenset({"uscc", "credit_class", "status", "region_code", "industry_code", "department", "item_departments",
                    "notification_id", "feedback_type", "outcome", "finding", "authority", "assessment_type", "subject_type",
                    "level", "task_id", "items"})


class Pool(dict):
    """One object per distinct value while loading."""

    def __call__(self, value: Any) -> Any:
        return value if value is None else self.setdefault(value, value)


@dataclass
class Columns:
    """Column store of one kind: name -> list (or a 32-bit integer array), all of equal length."""

    names: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = {n: array("i") if n in INTS else [] for n in self.names}
        self._shared = tuple(n in SHARED for n in self.names)

    def add(self, values: tuple[Any, ...], pool: Pool | None = None) -> None:
        for n, v, shared in zip(self.names, values, self._shared):
            self.data[n].append(pool(v) if pool is not None and shared else v)

    def __len__(self) -> int:
        return len(self.data[self.names[0]])

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def array(self, name: str) -> np.ndarray:
        return np.asarray(self.data[name], dtype=np.int64)

    def sort(self, key: str) -> None:
        order = sorted(range(len(self)), key=self.data[key].__getitem__)
        for n in self.names:
            col = self.data[n]
            self.data[n] = array("i", (col[i] for i in order)) if n in INTS else [col[i] for i in order]


@dataclass(frozen=True)
class Frame:
    """A draw's frame, compactly: each member's entity (an index into ``AuditData.usccs``)
    and its stratum (an index into ``names``)."""

    entities: np.ndarray  # int32
    strata: np.ndarray  # int16
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.entities)


class Entities:
    """Entity codes as small integers, shared by every frame."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.usccs: list[str] = []

    def __call__(self, uscc: str) -> int:
        i = self.index.get(uscc)
        if i is None:
            i = self.index[uscc] = len(self.usccs)
            self.usccs.append(uscc)
        return i

    def frame(self, members: list[dict[str, Any]]) -> Frame:
        names = tuple(sorted({m["stratum"] for m in members}))
        return Frame(*encode_frame(members, self, names), names)


def encode_frame(members: list[dict[str, Any]], entity: Callable[[str], int], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A frame's members as two arrays: each one's entity index (``entity(uscc)``) and
    stratum (its index in ``names``)."""
    code = {n: i for i, n in enumerate(names)}
    return (np.fromiter((entity(m["uscc"]) for m in members), dtype=np.int32, count=len(members)),
            np.fromiter((code[m["stratum"]] for m in members), dtype=np.int16, count=len(members)))


def integer_codes(values: Sequence[Any]) -> tuple[np.ndarray, dict[Any, int]]:
    """Each value as a small integer (numbered in order of first appearance), and each
    value's code: integers compare fast over millions of rows, strings do not."""
    code: dict[Any, int] = {}
    return np.fromiter((code.setdefault(v, len(code)) for v in values), np.int64, len(values)), code


def _items_departments(rec: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted({i["department"] for i in rec["items"]}))


# kind -> (columns, extractor). The first column is the sort key.
EXTRACT = {
    "entities": (("uscc", "credit_class", "status", "region_code", "industry_code", "registered_on"),
                 lambda r: (r["uscc"], r.get("credit_class"), r["status"], r["region_code"], r["industry_code"], day(r["registered_on"]))),
    "inspectors": (("inspector_id", "department", "active_from", "active_to"),
                   lambda r: (r["inspector_id"], r["department"], day(r["active_from"]), day(r.get("active_to")))),
    "inspection_items": (("item_id", "name", "department"), lambda r: (r["item_id"], r["name"], r["department"])),
    "notifications": (("notification_id", "registration_id", "uscc", "department", "item_departments", "commitment_signed",
                       "pushed", "claimed"),
                      lambda r: (r["notification_id"], r["registration_id"], r["uscc"], r["department"], _items_departments(r),
                                 r["commitment_signed"], day(r["pushed_at"]), day(r.get("claimed_at")))),
    "feedback": (("feedback_id", "notification_id", "feedback_type", "outcome", "fed_back"),
                 lambda r: (r["feedback_id"], r["notification_id"], r["feedback_type"], r.get("outcome"), day(r["fed_back_at"]))),
    "tracking": (("tracking_id", "notification_id", "uscc", "department", "finding", "action_on", "reported"),
                 lambda r: (r["tracking_id"], r.get("notification_id"), r["uscc"], r["department"], r["finding"],
                            day(r["action_on"]), day(r.get("reported_to_registrar_on")))),
    "licenses": (("decision_number", "uscc", "authority", "decided", "published", "revoked", "withdrawn"),
                 lambda r: (r["decision_number"], r.get("uscc"), r["authority"], day(r["decided_on"]), day(r.get("published_on")),
                            day(r.get("revoked_on")), day(r.get("withdrawn_on")))),
    "penalties": (("decision_number", "uscc", "authority", "decided", "published", "revoked", "withdrawn", "exempt", "publicity_end"),
                  None),  # needs the policy: see load()
    "assessments": (("assessment_id", "assessment_type", "subject_type", "uscc", "level", "assessed", "valid_until", "ratio"),
                    lambda r: (r["assessment_id"], r["assessment_type"], r["subject_type"], r.get("uscc"), r["level"],
                               day(r["assessed_on"]), day(r.get("valid_until")), r.get("inspection_ratio"))),
    "inspection_tasks": (("task_id", "department", "items", "drawn", "members"), None),  # needs the entity index: see load()
    "inspection_results": (("key", "task_id", "uscc", "n_inspectors", "completed", "published"),
                           lambda r: (r["task_id"] + "/" + r["uscc"], r["task_id"], r["uscc"], len(set(r["inspectors"])),
                                      day(r["completed_on"]), day(r.get("published_on")))),
}


@dataclass
class AuditData:
    tables: dict[str, Columns]
    validation: Report
    latest_day: int  # the latest date in the data: the default "as of"
    usccs: list[str] = field(default_factory=list)  # what a Frame's entity indices stand for

    def __getitem__(self, kind: str) -> Columns:
        return self.tables[kind]


def load(data_dir: str | Path, policy: Policy, *, progress: bool | None = None) -> AuditData:
    sink, finish = loader(policy)
    return finish(Validator(policy, progress=progress).validate_dir(data_dir, sink=sink))


def loader(policy: Policy) -> tuple[Callable[[str, dict[str, Any]], None], Callable[[Report], AuditData]]:
    """What the validator feeds each accepted record to, and what makes the AuditData after."""
    from liushuang.publicity import exempt_from_publication, publicity_end

    tables = {kind: Columns(names) for kind, (names, _) in EXTRACT.items()}
    latest = [MISSING]

    def penalty(r: dict[str, Any]) -> tuple[Any, ...]:
        end = publicity_end(r, policy)
        return (r["decision_number"], r.get("uscc"), r["authority"], day(r["decided_on"]), day(r.get("published_on")),
                day(r.get("revoked_on")), day(r.get("withdrawn_on")), exempt_from_publication(r),
                MISSING if end is None else day_number(end))

    entities = Entities()

    def task(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["task_id"], r["department"], tuple(r["items"]), day(r["drawn_at"]), entities.frame(r["frame"]["members"]))

    extractors = {k: e for k, (_, e) in EXTRACT.items()} | {"penalties": penalty, "inspection_tasks": task}
    pool = Pool()
    latest_cols = {"notifications": ("pushed", "claimed"), "licenses": ("decided", "published"),
                   "penalties": ("decided", "published"), "inspection_results": ("completed", "published"),
                   "feedback": ("fed_back",), "tracking": ("action_on",)}

    def sink(kind: str, rec: dict[str, Any]) -> None:
        row = extractors[kind](rec)
        tables[kind].add(row, pool)
        for col in latest_cols.get(kind, ()):
            v = row[tables[kind].names.index(col)]
            if v > latest[0]:
                latest[0] = v

    def finish(report: Report) -> AuditData:
        pool.clear()
        for cols in tables.values():
            cols.sort(cols.names[0])
        return AuditData(tables, report, latest[0], entities.usccs)

    return sink, finish
