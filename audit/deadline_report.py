"""Build the report of the deadline audit (audit.deadlines → audit.report)."""

from __future__ import annotations

from typing import Any

from liushuang.urls import record_path

from . import svg
from .deadlines import DeadlineAudit, RuleResult
from .report import AuditReport, Finding, Section, Table

DUTY_ORDER = ("双告知", "双反馈", "双跟踪", "双公示", "双评估", "双随机一公开")
OVERDUE_IN_PAGE = 50


def _pct(value: float | None) -> str | None:
    return None if value is None else f"{value:.1%}"


def grade(result: RuleResult, compliance: float | None) -> str:
    """The rule's own severity, lowered when nearly every record complied."""
    base = result.rule.severity
    if compliance is None or compliance >= 0.98:
        return "low"
    if compliance >= 0.9 and base == "high":
        return "medium"
    return base


def findings(audit: DeadlineAudit) -> list[Finding]:
    out = []
    for r in audit.results:
        for dep, s in r.by_department().items():
            bad = s.get("late", 0) + s.get("missing", 0) + s.get("violation", 0)
            if not bad:
                continue
            msg = "，".join(f"{zh} {s[k]} 条" for k, zh in (("late", "逾期"), ("missing", "未履行"), ("violation", "不符合")) if s.get(k))
            if s.get("compliance") is not None:
                msg += f"；合规率 {s['compliance']:.1%}"
            if s.get("worst_delay") is not None and r.rule.working_days:
                msg += f"；最长 {s['worst_delay']} 个工作日（时限 {r.rule.working_days}）"
            out.append(Finding(r.rule.slug, r.rule.title, grade(r, s.get("compliance")), dep, bad, msg, r.rule.basis))
    for b in audit.bunching:
        if b.qvalue < 0.05:
            out.append(Finding("deadline-bunching", "期限当日集中办结", "medium", b.department, b.on_deadline,
                               f"规则“{b.rule}”：{b.on_deadline} 条恰在期限当日办结，前一工作日仅 {b.day_before} 条"
                               f"（二项检验 p = {b.pvalue:.2g}，BH 校正 q = {b.qvalue:.2g}）；可能存在倒签", "AUDIT-METHOD.md §4"))
    nc = sum(r.count("not_computable") for r in audit.results)
    if nc:
        out.append(Finding("not-computable", "期限无法计算", "info", "全部", nc, audit.notes[0] if audit.notes else ""))
    return out


def _link(site_url: str, kind: str, key: str) -> str | None:
    """Link to the record's page on the public site, for kinds that have one."""
    if kind in ("licenses", "penalties", "inspection_tasks"):
        return site_url + record_path(kind, key)
    return None


def _section(r: RuleResult, site_url: str) -> Section:
    deps = r.by_department()
    overall = r.summary()
    headers = ["部门", "记录", "应履行", "合规率", "逾期", "未履行", "待履行", "无法计算"]
    if r.rule.working_days:
        headers += ["中位用时", "最长用时"]
    rows = []
    for dep, s in deps.items():
        row = [dep, s["records"], s["due"], _pct(s["compliance"]), s.get("late", 0), s.get("missing", 0) + s.get("violation", 0),
               s.get("pending", 0), s.get("not_computable", 0)]
        if r.rule.working_days:
            row += [s.get("median_delay"), s.get("worst_delay")]
        rows.append(row)
    tables = [Table(headers, rows, caption="按部门")]
    charts = []
    comp = [(dep, s["compliance"]) for dep, s in deps.items() if s["compliance"] is not None]
    if len(comp) > 1:
        charts.append(svg.hbars(comp, f"{r.rule.title}：各部门合规率", threshold=0.9))
    monthly = [(m, v["good"] / v["due"]) for m, v in r.monthly().items() if v["due"]]
    if len(monthly) > 2:
        charts.append(svg.line(monthly, f"{r.rule.title}：按月合规率"))
    bad = r.rows()
    if bad:
        if r.trigger is not None:
            h = ["记录", "部门", "状态", "起算日", "期限", "办结日", "用时（工作日）"]
            body = [[x["id"], x["department"], {"late": "逾期", "missing": "未履行"}[x["status"]], x["trigger"], x["deadline"], x["done"], x["delay"]]
                    for x in bad[:OVERDUE_IN_PAGE]]
        else:
            h = ["记录", "部门", "说明"]
            body = [[x["id"], x["department"], x.get("detail", "")] for x in bad[:OVERDUE_IN_PAGE]]
        links = [_link(site_url, r.kind, x["id"]) for x in bad[:OVERDUE_IN_PAGE]]
        more = f"（共 {len(bad)} 条，此处列出前 {OVERDUE_IN_PAGE} 条；完整清单见 JSON）" if len(bad) > OVERDUE_IN_PAGE else f"（共 {len(bad)} 条）"
        tables.append(Table(h, body, caption="不合规记录" + more, links=links))
    text = f"依据：{r.rule.basis}。"
    if overall["due"]:
        text += f" 全部应履行 {overall['due']} 条，合规率 {overall['compliance']:.1%}。"
    return Section(f"{r.rule.duty} · {r.rule.title}", text, tables, charts, anchor=r.rule.slug)


def build(audit: DeadlineAudit, meta: list[tuple[str, str]], *, site_url: str = "/") -> AuditReport:
    results = sorted(audit.results, key=lambda r: (DUTY_ORDER.index(r.rule.duty), r.rule.slug))
    sections = [_section(r, site_url) for r in results]
    overview = Table(["职责", "规则", "应履行", "合规率", "逾期", "未履行"],
                     [[r.rule.duty, r.rule.title, r.summary()["due"], _pct(r.summary()["compliance"]), r.count("late"),
                       r.count("missing") + r.count("violation")] for r in results], caption="各项职责")
    sections.insert(0, Section("总览", "", [overview],
                               [svg.hbars([(r.rule.title, r.summary()["compliance"]) for r in results if r.summary()["compliance"] is not None],
                                          "各项职责合规率", threshold=0.9)]))
    if audit.bunching:
        rows = [[b.rule, b.department, b.on_deadline, b.day_before, _pct(b.statistic), f"{b.pvalue:.3g}", f"{b.qvalue:.3g}"]
                for b in sorted(audit.bunching, key=lambda b: b.pvalue)]
        sections.append(Section("期限当日集中（倒签迹象）",
                                "无倒签时，恰在期限当日办结的不会多于前一个工作日（用时分布随时间递减）。"
                                "对每项规则和部门做单侧精确二项检验（H0：当日占两日之和的比例 ≤ 1/2），"
                                "并用 Benjamini–Hochberg 方法控制错误发现率。",
                                [Table(["规则", "部门", "期限当日", "前一工作日", "当日占比", "p 值", "q 值"], rows)]))
    data: dict[str, Any] = {
        "as_of": audit.as_of.isoformat(), "calendar": audit.calendar_version,
        "rules": {r.rule.slug: {"duty": r.rule.duty, "title": r.rule.title, "basis": r.rule.basis,
                                "working_days": r.rule.working_days, "summary": r.summary(),
                                "departments": r.by_department(), "monthly": r.monthly(), "violations": r.rows()}
                  for r in results},
        "bunching": [b.__dict__ for b in audit.bunching],
    }
    return AuditReport("deadlines", "六双履职审计：期限与职责", meta, findings(audit), sections, data, audit.notes)
