"""Record, entity, task, list and department pages, rendered with jinja2.

These pages never go through mkdocs (PERFORMANCE.md: mkdocs-material makes
about 30 pages/s and puts the whole nav into every page); they share the
narrative pages' look through ``site/assets.css``. Rendering is split into
jobs that forked workers run over one shared, read-only ``SiteData``; every
page's bytes depend only on the data, never on which worker wrote it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import posixpath
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from liushuang import schemas
from liushuang.formats import json_default
from liushuang.parallel import shared
from liushuang.urls import record_path, slug

from .labels import labels, result_labels
from .records import COMPACT, DECISION_KINDS, plain

SITE_NAME = "六双 · 市场监管信息公开"
LIST_COLUMNS = {
    "penalties": (("decision_number", "决定书文号"), ("subject_name", "当事人"), ("authority", "处罚机关"), ("decided_on", "决定日期")),
    "licenses": (("decision_number", "决定文书号"), ("subject_name", "被许可人"), ("authority", "许可机关"), ("decided_on", "决定日期")),
    "inspection_tasks": (("task_id", "任务编号"), ("task_name", "任务名称"), ("department", "部门"), ("start_on", "开始日期")),
}
DATE_FIELD = {"penalties": "decided_on", "licenses": "decided_on", "inspection_tasks": "start_on"}
KEY = {"penalties": "decision_number", "licenses": "decision_number", "inspection_tasks": "task_id"}
LABEL = labels("penalties", "licenses", "inspection_tasks")
DEPARTMENT_FIELD = {"penalties": "authority", "licenses": "authority", "inspection_tasks": "department"}
ALGORITHMS = {"liushuang-ticket": "liushuang 抽签算法（SHA-256 签号排序）", "cryptorandom-sample_by_index": "cryptorandom 按序号抽样（SHA-256 伪随机数）"}
# Folders holding one folder per record (``F/slug/index.html``) and the listings' page/ and year/.
RECORD_FOLDERS = ("penalties", "licenses", "inspection_tasks", "entities")
# Jobs a forked page worker renders before it is replaced by a fresh one (parallel.fork_map's recycle):
# about 16,000 decisions or entities, so a worker's copy-on-write copies stay a fraction of the site data.
RECYCLE = 8
_RECORD_TYPES = frozenset(COMPACT.values())
TASK_HIDDEN = {"frame", "selections", "assignments", "strata", "algorithm", "commitment", "seed", "redraws", "inspector_pool", "items"}


def write_new(path: Path, data: bytes) -> None:
    """Write ``path`` as a new file. A file already there (a retried job's, or a
    hard link to the previous site) is unlinked first, never written through:
    writing into a hard-linked inode would change the published site."""
    try:
        fh = open(path, "xb")
    except FileExistsError:
        path.unlink()
        fh = open(path, "xb")
    with fh:
        fh.write(data)


class UnsafePath(ValueError):
    """A path derived from record data would leave the output directory."""


def safe_relative(relative: str) -> str:
    """``relative`` without its outer slashes, refusing anything that would lead
    outside the folder it is joined to.

    The check is lexical (no file-system calls: it runs once per page): the
    build writes into a fresh folder it created itself, which holds no links."""
    normal = posixpath.normpath("/" + relative.replace("\\", "/"))
    if normal != "/" + relative.strip("/") or "\x00" in relative:
        raise UnsafePath(relative)
    return relative.strip("/")


def safe_join(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would lead outside ``root``."""
    return root / safe_relative(relative)


