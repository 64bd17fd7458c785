"""Run the audits on a data directory and write their reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from liushuang.policy import Policy
from liushuang.progress import Steps

from . import data as audit_data
from .calendar import Calendar, from_day_number
from .deadline_report import build as build_deadlines
from .deadlines import audit_deadlines
from .report import AuditReport, Finding


def _meta(loaded: audit_data.AuditData, data_dir: Path, as_of: dt.date, policy: Policy, cal: Calendar | None) -> list[tuple[str, str]]:
    s = loaded.validation.stats()
    meta = [("数据目录", str(data_dir)), ("审计截止日", as_of.isoformat()),
            ("记录", f"读取 {s['read']}，通过校验 {s['accepted']}，未通过 {s['rejected']}（未通过的记录不纳入审计）"),
            ("策略", policy.source)]
    if cal is not None:
        meta.append(("工作日历", f"版本 {cal.version}，覆盖 {min(cal.years)}–{max(cal.years)} 年（国务院办公厅节假日安排通知）"))
    return meta


def _validation_finding(loaded: audit_data.AuditData) -> list[Finding]:
    rejected = loaded.validation.stats()["rejected"]
    if not rejected:
        return []
    return [Finding("records-rejected", "记录未通过校验", "info", "全部", rejected,
                    f"{rejected} 条记录未通过数据校验，未纳入审计；详见 liushuang validate 的报告")]


def load_both(data_dir: Path, policy: Policy, *, progress: bool | None = None) -> tuple[audit_data.AuditData, Any]:
    """One validation pass feeding both audits: the deadline audit's columns and the
    draws audit's data (a province's records are read and validated once, not twice)."""
    from liushuang.generator.validate import Validator

    from . import draw_data

    deadline_sink, deadline_finish = audit_data.loader(policy)
    draw_sink, draw_finish = draw_data.loader()

    def sink(kind: str, rec: dict[str, Any]) -> None:
        deadline_sink(kind, rec)
        draw_sink(kind, rec)

    report = Validator(policy, progress=progress).validate_dir(data_dir, sink=sink)
    return deadline_finish(report), draw_finish(report)


def deadlines_report(data_dir: Path, policy: Policy, *, calendar_files: tuple[Path, ...] = (), as_of: dt.date | None = None,
                     site_url: str = "/", progress: bool | None = None,
                     loaded: audit_data.AuditData | None = None) -> AuditReport:
    cal = Calendar.load(calendar_files)
    loaded = loaded or audit_data.load(data_dir, policy, progress=progress)
    as_of = as_of or (from_day_number(loaded.latest_day) if loaded.latest_day >= 0 else dt.date.today())
    result = audit_deadlines(loaded, policy, cal, as_of)
    report = build_deadlines(result, _meta(loaded, data_dir, as_of, policy, cal), site_url=site_url)
    report.findings += _validation_finding(loaded)
    return report


def draws_report(data_dir: Path, policy: Policy, *, resamples: int = 999, seed: int = 0, groups: tuple[Path, ...] = (),
                 site_url: str = "/", progress: bool | None = None, loaded: Any = None, verdicts: list[Any] | None = None,
                 echo: Callable[[str], None] | None = None) -> AuditReport:
    from . import draw_data
    from .draws import audit_draws, read_groups
    from .draws_report import build

    loaded = loaded or draw_data.load(data_dir, policy, progress=progress)
    result = audit_draws(loaded, resamples=resamples, seed=seed, user_groups=read_groups(groups), verdicts=verdicts,
                         echo=echo)
    s = loaded.validation.stats()
    meta = [("数据目录", str(data_dir)), ("抽取次数", str(len(loaded.tasks))),
            ("记录", f"读取 {s['read']}，通过校验 {s['accepted']}，未通过 {s['rejected']}（未通过的记录不纳入审计）"),
            ("蒙特卡罗", f"{resamples} 次，随机种子 {seed}（同样的数据和种子得到同样的报告）")]
    with Steps(echo)("report", "抽取审计报告"):
        report = build(result, meta, site_url=site_url)
    if s["rejected"]:
        report.findings.append(Finding("records-rejected", "记录未通过校验", "info", "全部", s["rejected"],
                                       f"{s['rejected']} 条记录未通过数据校验，未纳入审计"))
    return report


def write_index(directory: Path, reports: list[AuditReport]) -> Path:
    """A landing page linking the reports of one run."""
    items = "".join(
        f'<li><a href="{escape(r.name)}.html">{escape(r.title)}</a>（发现 {len(r.findings)} 项；'
        f'<a href="{escape(r.name)}.md">Markdown</a>，<a href="{escape(r.name)}.json">JSON</a>）</li>' for r in reports)
    path = directory / "index.html"
    path.write_text('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>六双审计报告</title>'
                    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
                    f'<body><main><h1>六双审计报告</h1><ul>{items}</ul></main></body></html>', encoding="utf-8")
    return path
