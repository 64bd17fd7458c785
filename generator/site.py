"""Build the public site: validate → decide what is published → render → write.

This is the first slice of the site (issue 3): record pages, entity pages,
paginated lists and the build report, rendered with jinja2 (autoescaped) into
a temporary folder that replaces OUT only when the build succeeded. Search,
downloads, feeds and the mkdocs narrative pages are still to come.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

from liushuang import schemas
from liushuang.policy import Policy
from liushuang.urls import record_path, slug

from .publish import WITHHELD_ZH, Publisher
from .validate import Validator

SITE_NAME = "六双 · 市场监管信息公开"
PAGE_KINDS = ("licenses", "penalties", "inspection_tasks", "inspection_results", "entities")
LIST_COLUMNS = {
    "penalties": (("decision_number", "决定书文号"), ("subject_name", "当事人"), ("authority", "处罚机关"), ("decided_on", "决定日期")),
    "licenses": (("decision_number", "决定文书号"), ("subject_name", "被许可人"), ("authority", "许可机关"), ("decided_on", "决定日期")),
    "inspection_tasks": (("task_id", "任务编号"), ("task_name", "任务名称"), ("department", "部门"), ("start_on", "开始日期")),
}
DATE_FIELD = {"penalties": "decided_on", "licenses": "decided_on", "inspection_tasks": "start_on"}
KEY = {"penalties": "decision_number", "licenses": "decision_number", "inspection_tasks": "task_id"}
LABEL = {"penalties": "行政处罚", "licenses": "行政许可", "inspection_tasks": "双随机抽查任务"}
# Result codes of the national enterprise credit publicity system (DOMAIN.md §5).
RESULT_CODES = {"1": "未发现问题", "3": "违反食品药品相关规定", "4": "违反质量技术监督相关规定", "5": "违反其他部门相关规定",
                "G": "违反公安部门相关规定", "6": "通过登记的住所（经营场所）无法联系", "7": "已关闭停业或正在组织清算",
                "8": "不配合检查情节严重", "9": "注销", "10": "被吊销", "11": "被撤销", "12": "迁出", "B": "未按规定公示应当公示的信息",
                "C": "公示信息隐瞒真实情况弄虚作假", "D": "违反其他行政管理规定行为", "E": "发现问题经责令已改正",
                "F": "未发现开展本次抽查涉及的经营活动"}


def result_labels(codes: list[str]) -> str:
    return "；".join(f"{RESULT_CODES.get(c, c)}（{c}）" for c in codes)


class UnsafePath(ValueError):
    """A path derived from record data would leave the output directory."""


def safe_join(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if root.resolve() not in target.parents and target != root.resolve():
        raise UnsafePath(relative)
    return target


@dataclass
class BuildReport:
    build_date: str
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: int = 0

    @property
    def conserved(self) -> bool:
        return all(c["input"] == c["published"] + sum(c["withheld"].values()) + c["rejected"] for c in self.counts.values())


def _display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(_display(v) for v in value if not isinstance(v, dict)) or "—"
    if isinstance(value, dict):
        return "；".join(f"{k}：{_display(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "是" if value else "否"
    if value == "2099-12-31":
        return "长期"
    return str(value)


def _env() -> Environment:
    # site/ installs as liushuang.site (editable installs map it to the repository folder).
    return Environment(loader=PackageLoader("liushuang.site", "templates"), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def build(data_dir: str | Path, out: str | Path, policy: Policy, *, build_date: dt.date, page_size: int = 50,
          progress: bool | None = None, site_url: str = "http://127.0.0.1:8000/") -> BuildReport:
    data_dir, out = Path(data_dir), Path(out)
    publisher = Publisher(policy, build_date)
    store: dict[str, list[dict[str, Any]]] = {k: [] for k in PAGE_KINDS}

    def sink(kind: str, rec: dict[str, Any]) -> None:
        public = publisher.decide(kind, rec)
        if public is not None and kind in store:
            store[kind].append(public)

    validation = Validator(policy, progress=progress).validate_dir(data_dir, sink=sink)
    report = BuildReport(build_date.isoformat())
    for kind in schemas.KINDS:
        k = validation.kinds[kind]
        if not k.read:
            continue
        report.counts[kind] = {"input": k.read, "published": publisher.decisions.published[kind],
                               "withheld": dict(sorted(publisher.decisions.withheld.get(kind, {}).items())), "rejected": k.rejected}
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        report.pages = _render(tmp, store, build_date, page_size)
        from .feeds import write_feeds, write_sitemap

        base = site_url if site_url.endswith("/") else site_url + "/"
        write_feeds(tmp, store, base, build_date.isoformat())
        write_sitemap(tmp, base)
        (tmp / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {base}sitemap.xml\n", encoding="utf-8")
        (tmp / "build-report.json").write_bytes(orjson.dumps(
            {"counts": report.counts, "build_date": report.build_date, "pages": report.pages, "withheld_reasons": WITHHELD_ZH}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _replace(new: Path, out: Path) -> None:
    """Swap the finished build into place; the previous site stays intact until then."""
    old = out.parent / f".{out.name}.previous-{os.getpid()}"
    if out.exists():
        out.rename(old)
    new.rename(out)
    if old.exists():
        shutil.rmtree(old)


def _statistics(store: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Decisions per month and publication delay per department, as SVG (no JavaScript)."""
    import statistics
    from collections import Counter

    from liushuang.audit import svg

    charts = []
    for kind in ("penalties", "licenses"):
        months = Counter(r["decided_on"][:7] for r in store[kind])
        if months:
            peak = max(months.values())
            series = [(m, float(months[m])) for m in sorted(months)]
            charts.append({"svg": svg.line(series, f"{LABEL[kind]}：每月决定数", fmt="{:.0f}", lo=0.0, hi=float(peak)),
                           "caption": f"{LABEL[kind]}每月决定数（件）"})
    delays: dict[str, list[int]] = defaultdict(list)
    for kind in ("penalties", "licenses"):
        for r in store[kind]:
            if r.get("published_on"):
                delays[r["authority"]].append((dt.date.fromisoformat(r["published_on"]) - dt.date.fromisoformat(r["decided_on"])).days)
    rows = [(dep, len(v), statistics.median(v), max(v)) for dep, v in sorted(delays.items())]
    if rows:
        top = float(max(r[2] for r in rows) or 1)
        charts.append({"svg": svg.hbars([(r[0], float(r[2])) for r in rows], "各部门公示用时中位数（天）", fmt="{:.1f} 天", limit=top),
                       "caption": "各部门从决定到公示的用时中位数（自然日）"})
    return {"charts": charts, "delays": rows}


