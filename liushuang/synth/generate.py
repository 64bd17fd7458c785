"""Synthesise a realistic, internally consistent Dalian-like dataset.

Deterministic for a seed (Python's Mersenne Twister ``random.Random``; the same
Python minor version gives the same files). Every kind of record is produced,
with checksummed identifiers, realistic delays, a configurable share of late
or missing steps, spot-check draws made with the verifiable algorithm
(``audit.draw``) and, optionally, injected defects whose expected issues are
written to ``synth-manifest.json`` so tests and benchmarks can count them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from liushuang import ids
from liushuang.audit import draw as drawing

from . import vocab as V

DEFAULT_UNTIL = dt.date(2026, 11, 30)
CN = dt.timezone(dt.timedelta(hours=8))


@dataclass
class SynthConfig:
    entities: int = 2000
    years: int = 3
    seed: int = 1
    until: dt.date = DEFAULT_UNTIL
    late_share: float = 0.08
    defects: dict[str, int] = field(default_factory=dict)
    city: V.City = V.DALIAN

    @property
    def start(self) -> dt.date:
        return dt.date(self.until.year - self.years + 1, 1, 1)


@dataclass
class Dataset:
    records: dict[str, list[dict[str, Any]]]
    expected: list[dict[str, str]]  # expected issues from injected defects: rule, kind, record_id
    config: SynthConfig


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def uscc(self, prefix: str, region: str) -> str:
        while True:
            body = "".join(self.rng.choice(ids.USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
            org = body + ids.org_code_check_char(body)  # type: ignore[operator]
            code = ids.make_uscc(prefix + region + org)
            if code not in self.used:
                self.used.add(code)
                return code

    def id_number(self, region: str) -> str:
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 18250))
        return ids.make_id_number(f"{region}{birth:%Y%m%d}{self.rng.randrange(0, 1000):03d}")


def _weighted(rng: random.Random, items: list[Any], weights: list[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


def _dt(day: dt.date, rng: random.Random) -> str:
    return dt.datetime(day.year, day.month, day.day, rng.randrange(8, 18), rng.randrange(0, 60), 0, tzinfo=CN).isoformat()


def _days(d: dt.date, n: int) -> dt.date:
    return d + dt.timedelta(days=n)


class _Generator:
    def __init__(self, config: SynthConfig) -> None:
        self.c = config
        self.rng = random.Random(config.seed)
        self.ids = _Ids(self.rng)
        self.city = config.city
        self.V = V.localized(config.city)
        self.span = (config.until - config.start).days
        self.depts = {name: self.ids.uscc("11", f"{self.city.code}00") for name in self.V.DEPARTMENTS}
        self.branches = {code: (f"{self.city.name}市{name}市场监督管理局", self.ids.uscc("11", code)) for code, name, _ in self.V.DISTRICTS}
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.seq: dict[str, int] = {}
        self.policy = None

    def next(self, key: str) -> int:
        self.seq[key] = self.seq.get(key, 0) + 1
        return self.seq[key]

    def day(self, lo: dt.date | None = None, hi: dt.date | None = None) -> dt.date:
        lo = lo or self.c.start
        hi = hi or self.c.until
        return _days(lo, self.rng.randrange(0, max((hi - lo).days, 0) + 1))

    def delay(self, on_time: int, late: tuple[int, int]) -> int:
        """Calendar days: within the rule most of the time, late for late_share."""
        if self.rng.random() < self.c.late_share:
            return self.rng.randint(*late)
        return self.rng.randint(0, on_time)

    def name(self) -> str:
        return self.rng.choice(self.V.SURNAMES) + "".join(self.rng.choice(self.V.GIVEN) for _ in range(self.rng.choice((1, 2))))

    # --- the roster --------------------------------------------------------
    def entities(self) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        regions = [d[0] for d in self.V.DISTRICTS]
        rweights = [d[2] for d in self.V.DISTRICTS]
        iweights = [i[4] for i in self.V.INDUSTRIES]
        for _ in range(self.c.entities):
            region = _weighted(rng, regions, rweights)
            district = next(d[1] for d in self.V.DISTRICTS if d[0] == region)
            code, iname, word, _items, _ = _weighted(rng, self.V.INDUSTRIES, iweights)
            r = rng.random()
            kind = "个体工商户" if r < 0.3 and code[0] in "HFO" else "农民专业合作社" if r > 0.985 else "企业"
            prefix = {"个体工商户": "92", "农民专业合作社": "93", "企业": "91"}[kind]
            uscc = self.ids.uscc(prefix, region)
            brand = rng.choice(self.V.BRAND) + rng.choice(self.V.GIVEN)
            if kind == "个体工商户":
                name = f"{district}{brand}{word}店"
            elif kind == "农民专业合作社":
                name = f"{self.city.name}{brand}农业专业合作社"
            else:
                name = f"{self.city.name}{brand}{word}有限公司"
            registered = self.day(_days(self.c.start, -3650), self.c.until) if rng.random() < 0.7 else self.day()
            status = _weighted(rng, ["存续", "注销", "吊销", "迁出"], [0.92, 0.05, 0.02, 0.01])
            credit = _weighted(rng, [c[0] for c in self.V.CREDIT_CLASSES], [c[1] for c in self.V.CREDIT_CLASSES])
            rep = self.name()
            out.append({
                "uscc": uscc, "name": name, "kind": kind, "region_code": region,
                "industry_code": code, "industry_name": iname, "registered_on": registered.isoformat(),
                "status": status, "credit_class": credit,
                "legal_representative": {"name": rep, "id_type": "身份证", "id_number": self.ids.id_number(region)},
                "address": f"{self.city.province}{self.city.name}市{district}{rng.choice(self.V.BRAND)}路{rng.randrange(1, 400)}号",
                "phone": f"1{rng.choice('3578')}{rng.randrange(10**8, 10**9)}",
            })
        return out

    # --- 双告知, 双反馈, 双公示 (licences), 双跟踪 --------------------------------
    def notifications_and_follow_ups(self, entities: list[dict[str, Any]]) -> None:
        rng = self.rng
        notes, feedback, licenses, tracking = [], [], [], []
        industry_items = {i[0]: i[3] for i in self.V.INDUSTRIES}
        for e in entities:
            items = industry_items[e["industry_code"]]
            registered = dt.date.fromisoformat(e["registered_on"])
            if not items or registered < self.c.start:
                continue
            reg_id = f"REG{self.city.tag}{registered:%Y%m%d}{self.next('reg'):07d}"
            by_dept: dict[str, list[str]] = {}
            for code in items:
                by_dept.setdefault(self.V.CATALOGUE[code][1], []).append(code)
            for dept, codes in sorted(by_dept.items()):
                nid = f"TZ{self.city.tag}{self.next('tz'):09d}"
                pushed = _days(registered, rng.randint(0, 1))
                if pushed > self.c.until:
                    continue
                claim_delay = self.delay(5, (8, 25))
                claimed = None if rng.random() < 0.03 else _days(pushed, claim_delay)
                if claimed and claimed > self.c.until:
                    claimed = None
                signed = rng.random() > 0.02
                note = {
                    "notification_id": nid, "registration_id": reg_id, "event": "设立登记" if rng.random() < 0.85 else "变更登记",
                    "uscc": e["uscc"], "entity_name": e["name"], "registered_on": e["registered_on"], "registrar": self.V.REGISTRAR,
                    "items": [{"item_code": c, "item_name": self.V.CATALOGUE[c][0], "department": dept} for c in codes],
                    "commitment_signed": signed, "commitment_signed_on": e["registered_on"] if signed else None,
                    "department": dept, "pushed_at": _dt(pushed, rng),
                    "claimed_at": _dt(claimed, rng) if claimed else None,
                    "claimed_by": self.name() if claimed else None,
                }
                if claimed and note["claimed_at"] < note["pushed_at"]:
                    note["claimed_at"] = note["pushed_at"]
                notes.append(note)
                if not claimed:
                    continue
                if rng.random() < 0.95:
                    feedback.append({"feedback_id": f"FK{self.city.tag}{self.next('fk'):09d}", "notification_id": nid, "feedback_type": "接收反馈",
                                     "department": dept, "fed_back_at": note["claimed_at"], "outcome": None,
                                     "license_decision_number": None, "note": None})
                if rng.random() > 0.85:
                    continue
                outcome = _weighted(rng, ["准予许可", "未申请", "不予许可", "撤回申请"], [0.72, 0.16, 0.06, 0.06])
                decided = _days(claimed, self.delay(20, (30, 60)))  # calendar days; the limit is 20 working days
                fed_back = _days(decided, self.delay(1, (5, 20)))
                if fed_back > self.c.until:
                    continue
                number = None
                if outcome == "准予许可":
                    lic = self.license(e, codes[0], decided)
                    licenses.append(lic)
                    number = lic["decision_number"]
                feedback.append({"feedback_id": f"FK{self.city.tag}{self.next('fk'):09d}", "notification_id": nid, "feedback_type": "结果反馈",
                                 "department": dept, "fed_back_at": _dt(fed_back, rng),
                                 "outcome": outcome, "license_decision_number": number, "note": None})
                if outcome != "准予许可" and rng.random() > self.c.late_share:
                    finding = _weighted(rng, ["无证经营", "未发现经营", "已取得许可"], [0.35, 0.45, 0.2])
                    action_on = _days(claimed, self.delay(25, (35, 90)))  # calendar days after the claim
                    if action_on <= self.c.until:
                        tracking.append({
                            "tracking_id": f"GZ{self.city.tag}{self.next('gz'):09d}", "notification_id": nid, "uscc": e["uscc"], "department": dept,
                            "action_on": action_on.isoformat(), "action": "现场核查" if finding != "未发现经营" else "电话核查",
                            "finding": finding, "penalty_decision_number": None, "reported_to_registrar_on": None, "note": None})
        # Licences of entities registered before the window (renewals, new permits).
        for e in entities:
            items = industry_items[e["industry_code"]]
            if items and rng.random() < 0.25 * self.c.years / 3:
                licenses.append(self.license(e, rng.choice(items), self.day()))
        # A revoked licence is reported back to the registrar (双跟踪), mostly.
        for lic in licenses:
            if lic["revoked_on"] and lic["uscc"] and rng.random() > self.c.late_share:
                reported = _days(dt.date.fromisoformat(lic["revoked_on"]), rng.randint(1, 10))
                if reported <= self.c.until:
                    tracking.append({
                        "tracking_id": f"GZ{self.city.tag}{self.next('gz'):09d}", "notification_id": None, "uscc": lic["uscc"],
                        "department": lic["authority"], "action_on": lic["revoked_on"], "action": "告知登记机关",
                        "finding": "许可被撤销后经营", "penalty_decision_number": None,
                        "reported_to_registrar_on": reported.isoformat(), "note": f"许可决定 {lic['decision_number']} 已撤销"})
        self.records.update(notifications=notes, feedback=feedback, licenses=licenses, tracking=tracking)

    def subject(self, e: dict[str, Any], natural: bool, *, org_share: float) -> dict[str, Any]:
        """The national standard's subject fields for an entity (or its operator, as a natural person)."""
        rep = e["legal_representative"]
        return {
            "subject_name": rep["name"] if natural else e["name"],
            "subject_category": "自然人" if natural else ("个体工商户" if e["kind"] == "个体工商户" else "法人及非法人组织"),
            "uscc": None if natural else e["uscc"],
            "org_code": None if natural or self.rng.random() >= org_share else ids.uscc_org_code(e["uscc"]),
            "legal_representative": None if natural else rep["name"],
            "legal_rep_id_type": None if natural else "身份证",
            "legal_rep_id_number": None if natural else rep["id_number"],
            "person_id_type": "身份证" if natural else None,
            "person_id_number": rep["id_number"] if natural else None,
        }

    def license(self, e: dict[str, Any], item: str, decided: dt.date) -> dict[str, Any]:
        rng = self.rng
        item_name, dept, cert, prefix = self.V.CATALOGUE[item]
        code, word = self.V.DEPARTMENTS[dept]
        seq = self.next(f"lic{decided.year}")
        natural = rng.random() < 0.02 and e["kind"] == "个体工商户"
        long_term = rng.random() < 0.1
        valid_to = dt.date(2099, 12, 31) if long_term else _days(decided, 5 * 365 - 1)
        published = _days(decided, self.delay(6, (10, 30)))
        rec: dict[str, Any] = {
            **self.subject(e, natural, org_share=0.4),
            "decision_document_name": f"准予{item_name}决定书",
            "decision_number": f"{self.city.license_short}{word}许准字〔{decided.year}〕第{seq:06d}号",
            "license_category": "登记" if long_term else rng.choice(["普通", "普通", "普通", "核准", "认可"]),
            "certificate_name": cert,
            "license_number": f"{prefix}{e['region_code']}{decided.year}{seq:06d}",
            "content": f"{item_name}：{e['industry_name']}",
            "decided_on": decided.isoformat(), "valid_from": decided.isoformat(), "valid_to": valid_to.isoformat(),
            "authority": dept, "authority_uscc": self.depts[dept],
            "status": "有效" if valid_to >= self.c.until else "无效",
            "procedure": "普通程序",
            "published_on": published.isoformat() if published <= self.c.until else None,
            "revoked_on": None, "revocation_kind": None, "revocation_reason": None,
            "data_source": dept, "data_source_uscc": self.depts[dept], "remarks": None,
        }
        if rng.random() < 0.01:
            revoked = _days(decided, rng.randint(30, 300))
            if revoked <= self.c.until:
                rec.update(revoked_on=revoked.isoformat(), revocation_kind="撤销", revocation_reason="申请人以欺骗手段取得许可", status="无效")
                if rec["published_on"]:
                    due = dt.date.fromisoformat(max(rec["revoked_on"], rec["published_on"]))
                    withdrawn = _days(due, self.delay(2, (6, 20)))
                    rec["withdrawn_on"] = withdrawn.isoformat() if withdrawn <= self.c.until else None
        return rec

    # --- 双公示: penalties --------------------------------------------------------
    def penalties(self, entities: list[dict[str, Any]], count: int) -> Iterator[dict[str, Any]]:
        rng = self.rng
        city = f"{self.city.name}市"
        by_sector = {"食品": f"{city}市场监督管理局", "特种设备": f"{city}市场监督管理局", "安全生产": f"{city}应急管理局",
                     "消防": f"{city}消防救援支队", "药品": f"{city}药品监督管理局", "其他": f"{city}市场监督管理局"}
        kind_mix = [(["警告"], 0.10), (["罚款"], 0.50), (["警告", "罚款"], 0.08), (["罚款", "没收违法所得"], 0.14),
                    (["通报批评"], 0.05), (["责令停产停业", "罚款"], 0.04), (["吊销许可证件"], 0.02),
                    (["没收违法所得", "没收非法财物", "罚款"], 0.07)]
        for _ in range(count):
            e = rng.choice(entities)
            violation, basis, sector = rng.choice(self.V.VIOLATIONS)
            dept = by_sector[sector]
            if dept == self.V.REGISTRAR and rng.random() < 0.7:
                authority, authority_uscc = self.branches[e["region_code"]]
            else:
                authority, authority_uscc = dept, self.depts[dept]
            kinds = list(_weighted(rng, [k for k, _ in kind_mix], [w for _, w in kind_mix]))
            summary = rng.random() < 0.05
            if summary:
                kinds = rng.choice([["警告"], ["罚款"]])
            fine = None
            if "罚款" in kinds:
                fine = 0.005 if summary else round(min(rng.lognormvariate(0, 1.3), 200), 4)
            decided = self.day()
            published = _days(decided, self.delay(6, (10, 30)))
            district_word = next(d[1] for d in self.V.DISTRICTS if d[0] == e["region_code"])[:1]
            natural = rng.random() < 0.03
            rec: dict[str, Any] = {
                **self.subject(e, natural, org_share=0.5),
                "decision_number": f"{self.city.short}{self.V.DEPARTMENTS[dept][1]}{district_word}罚字〔{decided.year}〕{self.next('pen' + str(decided.year)):06d}号",
                "violation_type": violation,
                "violation_facts": f"经查，当事人{violation}，违法经营额{rng.randrange(100, 200000)}元。",
                "legal_basis": basis,
                "penalty_kinds": kinds,
                "penalty_content": "、".join(kinds) + (f"，罚款{fine}万元" if fine else ""),
                "fine_amount_wan": fine,
                "confiscation_amount_wan": round(rng.uniform(0.01, 5), 4) if "没收违法所得" in kinds else None,
                "suspended_or_revoked_license": "食品经营许可证" if "吊销许可证件" in kinds else None,
                "decided_on": decided.isoformat(),
                "penalty_valid_until": _days(decided, 365).isoformat(),
                "publicity_until": _days(published, 3 * 365).isoformat() if rng.random() < 0.15 else None,
                "authority": authority, "authority_uscc": authority_uscc,
                "status": "有效", "sector": sector,
                "procedure": "简易程序" if summary else "普通程序",
                "published_on": published.isoformat() if published <= self.c.until else None,
                "revoked_on": None, "revocation_kind": None, "revocation_reason": None,
                "data_source": dept, "data_source_uscc": self.depts[dept], "remarks": None,
            }
            if rng.random() < 0.01:
                revoked = _days(decided, rng.randint(10, 200))
                if revoked <= self.c.until:
                    rec.update(revoked_on=revoked.isoformat(), revocation_kind="撤销", revocation_reason="行政复议决定撤销", status="无效")
            self._withdraw(rec)
            yield rec

    def _withdraw(self, rec: dict[str, Any]) -> None:
        """Take a published penalty down after revocation or at the end of its
        publicity period; a late_share of the take-downs are late."""
        from liushuang.policy import load_policy
        from liushuang.publicity import publicity_end

        if not rec.get("published_on"):
            return
        if rec.get("revoked_on"):
            due = dt.date.fromisoformat(max(rec["revoked_on"], rec["published_on"]))
            withdrawn = _days(due, self.delay(2, (6, 20)))
            rec["withdrawn_on"] = withdrawn.isoformat() if withdrawn <= self.c.until else None
            return
        end = publicity_end(rec, self.policy or load_policy())
        if end is not None and end < self.c.until:
            withdrawn = _days(end, self.delay(1, (5, 40)))
            rec["withdrawn_on"] = withdrawn.isoformat() if withdrawn <= self.c.until else None

    # --- 双评估 -----------------------------------------------------------------------
    def assessments(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        ratio = {c: r for c, _, r in self.V.CREDIT_CLASSES}
        for year in range(self.c.start.year, self.c.until.year + 1):
            for code, _name, _w, items, _ in self.V.INDUSTRIES:
                if not items:
                    continue
                level = rng.choice("ABCD")
                out.append({"assessment_id": f"PG{self.city.tag}{self.next('pg'):08d}", "assessment_type": "安全风险评估", "subject_type": "行业",
                            "subject": code, "uscc": None, "standard": "GB 31654-2021" if code.startswith("H") else None,
                            "assessed_on": dt.date(year, 1, 15).isoformat(), "level": level, "inspection_ratio": ratio[level],
                            "inspection_frequency": "每年", "valid_until": dt.date(year, 12, 31).isoformat(),
                            "department": self.V.CATALOGUE[items[0]][1]})
        for e in rng.sample(entities, k=min(len(entities), max(1, len(entities) // 10))):
            out.append({"assessment_id": f"PG{self.city.tag}{self.next('pg'):08d}", "assessment_type": "信用评估", "subject_type": "主体",
                        "subject": e["uscc"], "uscc": e["uscc"], "standard": None, "assessed_on": self.day().isoformat(),
                        "level": e["credit_class"], "inspection_ratio": ratio[e["credit_class"]], "inspection_frequency": None,
                        "valid_until": None, "department": self.V.REGISTRAR})
        return out

    # --- 双随机一公开 ----------------------------------------------------------------
    def inspection_items(self) -> list[dict[str, Any]]:
        out = []
        for n, (name, basis, dept, kind, ratio) in enumerate(self.V.INSPECTION_ITEMS, 1):
            out.append({"item_id": f"SX{self.city.tag}{self.V.DEPARTMENTS[dept][0]}{n:03d}", "name": name, "basis": basis, "department": dept,
                        "item_kind": kind, "subject_scope": None, "ratio": ratio, "frequency": "每年"})
        return out

    def inspectors(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        per_dept = max(6, self.c.entities // 300)
        for dept, (code, _) in self.V.DEPARTMENTS.items():
            size = per_dept if dept == self.V.REGISTRAR else max(4, per_dept // 3)
            for n in range(1, size + 1):
                left = rng.random() < 0.05
                out.append({
                    "inspector_id": f"ZF{self.city.tag}{code}{n:04d}", "name": self.name(), "certificate_number": f"{self.city.code}00{code}{rng.randrange(10**6, 10**7)}",
                    "department": dept, "active_from": _days(self.c.start, -rng.randrange(0, 2000)).isoformat(),
                    "active_to": self.day(_days(self.c.until, -200)).isoformat() if left else None,
                    "recusals": [{"uscc": rng.choice(entities)["uscc"], "reason": "近亲属担任该企业负责人"}] if rng.random() < 0.05 else [],
                })
        return out

    def tasks_and_results(self, entities: list[dict[str, Any]], items: list[dict[str, Any]], inspectors: list[dict[str, Any]]) -> None:
        rng = self.rng
        tasks, results = [], []
        ratio = {c: r for c, _, r in self.V.CREDIT_CLASSES}
        active = [e for e in entities if e["status"] == "存续"]
        scope_industries = {i[0] for i in self.V.INDUSTRIES}
        dept_industries: dict[str, set[str]] = {}
        for code, _n, _w, its, _ in self.V.INDUSTRIES:
            for it in its:
                dept_industries.setdefault(self.V.CATALOGUE[it][1], set()).add(code)
        names = {e["uscc"]: e["name"] for e in entities}
        for year in range(self.c.start.year, self.c.until.year + 1):
            for item in items:
                dept = item["department"]
                for _round in range(rng.choice((1, 1, 2))):
                    start = self.day(dt.date(year, 3, 1), dt.date(year, 10, 31))
                    end = _days(start, rng.randint(30, 60))
                    drawn = _days(start, -rng.randint(3, 10))
                    if drawn > self.c.until:
                        continue
                    regions = sorted(rng.sample([d[0] for d in self.V.DISTRICTS], k=rng.randint(2, 5)))
                    industries = dept_industries.get(dept, scope_industries) if dept != self.V.REGISTRAR else scope_industries
                    frame = [(e["uscc"], e["credit_class"]) for e in active
                             if e["region_code"] in regions and e["industry_code"] in industries
                             and e["registered_on"] <= drawn.isoformat()]
                    if len(frame) < 4:
                        continue
                    sizes: dict[str, int] = {}
                    for _, s in frame:
                        sizes[s] = sizes.get(s, 0) + 1
                    sample = {s: min(n, max(1, round(n * ratio[s]))) for s, n in sizes.items()}
                    eligible = [i for i in inspectors if i["department"] == dept and i["active_from"] <= drawn.isoformat()
                                and (i["active_to"] is None or i["active_to"] >= end.isoformat())]
                    # The task's team: a share of the department's roster, as real tasks are staffed.
                    pool = sorted(rng.sample(eligible, k=min(len(eligible), 30)), key=lambda i: i["inspector_id"])
                    recusals = {i["inspector_id"]: frozenset(r["uscc"] for r in i["recusals"]) for i in pool}
                    task_id = f"RW{self.city.tag}{year}{self.V.DEPARTMENTS[dept][0]}{self.next('rw' + str(year)):04d}"
                    verifiable = rng.random() < 0.85
                    source = rng.choice(self.V.PUBLIC_RANDOM_SOURCES)
                    design = drawing.DrawDesign(task_id, tuple(frame), sample, tuple(i["inspector_id"] for i in pool), 2, source, recusals)
                    committed = _days(drawn, -2)
                    public = [f"{drawn - dt.timedelta(days=1):%Y%j}-{rng.randrange(10**6):06d}"]
                    if verifiable:
                        commit = drawing.commitment(design)
                        seed = drawing.derive_seed(commit, public)
                        result = drawing.draw(design, seed)
                        selections = list(result.selections)
                        assignments = [(u, list(p)) for u, p in result.assignments]
                    else:
                        # A platform with no recorded seed: random start, round-robin.
                        selections = []
                        for s in sorted(sample):
                            members = [u for u, st in frame if st == s]
                            selections += [(u, s) for u in rng.sample(members, sample[s])]
                        ids_ = [i["inspector_id"] for i in pool]
                        assignments = []
                        for n, (u, _) in enumerate(selections):
                            ok = [i for i in ids_ if u not in recusals.get(i, frozenset())]
                            assignments.append((u, [ok[n % len(ok)], ok[(n + 1) % len(ok)]]))
                    tasks.append({
                        "task_id": task_id, "plan_id": f"JH{self.city.tag}{year}{self.V.DEPARTMENTS[dept][0]}", "plan_name": f"{year}年度{dept}双随机抽查计划",
                        "task_name": f"{year}年{item['name']}（第{_round + 1}批）", "department": dept, "departments": [dept],
                        "items": [item["item_id"]], "scope": f"{len(regions)}个区市县的相关市场主体",
                        "start_on": start.isoformat(), "end_on": end.isoformat(),
                        "frame": {"size": len(frame), "hash": drawing.frame_hash(frame), "members": [{"uscc": u, "stratum": s} for u, s in frame]},
                        "strata": [{"stratum": s, "size": sizes[s], "sample_size": sample[s], "ratio": ratio[s]} for s in sorted(sizes)],
                        "algorithm": {"id": drawing.ALGORITHM_ID, "version": drawing.ALGORITHM_VERSION} if verifiable else None,
                        "commitment": {"hash": drawing.commitment(design), "committed_at": _dt(committed, rng)} if verifiable else None,
                        "seed": {"value": drawing.derive_seed(drawing.commitment(design), public), "source": source, "public_values": public,
                                 "derived_at": _dt(_days(drawn, -1), rng)} if verifiable else None,
                        "inspector_pool": [i["inspector_id"] for i in pool], "inspectors_per_entity": 2,
                        "drawn_at": _dt(drawn, rng), "redraws": [],
                        "selections": [{"uscc": u, "stratum": s, "order": n} for n, (u, s) in enumerate(selections, 1)],
                        "assignments": [{"uscc": u, "inspectors": p} for u, p in assignments],
                        "notice_on": _days(drawn, rng.randint(1, 3)).isoformat(),
                    })
                    for u, people in assignments:
                        completed = self.day(start, end)
                        if completed > self.c.until:
                            continue
                        published = _days(completed, self.delay(25, (30, 60)))
                        codes = _weighted(rng, [["1"], ["E"], ["6"], ["7"], ["3"], ["D"], ["F"], ["B", "E"]],
                                          [0.72, 0.08, 0.04, 0.03, 0.03, 0.03, 0.05, 0.02])
                        people = people[:1] if rng.random() < self.c.late_share / 4 else people
                        results.append({"task_id": task_id, "uscc": u, "entity_name": names[u], "inspectors": people,
                                        "completed_on": completed.isoformat(), "result_codes": codes,
                                        "result_text": None, "published_on": published.isoformat() if published <= self.c.until else None})
        self.records.update(inspection_tasks=tasks, inspection_results=results)

    def run(self) -> dict[str, list[dict[str, Any]]]:
        ents = self.entities()
        self.records["entities"] = ents
        self.records["inspectors"] = self.inspectors(ents)
        self.records["inspection_items"] = self.inspection_items()
        self.notifications_and_follow_ups(ents)
        self.records["penalties"] = list(self.penalties(ents, max(1, int(self.c.entities * 0.06 * self.c.years))))
        self.records["assessments"] = self.assessments(ents)
        self.tasks_and_results(ents, self.records["inspection_items"], self.records["inspectors"])
        return self.records


def generate(config: SynthConfig) -> Dataset:
    from .defects import inject

    gen = _Generator(config)
    records = gen.run()
    expected = inject(records, config.defects, random.Random(config.seed + 7919))
    return Dataset(records, expected, config)


def penalty_stream(count: int, seed: int = 1, entities: int = 5000) -> Iterator[dict[str, Any]]:
    """Penalty records alone, for benchmarks (a small roster, many decisions)."""
    gen = _Generator(SynthConfig(entities=entities, seed=seed))
    ents = gen.entities()
    yield from gen.penalties(ents, count)


def write_dataset(data: Dataset, out: Any, *, fmt: str = "jsonl", encoding: str = "utf-8", style: str = "en",
                  formats: dict[str, str] | None = None) -> dict[str, Any]:
    """Write every kind to OUT and the manifest; ``formats`` overrides per kind."""
    from pathlib import Path

    import orjson

    from liushuang import formats as F
    from liushuang import schemas

    broken = data.config.defects.get("record-parse", 0)
    if broken and (formats or {}).get("penalties", fmt) != "jsonl":
        raise ValueError("record-parse defects need penalties in JSON Lines (--format jsonl)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and old.name.split(".", 1)[0] in schemas.KINDS:
            old.unlink()
    files = {}
    for kind in schemas.KINDS:
        # Frames exceed an xlsx cell (32,767 characters): tasks stay JSON Lines.
        kind_fmt = (formats or {}).get(kind, "jsonl" if fmt == "xlsx" and kind == "inspection_tasks" else fmt)
        path = F.write(out / kind, kind, data.records[kind], kind_fmt, encoding=encoding, style=style,
                       broken_lines=broken if kind == "penalties" else 0)
        files[kind] = {"file": path.name, "records": len(data.records[kind]) + (broken if kind == "penalties" else 0)}
    c = data.config
    manifest = {
        "generator": "liushuang synth",
        "config": {"entities": c.entities, "years": c.years, "seed": c.seed, "until": c.until.isoformat(),
                   "late_share": c.late_share, "defects": dict(sorted(c.defects.items())),
                   "format": fmt, "encoding": encoding, "headers": style},
        "files": files,
        "expected_issues": data.expected,
    }
    (out / "synth-manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest
