"""Decide what the public site may show (DOMAIN.md §4; policy [publicity], [privacy]).

Every validated record gets exactly one decision: published (with personal data
masked) or withheld with a reason, so a build can report, per kind,
``input = published + withheld (per reason) + rejected``. The same decisions
drive pages, search, feeds and downloads, so an expired or revoked decision
disappears from all of them at the next build.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from liushuang.policy import Policy
from liushuang.publicity import exempt_from_publication, publicity_end

from .records import COMPACT, Unpacker, pack, spill_json

WITHHELD_ZH = {
    "warning-only": "仅警告的行政处罚不公示",
    "summary-procedure": "简易程序作出的行政处罚不公示",
    "expired": "公示期已满",
    "revoked": "决定已撤销或变更",
    "not-yet-published": "尚未到公示日期",
}
# Fields that are never published, whatever the policy.
NEVER = {"legal_rep_id_number", "person_id_number", "phone", "address"}
# Codes of organisations and documents: never scrubbed for ID numbers (an all-digit
# USCC has the shape of an ID number). Free text and the other fields are.
CODES = {"uscc", "authority_uscc", "data_source_uscc", "org_code", "decision_number", "license_number", "task_id", "plan_id",
         "item_id", "inspector_id", "registration_id", "notification_id"}
DIGIT_RUN = re.compile(r"\d{11}")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3})([0-9Xx])(?![0-9A-Za-z])")


def mask_id(number: str) -> str:
    """Keep the region and the last four characters: 210281********123X."""
    if len(number) >= 10:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    return "*" * len(number)


def mask_name(name: str, mode: str) -> str:
    if mode == "none":
        return name
    if mode == "hide":
        return "自然人"
    return name[:1] + "*" * max(1, len(name) - 1)


def scrub_text(text: str) -> str:
    """Free text may quote an ID or a mobile number: mask them wherever they appear."""
    text = _ID.sub(lambda m: mask_id(m.group(0)), text)
    return _PHONE.sub(lambda m: m.group(0)[:3] + "****" + m.group(0)[-4:], text)


@dataclass
class Decisions:
    published: Counter[str] = field(default_factory=Counter)
    withheld: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, kind: str, reason: str | None) -> None:
        if reason is None:
            self.published[kind] += 1
        else:
            self.withheld.setdefault(kind, Counter())[reason] += 1


class Publisher:
    def __init__(self, policy: Policy, build_date: dt.date) -> None:
        self.policy = policy
        self.build_date = build_date
        self.today = build_date.isoformat()
        self.names = policy.raw["privacy"]["natural_person_names"]
        self.decisions = Decisions()

    def withheld_reason(self, kind: str, rec: dict[str, Any]) -> str | None:
        return self.reason_at(self.timeline(kind, rec))

    def timeline(self, kind: str, rec: dict[str, Any]) -> list[tuple[str, str | None]]:
        """What decides whether ``rec`` is public, without the build date: steps tried in
        order by ``reason_at``, each ("reason", R): withheld for R; ("published", DAY):
        not yet published before DAY (or ever, when None); ("until", DAY): expired after
        DAY. A nightly build keeps this, not the decision, since the date changes."""
        steps: list[tuple[str, str | None]] = []
        if kind in ("licenses", "penalties"):
            if rec.get("revoked_on"):
                return [("reason", "revoked")]
            steps.append(("published", rec.get("published_on") or None))
        if kind == "penalties":
            exempt = exempt_from_publication(rec)
            if exempt:
                steps.append(("reason", exempt))
                return steps
            end = publicity_end(rec, self.policy)
            if end is not None:
                steps.append(("until", end.isoformat()))
        if kind == "inspection_results":
            steps.append(("published", rec.get("published_on") or None))
        return steps

    def reason_at(self, steps: list[tuple[str, str | None]] | list[list[Any]]) -> str | None:
        """The withheld reason on the build date, or None when the record is public."""
        today = self.today
        for op, value in steps:
            if op == "reason":
                return value
            if op == "published" and (not value or value > today):
                return "not-yet-published"
            if op == "until" and value is not None and value < today:
                return "expired"
        return None

    def decide(self, kind: str, rec: dict[str, Any], *, form: bool = True) -> dict[str, Any] | None:
        """The public form of a record, or None when it is withheld. With
        ``form=False`` the decision is only counted (for kinds the site does not show)."""
        reason, public = self.judge(kind, rec, form=form)
        self.decisions.count(kind, reason)
        return public

    def judge(self, kind: str, rec: dict[str, Any], *, form: bool = True) -> tuple[str | None, dict[str, Any] | None]:
        """(withheld reason or None, public form or None), without counting: ``decide``
        for work done elsewhere (validation workers), counted later with ``decisions.count``."""
        reason = self.withheld_reason(kind, rec)
        if reason or not form:
            return reason, None
        return None, self.public_form(kind, rec)

    def public_form(self, kind: str, rec: dict[str, Any]) -> dict[str, Any]:
        texts = [v for k, v in rec.items() if isinstance(v, str) and k not in CODES]
        if DIGIT_RUN.search("\x00".join(texts)):  # something may need masking: scrub field by field
            out = {k: (scrub_text(v) if isinstance(v, str) and k not in CODES else v) for k, v in rec.items() if k not in NEVER}
        else:  # no run of 11 digits anywhere: neither an ID nor a mobile number can be present
            out = {k: v for k, v in rec.items() if k not in NEVER}
        if kind == "entities" and isinstance(out.get("legal_representative"), dict):
            rep = dict(out["legal_representative"])
            rep.pop("id_number", None)
            out["legal_representative"] = rep
            if rec.get("kind") == "个体工商户":  # an individual business's operator is a natural person
                rep["name"] = mask_name(rep.get("name", ""), self.names)
        if rec.get("subject_category") == "自然人":
            out["subject_name"] = mask_name(rec["subject_name"], self.names)
            if rec.get("person_id_number"):
                out["person_id_masked"] = mask_id(rec["person_id_number"])
        return out


class Judge:
    """The publication decision of a validated record, in two steps.

    ``__call__`` runs where the record is validated (the worker processes) and
    does not depend on the build date: the record's timeline, and its public form
    for the kinds the site shows unless withheld whatever the date. It returns
    bytes, cheap to send back and to keep: a nightly build may take them from the
    night before (``validate.LineCache``). The kinds kept compact
    (``records.COMPACT``) travel as ``[steps, kept fields]`` JSON, a newline, and
    the public form's JSON; a published task as ``[steps, public form]`` JSON with
    its frame's members null, a newline, and the members' JSON; the others as
    ``[steps, public form]`` JSON.

    ``settle`` runs in the main process and applies the build date: (withheld
    reason or None, public form or None), the public form a ``records.Record``
    for the compact kinds."""

    def __init__(self, publisher: Publisher, shown: tuple[str, ...]) -> None:
        self.publisher = publisher
        self.shown = shown  # kinds the site shows; the others are only counted
        self._unpack: Any = None

    def __getstate__(self) -> dict[str, Any]:  # sent to the workers without the main process's string table
        return {"publisher": self.publisher, "shown": self.shown, "_unpack": None}

    def __call__(self, kind: str, rec: dict[str, Any]) -> bytes:
        steps = self.publisher.timeline(kind, rec)
        public = kind in self.shown and not any(op == "reason" for op, _ in steps)
        if public and kind in COMPACT:
            hot, blob = pack(kind, self.publisher.public_form(kind, rec))
            return orjson.dumps([steps, hot]) + b"\n" + blob
        form = self.publisher.public_form(kind, rec) if public else None
        frame = form.get("frame") if form is not None and kind == "inspection_tasks" else None
        if isinstance(frame, dict) and isinstance(frame.get("members"), list):
            # A task's frame lists tens of thousands of entities that no page reads (only the
            # task's download): it travels, and is kept, as its JSON, never decoded by the main process.
            members = orjson.dumps(frame["members"])
            return orjson.dumps([steps, {**form, "frame": {**frame, "members": None}}]) + b"\n" + members
        return orjson.dumps([steps, form])

    def settle(self, kind: str, value: bytes) -> tuple[str | None, Any]:
        cut = value.find(b"\n")
        steps, public = orjson.loads(value if cut < 0 else memoryview(value)[:cut])
        reason = self.publisher.reason_at(steps)
        if reason is not None:
            return reason, None
        if cut >= 0:
            if kind not in COMPACT:
                public["frame"]["members"] = spill_json(value[cut + 1:])  # a task's frame, as its JSON
                return None, public
            if self._unpack is None:
                self._unpack = Unpacker()
            return None, self._unpack(kind, public, value[cut + 1:])
        return None, public

    def salt(self) -> bytes:
        """What besides the record and the code decides ``__call__``: the policy and the kinds shown."""
        return orjson.dumps([self.publisher.policy.raw, self.shown], option=orjson.OPT_SORT_KEYS, default=str)