def display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(display(v) for v in value if not isinstance(v, dict)) or "—"
    if isinstance(value, dict):
        return "；".join(f"{k}：{display(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "是" if value else "否"
    if value == "2099-12-31":
        return "长期"
    return str(value)


def _fingerprint_default(obj: Any) -> Any:
    if obj.__class__ in _RECORD_TYPES:  # most calls: a published record, as its JSON
        return orjson.Fragment(obj.blob)
    try:
        return json_default(obj)
    except TypeError:
        return str(obj)


@functools.cache
def templates_digest() -> str:
    """SHA-256 of liushuang's version and every template: a new release or template re-renders every page."""
    from importlib import resources

    from liushuang import __version__

    h = hashlib.sha256(__version__.encode())
    folder = resources.files("liushuang.site").joinpath("templates")
    for name in sorted(p.name for p in folder.iterdir()):
        h.update(name.encode())
        h.update(folder.joinpath(name).read_bytes())
    return h.hexdigest()


@functools.cache
def environment() -> Environment:
    """One environment per process (compiled templates are reused; forked workers inherit them)."""
    # site/ installs as liushuang.site (editable installs map it to the repository folder).
    env = Environment(loader=PackageLoader("liushuang.site", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, auto_reload=False)
    env.globals.update(site_name=SITE_NAME, record_path=record_path)
    env.filters["slug"] = slug
    return env


def pagination(page: int, pages: int) -> list[int | None]:
    """Page numbers to show, GOV.UK style: first, last, current and its
    neighbours; ``None`` marks an ellipsis."""
    keep = sorted(n for n in {1, pages, page - 1, page, page + 1} if 1 <= n <= pages)  # not a set of every page: a list has thousands
    out: list[int | None] = []
    for n in keep:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


@dataclass
class Previous:
    """The site this build replaces: its folder and manifest. A page whose bytes
    equal the previous build's is hard-linked to the old file instead of being
    written again, so a nightly rebuild rewrites only what changed (and the old
    files are never modified: a killed build leaves the old site intact)."""

    root: Path
    files: dict[str, dict[str, Any]]
    # Pages already in the build folder as the previous build's very files (the build
    # reuses the standby tree, see site._adopt_standby): an unchanged one needs no work at all.
    in_place: frozenset[str] = frozenset()

    @cached_property
    def _folders(self) -> dict[str, list[str]]:
        """Paths by their first folder."""
        out: dict[str, list[str]] = defaultdict(list)
        for path in self.files:
            out[path.split("/", 1)[0]].append(path)
        return out

    def narrowed(self, names: Iterable[str] = (), *, under: str = "", exact: str = "") -> Previous:
        """Only what one job can ask for (sent to a Dask worker instead of the whole
        manifest): ``names``, and the paths under the folder ``under`` whose rest
        starts with one of ``exact``'s comma-separated prefixes (any, without)."""
        wanted = set(names)
        if under:
            prefixes = tuple(under + x for x in exact.split(",")) if exact else (under,)
            wanted.update(p for p in self._folders.get(under.split("/", 1)[0], ()) if p.startswith(prefixes))
        files = {n: self.files[n] for n in wanted if n in self.files}
        return Previous(self.root, files, frozenset(n for n in files if n in self.in_place))

    def reuse(self, relative: str, entry: dict[str, Any], target: str | Path) -> bool:
        """The previous build's file is this one's: already in place (standby tree) or linked."""
        return relative in self.in_place or self.link(relative, entry, target)

    def link(self, relative: str, entry: dict[str, Any], target: str | Path) -> bool:
        old = self.files.get(relative)
        if old is None or old["sha256"] != entry["sha256"] or old["size"] != entry["size"]:
            return False
        source = os.path.join(self.root, relative)
        try:
            if os.stat(source).st_size != entry["size"]:  # changed on disk since that build: do not propagate it
                return False
            try:
                os.link(source, target)
            except FileExistsError:  # a retried job's file
                os.unlink(target)
                os.link(source, target)
        except OSError:
            return False
        return True


def kept_entries(previous: Previous | None, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The previous manifest's entries of pages kept as they were (``Writer.kept``)."""
    files = previous.files if previous is not None else {}
    return {name: files[name] for name in names}


@dataclass
class SiteData:
    """Everything the page jobs read: the published records and their indexes."""

    store: dict[str, list[dict[str, Any]]]
    build_date: dt.date
    page_size: int = 50
    narrative: bool = True   # the mkdocs pages under about/ exist: templates link to them
    previous: Previous | None = None

    @cached_property
    def sorted(self) -> dict[str, list[dict[str, Any]]]:
        return {kind: sorted(self.store[kind], key=lambda r: (r.get(DATE_FIELD[kind]) or "", r[KEY[kind]]), reverse=True)
                for kind in LIST_COLUMNS}

    @cached_property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return {t["task_id"]: t for t in self.store["inspection_tasks"]}

    @cached_property
    def items(self) -> dict[str, dict[str, Any]]:
        return {i["item_id"]: i for i in self.store.get("inspection_items", [])}

    @cached_property
    def results_by_task(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for r in self.store["inspection_results"]:
            out[r["task_id"]][r["uscc"]] = r
        return out

    @cached_property
    def names(self) -> dict[str, str]:
        return {e["uscc"]: e["name"] for e in self.store["entities"]}

    @cached_property
    def by_entity(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """USCC → kind → records, for every entity with something published."""
        # Plain dicts (not defaultdicts of lambdas): SiteData is pickled to Dask workers.
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        kinds = ("licenses", "penalties", "inspection_results")
        for kind in kinds:
            for rec in self.store[kind]:
                if rec.get("uscc"):
                    out.setdefault(rec["uscc"], {k: [] for k in kinds})[kind].append(rec)
        return out

    @cached_property
    def entity_keys(self) -> list[str]:
        """Every entity with a page: the published register, and anyone a published record names."""
        return sorted(set(self.names) | set(self.by_entity))

    @cached_property
    def entity_set(self) -> frozenset[str]:
        return frozenset(self.entity_keys)

    @cached_property
    def entities(self) -> dict[str, dict[str, Any]]:
        return {e["uscc"]: e for e in self.store["entities"]}

    @cached_property
    def departments(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Department → kind → records (newest first)."""
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for kind, records in self.sorted.items():
            for r in records:
                out.setdefault(r.get(DEPARTMENT_FIELD[kind]) or "未注明", {}).setdefault(kind, []).append(r)
        return out

    @cached_property
    def years(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Kind → year → records (newest first)."""
        out: dict[str, dict[str, list[dict[str, Any]]]] = {kind: defaultdict(list) for kind in LIST_COLUMNS}
        for kind, records in self.sorted.items():
            for r in records:
                out[kind][(r.get(DATE_FIELD[kind]) or "")[:4] or "未注明"].append(r)
        return out


class Writer:
    """Renders templates into files under ``root``, with paths that cannot leave it.

    Record, entity and task pages do not show the build date: a page changes only
    when what it shows changes, so a nightly rebuild re-uploads only those
    (``liushuang diff``). Lists, home, statistics and downloads are ``dated``."""

    def __init__(self, root: Path, build_date: dt.date, narrative: bool = True, previous: Previous | None = None) -> None:
        self.root = root
        self.root_str = os.fspath(root)
        self.env = environment()
        self.common = {"build_date": build_date.isoformat(), "narrative": narrative}
        self.previous = previous
        self.pages = 0
        self.linked = 0  # pages identical to the previous build's: hard-linked, not rewritten
        self.files: dict[str, dict[str, Any]] = {}  # manifest entries of the pages written, hashed once, here
        # Pages that are the previous build's file, whose entry is the previous manifest's: only their
        # names travel back from a forked worker (a nightly build's page workers reuse 98 % of the pages).
        self.kept: list[str] = []

    def entries(self) -> dict[str, dict[str, Any]]:
        """The manifest entries of every page this writer made or kept."""
        return {**self.files, **kept_entries(self.previous, self.kept)}

    def page(self, relative: str, template: str, *, dated: bool = False, source: Any = None,
             make: Callable[[], dict[str, Any]] | None = None, **context: Any) -> None:
        """Render ``template`` into ``relative/index.html``. The page's inputs are its
        context, or, when given, ``source``: the records the context is made from,
        with ``make`` building the context from them only if the page must be rendered
        (a nightly build renders a few per cent of the pages; the rest cost a digest)."""
        # Plain strings and os calls: this runs once per page, and most pages of a nightly
        # rebuild are only linked, so pathlib's per-call overhead would dominate.
        folder = os.path.join(self.root_str, safe_relative(relative)) if relative else self.root_str
        path = folder + "/index.html"
        name = f"{relative}/index.html" if relative else "index.html"
        self.pages += 1
        # What the page is made of: the template set, the context (or its source), and the build
        # date only if shown. A page whose inputs equal the previous build's is that page: link it without rendering.
        inputs = hashlib.sha256(orjson.dumps([templates_digest(), template, relative, self.common["narrative"],
                                              self.common["build_date"] if dated else None, context if make is None else source,
                                              *(() if make is None else (context,))],
                                             default=_fingerprint_default)).hexdigest()
        old = self.previous.files.get(name) if self.previous is not None else None
        if old is not None and old.get("input") == inputs and name in self.previous.in_place:  # type: ignore[union-attr]
            self.kept.append(name)  # already there
            self.linked += 1
            return
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
        if old is not None and old.get("input") == inputs and self.previous.link(name, old, path):  # type: ignore[union-attr]
            self.kept.append(name)
            self.linked += 1
            return
        if make is not None:
            context = {**context, **make()}
        depth = len(relative.split("/")) if relative else 0  # the page is relative/index.html
        # The relative root is markup-safe by construction; marking it so spares an escape per link.
        data = self.env.get_template(template).render(root=Markup("../" * depth), dated=dated, **self.common, **context).encode("utf-8")
        entry = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "input": inputs}
        self.files[name] = entry
        if self.previous is not None and self.previous.link(name, entry, path):
            self.linked += 1
            return
        write_new(Path(path), data)


# --- page jobs: each renders a slice and returns its page count -------------------------------

@functools.cache
def _titles(kind: str) -> dict[str, str]:
    return schemas.titles(kind)


def _record_fields(kind: str, rec: dict[str, Any]) -> list[tuple[str, str]]:
    titles = _titles(kind)
    return [(titles.get(k, k), display(v)) for k, v in rec.items() if not (kind == "inspection_tasks" and k in TASK_HIDDEN)]


def _decisions(w: Writer, data: SiteData, kind: str, lo: int, hi: int) -> None:
    for rec in data.sorted[kind][lo:hi]:
        key = rec[KEY[kind]]
        linked = rec.get("uscc") in data.entity_set
        w.page(record_path(kind, key).rstrip("/"), "record.html", source=(kind, rec, linked),
               make=lambda rec=rec, linked=linked: {"fields": _record_fields(kind, rec), "department": rec.get(DEPARTMENT_FIELD[kind]),
                                                    "entity_href": record_path("entities", rec["uscc"]) if linked else None},
               title=f"{LABEL[kind]}：{key}", caption=LABEL[kind], kind=kind)


def _task(w: Writer, data: SiteData, rec: dict[str, Any]) -> None:
    results = data.results_by_task.get(rec["task_id"], {})
    assigned = {a["uscc"]: a["inspectors"] for a in rec.get("assignments") or []}
    selections = [{"order": s["order"], "stratum": s.get("stratum") or "—", "uscc": s["uscc"],
                   "name": data.names.get(s["uscc"]) or (results.get(s["uscc"]) or {}).get("entity_name") or "—",
                   "href": record_path("entities", s["uscc"]) if s["uscc"] in data.entity_set else None,
                   "inspectors": "、".join(assigned.get(s["uscc"], [])) or "—",
                   "result": result_labels(results[s["uscc"]]["result_codes"]) if s["uscc"] in results else "尚未公示"}
                  for s in sorted(rec.get("selections") or [], key=lambda s: s["order"])]
    items = [{"id": i, "name": (data.items.get(i) or {}).get("name") or "—", "basis": (data.items.get(i) or {}).get("basis") or "—"}
             for i in rec.get("items") or []]
    algorithm = rec.get("algorithm") or {}
    w.page(record_path("inspection_tasks", rec["task_id"]).rstrip("/"), "task.html", title=f"双随机抽查任务：{rec['task_name']}",
           task=rec, fields=_record_fields("inspection_tasks", rec), items=items, selections=selections,
           strata=rec.get("strata") or [], frame=rec.get("frame") or {}, seed=rec.get("seed"), commitment=rec.get("commitment"),
           algorithm=ALGORITHMS.get(algorithm.get("id", ""), algorithm.get("id")), algorithm_version=algorithm.get("version"),
           redraws=rec.get("redraws") or [], data_href=f"downloads/tasks/{_task_file(rec['task_id'])}",
           department=rec.get("department"))


def _task_file(task_id: str) -> str:
    return f"{slug(task_id)}.json"


def _entity(w: Writer, data: SiteData, uscc: str) -> None:
    groups = data.by_entity.get(uscc) or {"licenses": [], "penalties": [], "inspection_results": []}
    # What the page shows besides the entity's own records: its tasks' names and whether they have a page.
    tasks = [(r["task_id"], (data.tasks.get(r["task_id"]) or {}).get("task_name"), r["task_id"] in data.tasks)
             for r in groups["inspection_results"]]
    w.page(record_path("entities", uscc).rstrip("/"), "entity.html",
           source=(uscc, data.names.get(uscc), data.entities.get(uscc), groups, tasks),
           make=lambda: _entity_context(data, uscc, groups))


def _entity_context(data: SiteData, uscc: str, groups: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    groups = {kind: [plain(r) for r in records] for kind, records in groups.items()}
    sections = [
        {"id": "licenses", "title": "行政许可", "headers": ["决定文书号", "许可内容", "许可机关", "决定日期"],
         "rows": [{"href": record_path("licenses", r["decision_number"]),
                   "cells": [r["decision_number"], display(r.get("content")), display(r.get("authority")), r["decided_on"]]}
                  for r in sorted(groups["licenses"], key=lambda r: (r["decided_on"], r["decision_number"]), reverse=True)]},
        {"id": "penalties", "title": "行政处罚", "headers": ["决定书文号", "违法行为类型", "处罚机关", "决定日期"],
         "rows": [{"href": record_path("penalties", r["decision_number"]),
                   "cells": [r["decision_number"], display(r.get("violation_type")), display(r.get("authority")), r["decided_on"]]}
                  for r in sorted(groups["penalties"], key=lambda r: (r["decided_on"], r["decision_number"]), reverse=True)]},
        {"id": "results", "title": "双随机抽查结果", "headers": ["抽查任务", "检查完成日期", "检查结果"],
         "rows": [{"href": record_path("inspection_tasks", r["task_id"]) if r["task_id"] in data.tasks else "",
                   "cells": [(data.tasks.get(r["task_id"]) or {}).get("task_name") or r["task_id"], r["completed_on"],
                             result_labels(r["result_codes"]) + (f"。{r['result_text']}" if r.get("result_text") else "")]}
                  for r in sorted(groups["inspection_results"], key=lambda r: (r["completed_on"], r["task_id"]), reverse=True)]},
    ]
    name = data.names.get(uscc) or next((r.get("subject_name") or r.get("entity_name") for g in groups.values() for r in g
                                         if r.get("subject_name") or r.get("entity_name")), uscc)
    entity = data.entities.get(uscc)
    entity = plain(entity) if entity is not None else None
    facts = []
    if entity:
        rep = entity.get("legal_representative")
        facts = [("统一社会信用代码", uscc), ("主体类型", display(entity.get("kind"))), ("行业", display(entity.get("industry_name"))),
                 ("成立日期", display(entity.get("registered_on"))), ("登记状态", display(entity.get("status"))),
                 ("法定代表人（负责人、经营者）", display(rep.get("name") if isinstance(rep, dict) else rep))]
    return {"title": name, "uscc": uscc, "sections": sections, "facts": facts}


def _listing(w: Writer, data: SiteData, kind: str, base: str, records: list[dict[str, Any]], title: str, **context: Any) -> None:
    """A paginated list (newest first) at ``base`` and ``base/page/N``."""
    size = data.page_size
    n_pages = max(1, -(-len(records) // size))
    columns = [f for f, _ in LIST_COLUMNS[kind]]
    headers = [h for _, h in LIST_COLUMNS[kind]]
    for page in range(1, n_pages + 1):
        chunk = records[(page - 1) * size: page * size]
        # Only a listing's first page shows the build date: the others change only when their rows do,
        # so a nightly build does not re-upload every list page for the date alone.
        w.page(base.rstrip("/") if page == 1 else f"{base}page/{page}", "list.html", dated=page == 1,
               source=[(r[KEY[kind]], *(r.get(f) for f in columns)) for r in chunk],
               make=lambda chunk=chunk: {"rows": [{"href": record_path(kind, r[KEY[kind]]), "cells": [display(r.get(f)) for f in columns]}
                                                  for r in chunk]},
               title=title, total=len(records), page=page, pages=n_pages, base=base, headers=headers, kind=kind,
               numbers=pagination(page, n_pages), first=(page - 1) * size + 1, last=(page - 1) * size + len(chunk), **context)


def _lists(w: Writer, data: SiteData, kind: str) -> None:
    years = sorted(data.years[kind], reverse=True)
    departments = sorted((d, len(g[kind])) for d, g in data.departments.items() if g.get(kind))
    facets = {"years": [(y, f"{kind}/year/{y}/", len(data.years[kind][y])) for y in years],
              "departments": [(d, f"departments/{slug(d)}/{kind}/", n) for d, n in departments]}
    _listing(w, data, kind, f"{kind}/", data.sorted[kind], LABEL[kind], facets=facets)
    for y in years:
        _listing(w, data, kind, f"{kind}/year/{y}/", data.years[kind][y], f"{LABEL[kind]}（{y}年）", facets=facets, current=y)


def _department(w: Writer, data: SiteData, department: str) -> None:
    groups = data.departments[department]
    base = f"departments/{slug(department)}/"
    summary = [(kind, LABEL[kind], len(groups.get(kind, [])), f"{base}{kind}/") for kind in LIST_COLUMNS if groups.get(kind)]
    w.page(base.rstrip("/"), "department.html", title=department, summary=summary,
           latest=[{"href": record_path(k, r[KEY[k]]), "label": LABEL[k], "cells": [display(r.get(f)) for f, _ in LIST_COLUMNS[k]]}
                   for k in ("penalties", "licenses") for r in groups.get(k, [])[:5]])
    for kind, _, _, href in summary:
        _listing(w, data, kind, href, groups[kind], f"{department} · {LABEL[kind]}", department=department)


def _departments_index(w: Writer, data: SiteData) -> None:
    rows = [{"name": d, "href": f"departments/{slug(d)}/", "counts": [len(g.get(k, [])) for k in LIST_COLUMNS]}
            for d, g in sorted(data.departments.items())]
    w.page("departments", "departments.html", title="执法部门", rows=rows, headers=[LABEL[k] for k in LIST_COLUMNS])


def decision_jobs(data: SiteData, chunk: int = 2000) -> list[tuple[str, Any]]:
    """The jobs of the decisions' own pages. They read only ``data.sorted`` of their kind
    and, for each record, whether its entity has a page, which every decision with an
    entity code gives its entity (``SiteData.by_entity``). So the same jobs on a
    ``SiteData`` of the decisions alone make the same pages (``tests/test_verify.py``)."""
    return [("decisions", (kind, lo, lo + chunk)) for kind in DECISION_KINDS for lo in range(0, len(data.sorted[kind]), chunk)]


def jobs(data: SiteData, chunk: int = 2000, *, decisions: bool = True) -> list[tuple[str, Any]]:
    """Slices of the site for forked workers, in a fixed order: the longest first (a
    kind's lists, a department's), so that no worker is left alone with one at the end.
    ``decisions=False``: without ``decision_jobs`` (made already)."""
    out: list[tuple[str, Any]] = [("lists", kind) for kind in LIST_COLUMNS]
    out += [("departments", d) for d in sorted(data.departments)]
    out.append(("departments-index", None))
    if decisions:
        out += decision_jobs(data, chunk)
    out += [("tasks", (lo, lo + 200)) for lo in range(0, len(data.sorted["inspection_tasks"]), 200)]
    out += [("entities", (lo, lo + chunk)) for lo in range(0, len(data.entity_keys), chunk)]
    return out


def run_job(job: tuple[str, Any]) -> int:
    """Render one slice (in a forked worker, reading the shared ``(root, SiteData)``)."""
    root, data = shared()
    w = Writer(root, data.build_date, data.narrative, data.previous)
    what, arg = job
    if what == "decisions":
        _decisions(w, data, *arg)
    elif what == "tasks":
        for rec in data.sorted["inspection_tasks"][arg[0]:arg[1]]:
            _task(w, data, rec)
    elif what == "entities":
        for uscc in data.entity_keys[arg[0]:arg[1]]:
            _entity(w, data, uscc)
    elif what == "lists":
        _lists(w, data, arg)
    elif what == "departments":
        _department(w, data, arg)
    elif what == "departments-index":
        _departments_index(w, data)
    else:
        raise ValueError(what)
    return w.pages, w.linked, w.files, w.kept


def job_part(shared_data: tuple[Path, SiteData], job: tuple[str, Any]) -> tuple[tuple[str, Any], tuple[Path, SiteData]]:
    """(job, (root, data)) reduced to what ``run_job`` reads for that one job, for a
    Dask worker (``parallel.fork_map``'s ``part``): a city's slice of 2,000 decisions
    is a few megabytes, the whole ``SiteData`` of a province many gigabytes. The job's
    pages are the same bytes either way (``tests/test_dask.py``)."""
    root, data = shared_data
    what, arg = job
    view = SiteData({k: [] for k in data.store}, data.build_date, data.page_size, data.narrative, None)
    put = view.__dict__.update  # the cached indexes, set to the job's part of them
    names: list[str] = []
    under = exact = ""

    def page(kind: str, key: str) -> str:  # the file Writer.page writes for a record's page
        return record_path(kind, key).strip("/") + "/index.html"

    if what == "decisions":
        kind, lo, hi = arg
        recs = data.sorted[kind][lo:hi]
        put(sorted={kind: recs}, entity_set=frozenset(r.get("uscc") for r in recs) & data.entity_set)
        job = (what, (kind, 0, len(recs)))
        names = [page(kind, r[KEY[kind]]) for r in recs]
    elif what == "tasks":
        recs = data.sorted["inspection_tasks"][arg[0]:arg[1]]
        usccs = {s["uscc"] for t in recs for s in t.get("selections") or []}
        put(sorted={"inspection_tasks": recs}, items=data.items, entity_set=frozenset(usccs) & data.entity_set,
            results_by_task={t["task_id"]: data.results_by_task[t["task_id"]] for t in recs if t["task_id"] in data.results_by_task},
            names={u: data.names[u] for u in usccs if u in data.names})
        job = (what, (0, len(recs)))
        names = [page("inspection_tasks", t["task_id"]) for t in recs]
    elif what == "entities":
        keys = data.entity_keys[arg[0]:arg[1]]
        groups = {u: data.by_entity[u] for u in keys if u in data.by_entity}
        task_ids = {r["task_id"] for g in groups.values() for r in g["inspection_results"]}
        # An entity page reads only a task's name (and whether it has a page), not its frame.
        put(entity_keys=keys, by_entity=groups, names={u: data.names[u] for u in keys if u in data.names},
            entities={u: data.entities[u] for u in keys if u in data.entities},
            tasks={t: {"task_id": t, "task_name": data.tasks[t].get("task_name")} for t in task_ids if t in data.tasks})
        job = (what, (0, len(keys)))
        names = [page("entities", u) for u in keys]
    elif what == "lists":
        put(sorted={arg: data.sorted[arg]}, years={arg: data.years[arg]},
            departments={d: {arg: g[arg]} for d, g in data.departments.items() if g.get(arg)})
        under, exact = f"{arg}/", "index.html,page/,year/"
    elif what == "departments":
        put(departments={arg: data.departments[arg]})
        under = f"departments/{slug(arg)}/"
    elif what == "departments-index":
        # The index shows counts only: each list of records stands in as a range of its length.
        put(departments={d: {k: range(len(v)) for k, v in g.items()} for d, g in data.departments.items()})
        names = ["departments/index.html"]
    else:
        raise ValueError(what)
    if data.previous is not None:
        view.previous = data.previous.narrowed(names, under=under, exact=exact)
    return job, (root, view)


def warm(data: SiteData) -> None:
    """Compute the shared indexes and compile the templates once in the parent, before forking."""
    env = environment()
    for name in env.list_templates():
        env.get_template(name)
    templates_digest()
    for name in ("sorted", "tasks", "items", "results_by_task", "names", "by_entity", "entity_keys", "entity_set", "entities",
                 "departments", "years"):
        getattr(data, name)


def latest(data: SiteData, n: int = 10) -> Iterator[dict[str, Any]]:
    """The newest published decisions (by decision date) for the home page."""
    merged = [(r["decided_on"], r["decision_number"], kind, r) for kind in ("penalties", "licenses") for r in data.sorted[kind][:n]]
    for day, number, kind, r in sorted(merged, key=lambda x: (x[0], x[1]), reverse=True)[:n]:
        yield {"href": record_path(kind, number), "label": LABEL[kind], "number": number, "who": display(r.get("subject_name")),
               "authority": display(r.get("authority")), "day": day}


def counts_by_kind(data: SiteData) -> list[tuple[str, int, str]]:
    return [(k, len(data.store[k]), LABEL[k]) for k in ("penalties", "licenses", "inspection_tasks")]


def month_counts(records: list[dict[str, Any]], field_name: str) -> list[tuple[str, int]]:
    c = Counter((r.get(field_name) or "")[:7] for r in records)
    return sorted((m, n) for m, n in c.items() if m)
