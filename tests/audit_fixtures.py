"""Minimal valid records of every kind, for audit tests that need exact dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from helpers import write_jsonl

from liushuang import ids

DEPT = "大连市市场监督管理局"
DEPT_USCC = ids.make_uscc("11210200MB1234567")


def uscc(n: int, prefix: str = "91") -> str:
    body = f"{n:08d}"
    return ids.make_uscc(f"{prefix}210202{body}{ids.org_code_check_char(body)}")


def at(day: str, time: str = "10:00:00") -> str:
    return f"{day}T{time}+08:00"


def entity(n: int, credit: str = "A", **kw: Any) -> dict[str, Any]:
    return {"uscc": uscc(n), "name": f"测试企业{n}", "kind": "企业", "region_code": "210202", "industry_code": "H6210",
            "registered_on": "2015-01-01", "status": "存续", "credit_class": credit, **kw}


def notification(nid: str, pushed: str, claimed: str | None, *, reg: str = "REG1", dept: str = DEPT,
                 item_depts: tuple[str, ...] = (DEPT,), signed: bool = True, n: int = 1) -> dict[str, Any]:
    return {"notification_id": nid, "registration_id": reg, "event": "设立登记", "uscc": uscc(n), "entity_name": "测试企业",
            "registered_on": pushed, "registrar": DEPT,
            "items": [{"item_code": f"HZ{i}", "item_name": "食品经营许可", "department": d} for i, d in enumerate(item_depts)],
            "commitment_signed": signed, "commitment_signed_on": pushed if signed else None, "department": dept,
            "pushed_at": at(pushed), "claimed_at": at(claimed) if claimed else None, "claimed_by": "张三" if claimed else None}


def feedback(fid: str, nid: str, kind: str, day: str, outcome: str | None = None, licence: str | None = None) -> dict[str, Any]:
    return {"feedback_id": fid, "notification_id": nid, "feedback_type": kind, "department": DEPT, "fed_back_at": at(day),
            "outcome": outcome, "license_decision_number": licence}


def tracking(tid: str, nid: str | None, day: str, finding: str = "无证经营", reported: str | None = None, n: int = 1) -> dict[str, Any]:
    return {"tracking_id": tid, "notification_id": nid, "uscc": uscc(n), "department": DEPT, "action_on": day,
            "action": "现场核查", "finding": finding, "reported_to_registrar_on": reported}


def _decision(number: str, decided: str, published: str | None, **kw: Any) -> dict[str, Any]:
    return {"subject_name": "测试企业", "subject_category": "法人及非法人组织", "uscc": uscc(kw.pop("n", 1)),
            "decision_number": number, "decided_on": decided, "published_on": published,
            "authority": DEPT, "authority_uscc": DEPT_USCC, "data_source": DEPT, "data_source_uscc": DEPT_USCC, **kw}


def licence(number: str, decided: str, published: str | None, **kw: Any) -> dict[str, Any]:
    return _decision(number, decided, published, decision_document_name="准予许可决定书", license_category="普通",
                     content="食品经营", valid_from=decided, valid_to="2099-12-31", status="有效", **kw)


def penalty(number: str, decided: str, published: str | None, kinds: tuple[str, ...] = ("罚款",), **kw: Any) -> dict[str, Any]:
    kw.setdefault("fine_amount_wan", 1.0 if "罚款" in kinds else None)
    return _decision(number, decided, published, violation_type="虚假宣传", violation_facts="经查……", legal_basis="反不正当竞争法",
                     penalty_kinds=list(kinds), penalty_content="罚款", penalty_valid_until="2030-01-01", **kw)


def inspector(iid: str) -> dict[str, Any]:
    return {"inspector_id": iid, "name": "李四", "certificate_number": f"C{iid}", "department": DEPT, "active_from": "2015-01-01"}


def item(iid: str) -> dict[str, Any]:
    return {"item_id": iid, "name": "食品检查", "basis": "食品安全法", "department": DEPT, "item_kind": "一般检查事项"}


def task(tid: str, drawn: str, members: list[tuple[str, str]], selected: list[str], *, items: tuple[str, ...] = ("SX1",),
         people: tuple[str, ...] = ("ZF1", "ZF2")) -> dict[str, Any]:
    strata = sorted({s for _, s in members})
    stratum_of = dict(members)
    return {"task_id": tid, "plan_id": "P1", "task_name": "测试任务", "department": DEPT, "departments": [DEPT], "items": list(items),
            "start_on": drawn, "end_on": drawn,
            "frame": {"size": len(members), "members": [{"uscc": u, "stratum": s} for u, s in members]},
            "strata": [{"stratum": s, "size": sum(1 for _, x in members if x == s),
                        "sample_size": sum(1 for u in selected if stratum_of[u] == s)} for s in strata],
            "algorithm": None, "commitment": None, "seed": None, "drawn_at": at(drawn), "redraws": [],
            "selections": [{"uscc": u, "stratum": stratum_of[u], "order": i} for i, u in enumerate(selected, 1)],
            "assignments": [{"uscc": u, "inspectors": list(people)} for u in selected]}


def result(tid: str, u: str, completed: str, published: str | None, people: tuple[str, ...] = ("ZF1", "ZF2")) -> dict[str, Any]:
    return {"task_id": tid, "uscc": u, "entity_name": "测试企业", "inspectors": list(people), "completed_on": completed,
            "result_codes": ["1"], "published_on": published}


def write(path: Path, **kinds: list[dict[str, Any]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for kind, records in kinds.items():
        write_jsonl(path / f"{kind}.jsonl", records)
    return path


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)
