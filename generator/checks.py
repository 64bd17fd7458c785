"""Checks beyond JSON Schema: check characters, cross-field rules, references.

Each ``check_<kind>`` function reads one record and returns findings as
``(rule slug, JSON pointer, Chinese message)``. They are written defensively:
they run on schema-invalid records too (so a user sees every problem at once)
and simply skip a check whose inputs are missing or of the wrong type.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from liushuang import ids

Finding = tuple[str, str, str]


class References(Protocol):
    """What the checks need to know about other records."""

    known_regions: dict[str, str]

    def require(self, kind: str, key: str, pointer: str, title: str) -> None:
        """Note that the record refers to ``key`` of ``kind``."""

    def require_selected(self, task_id: str, uscc: str) -> None:
        """Note that the result is for ``uscc`` of task ``task_id``."""


class Deferred:
    """Collects the references of one record; they are resolved later, in
    record order, against the keys read so far (see resolve())."""

    __slots__ = ("known_regions", "pending")

    def __init__(self, known_regions: dict[str, str]) -> None:
        self.known_regions = known_regions
        self.pending: list[tuple[str, ...]] = []

    def require(self, kind: str, key: str, pointer: str, title: str) -> None:
        self.pending.append((kind, key, pointer, title))

    def require_selected(self, task_id: str, uscc: str) -> None:
        self.pending.append(("@selected", task_id, uscc))

    def take(self) -> list[tuple[str, ...]] | None:
        pending, self.pending = self.pending, []
        return pending or None


class KeyIndex(Protocol):
    def ref_status(self, kind: str, key: str) -> str | None: ...

    def task_selection(self, task_id: str) -> frozenset[str] | None: ...


def resolve(pending: list[tuple[str, ...]], index: KeyIndex) -> list[Finding]:
    """Findings for the references a record made."""
    out: list[Finding] = []
    for item in pending:
        if item[0] == "@selected":
            _, task_id, uscc = item
            selection = index.task_selection(task_id)
            if selection is not None and uscc not in selection:
                out.append(("ref-missing", "/uscc", f"“{uscc}”不在任务“{task_id}”的抽中对象中"))
            continue
        kind, key, pointer, title = item
        status = index.ref_status(kind, key)
        if status == "ref-missing":
            out.append((status, pointer, f"{title}“{key}”在{_KIND_ZH[kind]}数据中不存在"))
        elif status == "ref-rejected":
            out.append((status, pointer, f"{title}“{key}”对应的{_KIND_ZH[kind]}记录未通过校验"))
    return out


_KIND_ZH = {"notifications": "双告知推送", "licenses": "行政许可", "penalties": "行政处罚", "inspection_tasks": "抽查任务",
            "inspectors": "执法检查人员", "inspection_items": "抽查事项"}


def _uscc(out: list[Finding], value: Any, pointer: str, title: str) -> None:
    if not isinstance(value, str) or len(value) != 18 or ids.is_valid_uscc(value):
        return  # shape problems are the schema's
    expected = ids.uscc_check_char(value[:17])
    if expected is not None:
        out.append(("uscc-checksum", pointer, f"{title}“{value}”校验位错误：第 18 位应为“{expected}”"))


def _id_number(out: list[Finding], value: Any, id_type: Any, pointer: str, title: str) -> None:
    if not isinstance(value, str) or id_type not in (None, "身份证") or ids.is_valid_id_number(value):
        return
    if id_type is None and not (len(value) == 18 and value[:17].isdigit()):
        return  # no type given and it does not look like an ID card
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        out.append(("id-checksum", pointer, f"{title}不是 18 位居民身份证号码"))
        return
    expected = ids.id_check_char(value[:17])
    if expected != value[17].upper():
        out.append(("id-checksum", pointer, f"{title}校验位错误：第 18 位应为“{expected}”"))
    elif ids.id_birth_date(value) is None:
        out.append(("id-checksum", pointer, f"{title}中的出生日期（第 7-14 位）不是有效日期"))


def _as_instant(value: str) -> dt.datetime | dt.date | None:
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _order(out: list[Finding], rec: dict[str, Any], first: str, second: str, titles: tuple[str, str]) -> None:
    """Report when rec[first] is after rec[second]. Dates compare with the date
    part of date-times (China time, as exported)."""
    a, b = rec.get(first), rec.get(second)
    if not isinstance(a, str) or not isinstance(b, str):
        return
    # Fast paths: ISO dates, and RFC 3339 date-times with the same offset, sort as text.
    if a <= b and (len(a) == len(b) == 10 or (len(a) == len(b) == 25 and a[19:] == b[19:])):
        return
    ia, ib = _as_instant(a), _as_instant(b)
    if ia is None or ib is None:
        return
    if type(ia) is not type(ib):
        ia = ia.date() if isinstance(ia, dt.datetime) else ia
        ib = ib.date() if isinstance(ib, dt.datetime) else ib
    try:
        later = ia > ib  # type: ignore[operator]
    except TypeError:  # naive vs aware date-times: the schema requires offsets
        return
    if later:
        out.append(("date-order", f"/{second}", f"{titles[1]}（{b}）早于{titles[0]}（{a}）"))


def _ref(out: list[Finding], refs: References, kind: str, key: Any, pointer: str, title: str) -> None:
    if isinstance(key, str) and key:
        refs.require(kind, key, pointer, title)


def _region(out: list[Finding], refs: References, value: Any, pointer: str) -> None:
    if isinstance(value, str) and len(value) == 6 and value not in refs.known_regions:
        out.append(("region-unknown", pointer, f"行政区划代码“{value}”不在本市区划代码表中"))


# --- subject fields of the national 双公示 standard -----------------------------

_SUBJECT_FIELDS = ("uscc", "subject_category", "authority_uscc", "data_source_uscc", "org_code",
                   "legal_rep_id_number", "legal_rep_id_type", "person_id_number", "person_id_type")


def _subject(out: list[Finding], rec: dict[str, Any]) -> None:
    # The same party, authority and source recur across decisions: memoise on
    # the fields these checks read (only hashable values are cached).
    get = rec.get
    key = (get("uscc"), get("subject_category"), get("authority_uscc"), get("data_source_uscc"), get("org_code"),
           get("legal_rep_id_number"), get("legal_rep_id_type"), get("person_id_number"), get("person_id_type"))
    try:
        found = _subject_findings(key)
    except TypeError:  # an unhashable value (a list where text belongs): the schema reports it
        found = _subject_findings.__wrapped__(key)
    out.extend(found)


@lru_cache(maxsize=1 << 18)
def _subject_findings(key: tuple[Any, ...]) -> tuple[Finding, ...]:
    out: list[Finding] = []
    rec = dict(zip(_SUBJECT_FIELDS, key))
    uscc = rec.get("uscc")
    category = rec.get("subject_category")
    _uscc(out, uscc, "/uscc", "统一社会信用代码")
    _uscc(out, rec.get("authority_uscc"), "/authority_uscc", "机关统一社会信用代码")
    _uscc(out, rec.get("data_source_uscc"), "/data_source_uscc", "数据来源单位统一社会信用代码")
    if isinstance(uscc, str) and len(uscc) == 18:
        if category == "自然人":
            out.append(("subject-kind-mismatch", "/uscc", "行政相对人类别为“自然人”，不应有统一社会信用代码"))
        elif category == "个体工商户" and not uscc.startswith("92"):
            out.append(("subject-kind-mismatch", "/subject_category", f"个体工商户的统一社会信用代码应以“92”开头，实为“{uscc[:2]}”"))
        elif category == "法人及非法人组织" and uscc.startswith("92"):
            out.append(("subject-kind-mismatch", "/subject_category", "统一社会信用代码以“92”开头，行政相对人类别应为“个体工商户”"))
    org = rec.get("org_code")
    if isinstance(org, str) and org:
        norm = ids.normalise_org_code(org)
        if not ids.is_valid_org_code(norm):
            expected = ids.org_code_check_char(norm[:8])
            out.append(("org-code-checksum", "/org_code", f"组织机构代码“{org}”校验位错误" + (f"：应为“{expected}”" if expected else "")))
        elif isinstance(uscc, str) and len(uscc) == 18 and ids.uscc_org_code(uscc) != norm:
            out.append(("org-code-mismatch", "/org_code", f"组织机构代码“{org}”与统一社会信用代码第 9-17 位“{ids.uscc_org_code(uscc)}”不一致"))
    _id_number(out, rec.get("legal_rep_id_number"), rec.get("legal_rep_id_type"), "/legal_rep_id_number", "法定代表人证件号码")
    _id_number(out, rec.get("person_id_number"), rec.get("person_id_type"), "/person_id_number", "证件号码")
    return tuple(out)


def _revocation(out: list[Finding], rec: dict[str, Any]) -> None:
    on, kind = rec.get("revoked_on"), rec.get("revocation_kind")
    if (on is None) != (kind is None):
        missing = "撤销/变更类型" if kind is None else "撤销/变更日期"
        out.append(("revocation-consistency", "/revocation_kind" if kind is None else "/revoked_on", f"有撤销/变更信息但缺少{missing}"))


# --- per kind ------------------------------------------------------------------

def check_entities(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    uscc = rec.get("uscc")
    _uscc(out, uscc, "/uscc", "统一社会信用代码")
    _region(out, refs, rec.get("region_code"), "/region_code")
    kind = rec.get("kind")
    if isinstance(uscc, str) and len(uscc) == 18 and isinstance(kind, str):
        if (kind == "个体工商户") != uscc.startswith("92"):
            out.append(("subject-kind-mismatch", "/kind", f"主体类型“{kind}”与统一社会信用代码前两位“{uscc[:2]}”不一致（92 为个体工商户）"))
        elif kind == "农民专业合作社" and not uscc.startswith("93"):
            out.append(("subject-kind-mismatch", "/kind", f"农民专业合作社的统一社会信用代码应以“93”开头，实为“{uscc[:2]}”"))
    rep = rec.get("legal_representative")
    if isinstance(rep, dict):
        _id_number(out, rep.get("id_number"), rep.get("id_type"), "/legal_representative/id_number", "法定代表人证件号码")
    return out


def check_inspectors(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _order(out, rec, "active_from", "active_to", ("在库起始日期", "在库截止日期"))
    recusals = rec.get("recusals")
    if isinstance(recusals, list):
        for i, r in enumerate(recusals):
            if isinstance(r, dict):
                _uscc(out, r.get("uscc"), f"/recusals/{i}/uscc", "回避对象统一社会信用代码")
    return out


def check_inspection_items(rec: dict[str, Any], refs: References) -> list[Finding]:
    return []


def check_notifications(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _uscc(out, rec.get("uscc"), "/uscc", "统一社会信用代码")
    _order(out, rec, "registered_on", "pushed_at", ("登记日期", "推送时间"))
    _order(out, rec, "pushed_at", "claimed_at", ("推送时间", "认领时间"))
    return out


def check_licenses(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _subject(out, rec)
    _order(out, rec, "valid_from", "valid_to", ("有效期自", "有效期至"))
    _order(out, rec, "decided_on", "published_on", ("许可决定日期", "公示日期"))
    _order(out, rec, "decided_on", "revoked_on", ("许可决定日期", "撤销/变更日期"))
    _order(out, rec, "published_on", "withdrawn_on", ("公示日期", "撤下公示日期"))
    _revocation(out, rec)
    return out


def check_penalties(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _subject(out, rec)
    kinds = rec.get("penalty_kinds")
    fine = rec.get("fine_amount_wan")
    if isinstance(kinds, list):
        has_fine = "罚款" in kinds
        amount = fine if isinstance(fine, int | float) and not isinstance(fine, bool) else None
        if has_fine and not (amount and amount > 0):
            out.append(("fine-consistency", "/fine_amount_wan", "处罚类别含“罚款”，罚款金额（万元）必须大于 0"))
        elif not has_fine and amount:
            out.append(("fine-consistency", "/penalty_kinds", f"罚款金额为 {amount} 万元，但处罚类别不含“罚款”"))
    _order(out, rec, "decided_on", "published_on", ("处罚决定日期", "公示日期"))
    _order(out, rec, "decided_on", "penalty_valid_until", ("处罚决定日期", "处罚有效期"))
    _order(out, rec, "decided_on", "publicity_until", ("处罚决定日期", "公示截止期"))
    _order(out, rec, "decided_on", "revoked_on", ("处罚决定日期", "撤销/变更日期"))
    _order(out, rec, "published_on", "withdrawn_on", ("公示日期", "撤下公示日期"))
    _revocation(out, rec)
    return out


def check_feedback(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _ref(out, refs, "notifications", rec.get("notification_id"), "/notification_id", "推送编号")
    _ref(out, refs, "licenses", rec.get("license_decision_number"), "/license_decision_number", "许可决定文书号")
    return out


def check_tracking(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _uscc(out, rec.get("uscc"), "/uscc", "统一社会信用代码")
    _ref(out, refs, "notifications", rec.get("notification_id"), "/notification_id", "推送编号")
    _ref(out, refs, "penalties", rec.get("penalty_decision_number"), "/penalty_decision_number", "处罚决定书文号")
    _order(out, rec, "action_on", "reported_to_registrar_on", ("跟踪日期", "告知登记机关日期"))
    return out


def check_assessments(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _uscc(out, rec.get("uscc"), "/uscc", "统一社会信用代码")
    if rec.get("subject_type") == "主体" and isinstance(rec.get("uscc"), str) and rec.get("subject") != rec.get("uscc"):
        out.append(("subject-kind-mismatch", "/subject", "评估对象为主体时，评估对象应为其统一社会信用代码"))
    _order(out, rec, "assessed_on", "valid_until", ("评估日期", "有效期至"))
    return out


def check_inspection_tasks(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _order(out, rec, "start_on", "end_on", ("开始日期", "结束日期"))
    items = rec.get("items")
    if isinstance(items, list):
        for i, item in enumerate(items):
            _ref(out, refs, "inspection_items", item, f"/items/{i}", "抽查事项")
    frame = rec.get("frame") if isinstance(rec.get("frame"), dict) else {}
    members = frame.get("members") if isinstance(frame.get("members"), list) else []
    stratum_of: dict[str, str] = {}
    for i, m in enumerate(members):
        if isinstance(m, dict) and isinstance(m.get("uscc"), str):
            _uscc(out, m["uscc"], f"/frame/members/{i}/uscc", "名单成员统一社会信用代码")
            if m["uscc"] in stratum_of:
                out.append(("frame-inconsistent", f"/frame/members/{i}", f"名单中“{m['uscc']}”重复出现"))
            stratum_of[m["uscc"]] = m.get("stratum")  # type: ignore[assignment]
    size = frame.get("size")
    if isinstance(size, int) and size != len(members):
        out.append(("frame-inconsistent", "/frame/size", f"名单规模为 {size}，但名单成员有 {len(members)} 个"))
    in_stratum = Counter(stratum_of.values())
    selections = rec.get("selections") if isinstance(rec.get("selections"), list) else []
    picked = Counter(s.get("stratum") for s in selections if isinstance(s, dict))
    strata = rec.get("strata") if isinstance(rec.get("strata"), list) else []
    declared = set()
    for i, st in enumerate(strata):
        if not isinstance(st, dict):
            continue
        name = st.get("stratum")
        declared.add(name)
        if isinstance(st.get("size"), int) and st["size"] != in_stratum.get(name, 0):
            out.append(("frame-inconsistent", f"/strata/{i}/size", f"层“{name}”申报规模 {st['size']}，名单中实有 {in_stratum.get(name, 0)} 个"))
        if isinstance(st.get("sample_size"), int) and st["sample_size"] != picked.get(name, 0):
            out.append(("frame-inconsistent", f"/strata/{i}/sample_size", f"层“{name}”申报抽取 {st['sample_size']} 个，实际抽中 {picked.get(name, 0)} 个"))
    for name in sorted(set(in_stratum) - declared, key=str):
        out.append(("frame-inconsistent", "/strata", f"名单中的层“{name}”未在分层中申报"))
    selected: set[str] = set()
    for i, s in enumerate(selections):
        if not isinstance(s, dict) or not isinstance(s.get("uscc"), str):
            continue
        u = s["uscc"]
        if u in selected:
            out.append(("frame-inconsistent", f"/selections/{i}", f"“{u}”被重复抽中"))
        selected.add(u)
        if members and u not in stratum_of:
            out.append(("selection-not-in-frame", f"/selections/{i}/uscc", f"抽中对象“{u}”不在抽查名单中"))
        elif members and stratum_of[u] != s.get("stratum"):
            out.append(("selection-not-in-frame", f"/selections/{i}/stratum", f"抽中对象“{u}”在名单中属于层“{stratum_of[u]}”，而非“{s.get('stratum')}”"))
    orders = [s.get("order") for s in selections if isinstance(s, dict)]
    if orders and sorted(o for o in orders if isinstance(o, int)) != list(range(1, len(orders) + 1)):
        out.append(("frame-inconsistent", "/selections", "抽中顺序号应为 1 至抽中数量的连续整数"))
    assigned: set[str] = set()
    assignments = rec.get("assignments") if isinstance(rec.get("assignments"), list) else []
    for i, a in enumerate(assignments):
        if not isinstance(a, dict):
            continue
        u = a.get("uscc")
        if isinstance(u, str):
            assigned.add(u)
            if u not in selected:
                out.append(("assignment-not-selected", f"/assignments/{i}/uscc", f"检查人员被分配给未被抽中的对象“{u}”"))
        people = a.get("inspectors")
        if isinstance(people, list):
            for j, person in enumerate(people):
                _ref(out, refs, "inspectors", person, f"/assignments/{i}/inspectors/{j}", "检查人员")
    for u in sorted(selected - assigned):
        out.append(("assignment-not-selected", "/assignments", f"抽中对象“{u}”未分配检查人员"))
    return out


def check_inspection_results(rec: dict[str, Any], refs: References) -> list[Finding]:
    out: list[Finding] = []
    _uscc(out, rec.get("uscc"), "/uscc", "统一社会信用代码")
    task_id = rec.get("task_id")
    _ref(out, refs, "inspection_tasks", task_id, "/task_id", "任务编号")
    if isinstance(task_id, str) and isinstance(rec.get("uscc"), str):
        refs.require_selected(task_id, rec["uscc"])
    people = rec.get("inspectors")
    if isinstance(people, list):
        for j, person in enumerate(people):
            _ref(out, refs, "inspectors", person, f"/inspectors/{j}", "检查人员")
    _order(out, rec, "completed_on", "published_on", ("检查完成日期", "公示日期"))
    return out


CHECKS: dict[str, Callable[[dict[str, Any], References], list[Finding]]] = {
    name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_") and callable(fn)
}