def _render(root: Path, store: dict[str, list[dict[str, Any]]], build_date: dt.date, page_size: int) -> int:
    env = _env()
    common = {"site_name": SITE_NAME, "build_date": build_date.isoformat()}
    pages = 0
    (root / "assets").mkdir()
    (root / "assets" / "site.css").write_bytes(resources.files("liushuang.site").joinpath("assets.css").read_bytes())

    def write(relative: str, template: str, **context: Any) -> None:
        nonlocal pages
        path = safe_join(root, relative) / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        depth = len(relative.split("/")) if relative else 0  # the page is relative/index.html
        path.write_text(env.get_template(template).render(root="../" * depth, **common, **context), encoding="utf-8")
        pages += 1

    by_entity: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for kind in ("licenses", "penalties"):
        for rec in store[kind]:
            if rec.get("uscc"):
                by_entity[rec["uscc"]][kind].append(rec)
    tasks = {t["task_id"]: t for t in store["inspection_tasks"]}
    for res in store["inspection_results"]:
        by_entity[res["uscc"]]["inspection_results"].append(res)
    names = {e["uscc"]: e["name"] for e in store["entities"]}

    for kind in ("licenses", "penalties", "inspection_tasks"):
        titles = schemas.titles(kind)
        records = sorted(store[kind], key=lambda r: (r.get(DATE_FIELD[kind]) or "", r[KEY[kind]]), reverse=True)
        for rec in records:
            fields = [(titles.get(k, k), _display(v)) for k, v in rec.items() if k not in ("frame", "selections", "assignments")]
            if kind == "inspection_tasks":
                fields.append(("名单规模", _display(rec["frame"]["size"])))
                fields.append(("抽中对象", "、".join(s["uscc"] for s in rec["selections"])))
            write(record_path(kind, rec[KEY[kind]]).rstrip("/"), "record.html", title=f"{LABEL[kind]}：{rec[KEY[kind]]}",
                  caption=LABEL[kind], fields=fields,
                  entity_href=record_path("entities", rec["uscc"]) if rec.get("uscc") in by_entity else None)
        n_pages = max(1, -(-len(records) // page_size))
        for page in range(1, n_pages + 1):
            chunk = records[(page - 1) * page_size: page * page_size]
            rows = [{"href": record_path(kind, r[KEY[kind]]), "cells": [_display(r.get(f)) for f, _ in LIST_COLUMNS[kind]]} for r in chunk]
            write(kind if page == 1 else f"{kind}/page/{page}", "list.html", title=LABEL[kind], total=len(records),
                  page=page, pages=n_pages, base=f"{kind}/", rows=rows, headers=[h for _, h in LIST_COLUMNS[kind]])
    for uscc, groups in sorted(by_entity.items()):
        sections = [
            {"title": "行政许可", "headers": ["决定文书号", "许可内容", "决定日期"],
             "rows": [{"href": record_path("licenses", r["decision_number"]), "cells": [r["decision_number"], _display(r.get("content")), r["decided_on"]]}
                      for r in sorted(groups["licenses"], key=lambda r: r["decided_on"], reverse=True)]},
            {"title": "行政处罚", "headers": ["决定书文号", "违法行为类型", "决定日期"],
             "rows": [{"href": record_path("penalties", r["decision_number"]), "cells": [r["decision_number"], _display(r.get("violation_type")), r["decided_on"]]}
                      for r in sorted(groups["penalties"], key=lambda r: r["decided_on"], reverse=True)]},
            {"title": "双随机抽查结果", "headers": ["任务", "检查完成日期", "检查结果"],
             "rows": [{"href": record_path("inspection_tasks", r["task_id"]) if r["task_id"] in tasks else "",
                       "cells": [r["task_id"], r["completed_on"], result_labels(r["result_codes"])]}
                      for r in sorted(groups["inspection_results"], key=lambda r: r["completed_on"], reverse=True)]},
        ]
        name = names.get(uscc) or next((r.get("subject_name") for g in groups.values() for r in g if r.get("subject_name")), uscc)
        write(record_path("entities", uscc).rstrip("/"), "entity.html", title=name, uscc=uscc, sections=sections)
    write("", "home.html", title=SITE_NAME, counts=[(k, len(store[k]), LABEL[k]) for k in ("penalties", "licenses", "inspection_tasks")])
    from .downloads import write_downloads

    write("stats", "stats.html", title="统计", **_statistics(store))
    datasets = write_downloads(root, store, build_date.isoformat())
    write("downloads", "downloads.html", title="开放数据下载", resources=datasets)
    (root / "404.html").write_text(env.get_template("404.html").render(root="/", title="页面不存在", **common), encoding="utf-8")
    return pages


__all__ = ["BuildReport", "UnsafePath", "build", "safe_join", "slug"]
