"""Build the public site: validate → decide what is published → render → index → swap into place.

Stages (each timed in ``BuildReport.stages``):

1. validate every record and decide what may be published (``publish.py``);
2. render record, entity, task, list and department pages with jinja2 in
   forked workers sharing the published records (``pages.py``);
3. home, statistics, downloads with their DCAT and schema.org descriptions,
   feeds, sitemap, robots.txt, 404, the search and audit pages;
4. the Pagefind search index, sharded (``search.py``);
5. the narrative pages through mkdocs-material (``narrative.py``).

Three things run beside the stages, in forked children (``_Adoption``, ``_Early``,
``_Search``): the previous site's standby tree is made ready while step 1 runs
on one core; when step 1 runs on one core (a nightly build takes most lines from
its cache), the decisions' own pages and search shards are made as soon as it is
past them, while it validates the other kinds; and the rest of the search index is made
while steps 2 and 3 run (or after them, when most of it must be indexed again).
The search stage then times only what is left of it.

Everything is written to a temporary folder beside OUT that replaces OUT only
when the build succeeded, so an interrupted build leaves the previous site.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import re
import shutil
import signal
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from liushuang import schemas
from liushuang.parallel import fork_map, require_shared, trim_heap
from liushuang.policy import Policy
from liushuang.progress import Steps

from . import pages
from .pages import LABEL, SiteData, UnsafePath, Writer, safe_join
from .publish import WITHHELD_ZH, Judge, Publisher
from .records import DECISION_KINDS, spilled
from .search import KIND_LABEL, SHARD_RECORDS, write_listing
from .validate import LineCache, Validator

STORE_KINDS = ("licenses", "penalties", "inspection_tasks", "inspection_results", "entities", "inspection_items")
# The decisions' pages and search shards need no other kind: they are made, in a forked child, as soon as
# validation is past them (``_Early``), while validation of the rest leaves a core idle.
EARLY_AFTER = max(DECISION_KINDS, key=schemas.KINDS.index)
# ... when validation's worker processes assessed at most this share of the records so far (a nightly
# build takes most lines from its cache): validating without the cache keeps every core busy.
EARLY_WORKER_SHARE = 0.1
EARLY_NICE = 10  # its priority below the build's (os.nice)

@dataclass
class BuildReport:
    build_date: str
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: int = 0
    linked: int = 0   # pages identical to the previous build's, hard-linked instead of rewritten
    stages: dict[str, float] = field(default_factory=dict)   # seconds; not written to the site (it must be deterministic)
    search_shards: list[dict[str, Any]] = field(default_factory=list)
    search_reused: list[str] = field(default_factory=list)  # shards whose documents did not change: index reused
    narrative: str = ""                                     # where the narrative pages came from, or why they are missing
    validation_cache: dict[str, int] = field(default_factory=dict)  # JSON Lines lines taken from the last build's validation, or not
    # The search index's own wall time (without any wait for the pages, see ``search.build_search``'s
    # hold): it is made alongside the pages, so only what is left of it after them counts in ``stages["search"]``.
    search_seconds: float = 0.0
    # What the build made while it validated (``_Early``): the decisions' pages and search shards, and
    # the wall time of each; empty when it did not (validation's workers kept every core busy, a Dask engine, one core).
    early: dict[str, Any] = field(default_factory=dict)
    # The standby tree (the site the last build replaced): "adopted" and turned into this build,
    # "none" (there was none, or a full build), or why it could not be ("failed: …"); the site is
    # the same either way, only slower to build without it.
    standby: str = "none"

    @property
    def conserved(self) -> bool:
        return all(c["input"] == c["published"] + sum(c["withheld"].values()) + c["rejected"] for c in self.counts.values())


def build(data_dir: str | Path, out: str | Path, policy: Policy, *, build_date: dt.date, page_size: int = 50,
          progress: bool | None = None, site_url: str = "http://127.0.0.1:8000/", workers: int | None = None,
          search: bool = True, narrative: bool = True, audit_dir: str | Path | None = None,
          shard_records: int = SHARD_RECORDS, echo: Callable[[str], None] | None = None, incremental: bool = True) -> BuildReport:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _recover(out)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    previous = _previous(out) if incremental else None
    # The standby tree is made ready in a child process while this one validates: the two
    # do not depend on each other, and validation keeps one core of two busy.
    adoption = _Adoption(out, tmp, previous)
    searching: _Search | None = None
    early: _Early | None = None
    from . import narrative as narrative_pages

    narrative = narrative and narrative_pages.available()
    with spilled(out.parent) as spill:  # the published records' JSON: in a file, not on the heap
        report = BuildReport(build_date.isoformat())
        stage = Steps(echo, report.stages)
        publisher = Publisher(policy, build_date)
        store: dict[str, list[dict[str, Any]]] = {k: [] for k in STORE_KINDS}
        tree: list[frozenset[str] | None] = []  # set once the build folder is ready (``ready``)

        def sink(kind: str, judged: tuple[str | None, dict[str, Any] | None]) -> None:
            reason, public = judged
            publisher.decisions.count(kind, reason)
            if public is not None:
                store[kind].append(public)

        def ready() -> None:
            """The build folder: the standby tree, once the child adopting it is done, or a new one."""
            if tree:
                return
            in_place = adoption.result()
            report.standby = adoption.outcome
            if in_place is None:
                tmp.mkdir()
            elif previous is not None:
                previous.in_place = in_place
            tree.append(in_place)

        validator = Validator(policy, progress=progress)

        def kind_done(kind: str) -> None:
            nonlocal early
            if kind == EARLY_AFTER and _early_fits(validator, workers):
                ready()
                spill.seal()  # the child reads the records written so far
                early = _Early(tmp, store, build_date, page_size, narrative, previous, search=search, shard_records=shard_records,
                               workers=workers or os.cpu_count() or 1)

        try:  # from here on, a failure removes the half-made folder (a standby taken over included)
            with stage("validate", "校验并确定公开范围"):
                # The publication decision is taken where each record is validated (in the worker
                # processes); the main process only counts it and keeps the public form.
                judge = Judge(publisher, tuple(store))
                # A nightly build validates again only the lines that changed since the last one.
                cache = LineCache(_cache_folder(out) / "validation", judge.salt()) if incremental else None
                validation = validator.validate_dir(data_dir, sink=sink, prepare=judge, cache=cache, on_kind=kind_done)
                if cache is not None:
                    report.validation_cache = {"hits": cache.hits, "misses": cache.misses, "appended": cache.appended,
                                               "rewritten": cache.rewritten}
                spill.seal()
                gc.collect()
                trim_heap()  # before the page workers are forked from this process
            for kind in schemas.KINDS:
                k = validation.kinds[kind]
                if not k.read:
                    continue
                report.counts[kind] = {"input": k.read, "published": publisher.decisions.published[kind],
                                       "withheld": dict(sorted(publisher.decisions.withheld.get(kind, {}).items())), "rejected": k.rejected}
            ready()
            require_shared(tmp)  # Dask workers write the pages: they must see this folder
            data = SiteData(store, build_date, page_size, narrative, previous)
            base = site_url if site_url.endswith("/") else site_url + "/"
            known: dict[str, dict[str, Any]] = {}
            # The shared indexes, computed once here before any fork: the page workers and the search child read them.
            pages.warm(data)
            if search:
                # The search index is made in a forked child alongside the pages: on the local engine
                # its Pagefind runs use the cores the page workers and the main process leave idle.
                kinds = [k for k in KIND_LABEL if early is None or k not in DECISION_KINDS]
                searching = _Search(tmp, data, shard_records, workers or os.cpu_count() or 1, kinds)
            _render(tmp, data, stage, report, workers=workers, site_url=base, audit_dir=audit_dir, known=known, early=early)
            if search:
                with stage("search", "建立全文检索索引（Pagefind）"):
                    shards, reused, bundles, report.search_seconds = searching.result()
                    known.update(bundles)
                    if early is not None:
                        early_shards, early_reused, early_bundles, seconds = early.index()
                        report.early.update(shards=len(early_shards), search_seconds=seconds)
                        shards += early_shards
                        reused += early_reused
                        known.update(early_bundles)
                    report.search_shards = write_listing(tmp, shards)
                    reused_names = set(reused)
                    report.search_reused = [name for r in report.search_shards if (name := r["bundle"].split("/")[1]) in reused_names]
            if previous is not None and previous.in_place:
                # A tree reused from the standby still holds the previous build's files that are gone now.
                _remove_pages(tmp, previous.in_place - known.keys())
            if narrative:
                with stage("narrative", "生成说明页面（mkdocs-material）"):
                    report.narrative = narrative_pages.build_narrative(tmp / "about", base + "about/")
            else:
                report.narrative = "skipped"
            with stage("finish", "站点地图、构建报告与文件清单"):
                from . import manifest
                from .feeds import write_sitemap

                files = manifest.site_files(tmp, known, record_folders=pages.RECORD_FOLDERS)
                files += write_sitemap(tmp, base, files=files)
                (tmp / "build-report.json").write_bytes(orjson.dumps(
                    {"counts": report.counts, "build_date": report.build_date, "pages": report.pages, "withheld_reasons": WITHHELD_ZH,
                     "search_shards": report.search_shards}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
                files.append("build-report.json")
                manifest.write(tmp, manifest.compute(tmp, previous=data.previous, known=known, paths=sorted(set(files))))
            _replace(tmp, out)
        except BaseException:
            adoption.cancel()
            if searching is not None:
                searching.cancel()
            if early is not None:
                early.cancel()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return report


def _render(root: Path, data: SiteData, stage: Steps, report: BuildReport, *, workers: int | None, site_url: str,
            audit_dir: str | Path | None, known: dict[str, dict[str, Any]], early: _Early | None = None) -> None:
    """Write every jinja2 page and the other files; ``known`` collects the manifest
    entries of the pages and downloads (hashed as they were written, not read back).
    With ``early``, the decisions' own pages are that child's."""
    (root / "assets").mkdir(exist_ok=True)
    for name in ("site.css", "search.js"):
        (root / "assets" / name).write_bytes(resources.files("liushuang.site").joinpath(name).read_bytes())
    with stage("pages", "生成决定、主体、任务与列表页面"):
        jobs = pages.jobs(data, decisions=early is None)
        counts = fork_map(pages.run_job, jobs, (root, data), parallel=len(jobs) > 8, workers=workers, part=pages.job_part,
                          recycle=pages.RECYCLE)
        if early is not None:
            made, seconds = early.pages()
            counts += made
            report.early = {"pages": sum(n for n, _, _, _ in made), "pages_seconds": seconds}
        report.pages += sum(n for n, _, _, _ in counts)
        report.linked += sum(n for _, n, _, _ in counts)
        for _, _, files, names in counts:
            known.update(files)
            known.update(pages.kept_entries(data.previous, names))
    w = Writer(root, data.build_date, data.narrative, data.previous)
    with stage("downloads", "开放数据下载与数据目录"):
        from .catalog import write_catalog
        from .downloads import write_downloads, write_task_files

        # Hashed once, as they were written (or taken from the previous build's manifest):
        # the manifest takes these entries as they are.
        datasets, files = write_downloads(root, data.store, data.build_date.isoformat(), workers=workers, previous=data.previous)
        known.update(files)
        known.update(write_task_files(root, data.store["inspection_tasks"], data.previous))
        catalog = write_catalog(root, datasets, site_url, data.build_date.isoformat())
        w.page("downloads", "downloads.html", dated=True, title="开放数据下载", resources=datasets, jsonld=catalog["jsonld"])
    with stage("other", "首页、统计、订阅与其他页面"):
        from .feeds import write_feeds
        from .search import KIND_LABEL as search_kinds

        write_feeds(root, data.store, site_url, data.build_date.isoformat())
        (root / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {site_url}sitemap.xml\n", encoding="utf-8")
        w.page("", "home.html", dated=True, title=pages.SITE_NAME, counts=pages.counts_by_kind(data), latest=list(pages.latest(data)))
        w.page("stats", "stats.html", dated=True, title="统计", **_statistics(data.store))
        w.page("search", "search.html", title="搜索", kinds=search_kinds)
        w.page("audit", "audit.html", title="监管审计报告", reports=_audit_reports(root, audit_dir))
        (root / "404.html").write_text(w.env.get_template("404.html").render(root="/", title="页面不存在", **w.common), encoding="utf-8")
    report.pages += w.pages
    report.linked += w.linked
    known.update(w.entries())


def _audit_reports(root: Path, audit_dir: str | Path | None) -> list[dict[str, str]]:
    """Copy an audit's reports (``liushuang audit DATA -o DIR``) into the site under audit/."""
    if not audit_dir:
        return []
    src = Path(audit_dir)
    target = root / "audit"
    shutil.copytree(src, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
    (target / "index.html").unlink(missing_ok=True)  # the site's own audit page lists the reports
    out = []
    for html in sorted(target.glob("*.html")):
        html.write_text(_site_links(root, html.read_text(encoding="utf-8")), encoding="utf-8")
        meta = html.with_suffix(".json")
        title = orjson.loads(meta.read_bytes()).get("title", html.stem) if meta.exists() else html.stem
        out.append({"title": title, "href": f"audit/{html.name}", "json": f"audit/{meta.name}" if meta.exists() else ""})
    return out


def _previous(out: Path) -> pages.Previous | None:
    """The site in OUT, if it was built by liushuang (it has a manifest)."""
    from . import manifest

    try:
        return pages.Previous(out, manifest.load(out))
    except (FileNotFoundError, OSError, ValueError, KeyError):
        return None


def _cache_folder(out: Path) -> Path:
    """Beside the site, never published: what a nightly build keeps from the last one
    besides the site itself (``validate.LineCache``)."""
    return out.parent / f".{out.name}.cache"


def _standby(out: Path) -> Path:
    """Where the site replaced by the last build is kept: the next build turns it into
    the new site by changing only what changed, instead of creating a new tree of
    folders (on this machine's ext4 a folder costs about 90 µs: a minute for a city)."""
    return out.parent / f".{out.name}.standby"


def _adopt_standby(out: Path, tmp: Path, previous: pages.Previous) -> frozenset[str] | None:
    """Make the standby tree the build folder ``tmp``, holding exactly the previous
    build's pages and nothing else. Returns those pages' paths, or None when there is
    no usable standby (then the build starts from an empty folder).

    Safe with hard links: every file is replaced by unlinking it first, never written
    through, so the published site (which shares the unchanged files' inodes) is never
    touched. The standby's manifest is removed before anything else changes: a build
    killed from then on leaves a folder no later build will mistake for a standby."""
    from . import manifest

    standby = _standby(out)
    if not standby.is_dir():
        return None
    try:
        files = manifest.load(standby)
    except (OSError, ValueError, KeyError):
        shutil.rmtree(standby, ignore_errors=True)  # not a complete build: of no use
        return None
    standby.rename(tmp)
    (tmp / manifest.NAME).unlink()
    root = os.fspath(tmp)
    for path, entry in files.items():  # everything but the pages is written afresh by every build
        if "input" not in entry:
            _unlink(root, path)
    live = {p: e for p, e in previous.files.items() if "input" in e}
    for path, entry in files.items():
        if "input" in entry and path not in live:
            _unlink(root, path, prune=True)
    source = os.fspath(previous.root)
    for path, entry in live.items():
        old = files.get(path)
        if old is not None and old.get("input") == entry["input"] and old["sha256"] == entry["sha256"]:
            continue  # the same page in both trees
        target = os.path.join(root, path)
        _unlink(root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.link(os.path.join(source, path), target)
    return frozenset(live)


class _Adoption:
    """``_adopt_standby`` run in a forked child while the build validates. ``result()``
    waits for it and returns what ``_adopt_standby`` would: the pages already in the
    build folder, or None when the build must start from an empty folder (no standby,
    or the child failed: then its half-made folder is removed).

    The child only moves files and exits; it dies with the build (``PR_SET_PDEATHSIG``)
    so a killed build leaves no process still changing a folder the next one removes.
    Where there is no ``fork``, the standby is adopted in this process, when it is asked for."""

    def __init__(self, out: Path, tmp: Path, previous: pages.Previous | None) -> None:
        from . import manifest  # noqa: F401  (imported before forking: the child imports nothing)

        self.out, self.tmp, self.previous = out, tmp, previous
        self.pid: int | None = None
        self.outcome = "none"  # what ``result()`` found (BuildReport.standby)
        if previous is None or not _standby(out).is_dir() or not hasattr(os, "fork"):
            return
        self.pid = _fork_child(lambda: 0 if _adopt_standby(out, tmp, previous) is not None else 1)

    def result(self) -> frozenset[str] | None:
        if self.previous is None:
            return None
        if self.pid is None:
            in_place = _adopt_standby(self.out, self.tmp, self.previous)
            self.outcome = "none" if in_place is None else "adopted"
            return in_place
        child, self.pid = self.pid, None
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            self.outcome = "adopted"
            return frozenset(p for p, e in self.previous.files.items() if "input" in e)
        # 1: there was no usable standby (its manifest unreadable); anything else: the child failed.
        self.outcome = "none" if code == 1 else f"failed: 接管备用目录的子进程退出码 {code}"
        if self.tmp.exists():  # a standby half changed: deleted in the background (named as a dead build's, should that be killed)
            aside = self.tmp.with_name(f".{self.out.name}.building-{child}")
            self.tmp.rename(aside)
            _discard(aside)
        return None

    def cancel(self) -> None:
        _kill_child(self.pid)
        self.pid = None


class _Forked:
    """``body(send)`` in a forked child (``_fork_child``). Each ``send(value)`` in the child
    is one message, which ``receive()`` in the parent returns, in order; an exception
    ``body`` raises is raised by the ``receive()`` of the next message instead. ``what``
    names the work in the message of a child that died (killed, out of memory).

    A thread of the parent reads the messages as they come: a child must not wait, its
    next work held up by a full pipe, until the parent asks for what it sent first."""

    def __init__(self, body: Callable[[Callable[[Any], None]], Any], what: str, *, close: tuple[int, ...] = ()) -> None:
        import pickle

        read, write = os.pipe()

        def child() -> int:
            os.close(read)
            for fd in close:  # the parent's ends of other pipes
                os.close(fd)
            with open(write, "wb") as fh:

                def send(ok: bool, value: Any) -> None:
                    try:
                        blob = pickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
                    except Exception as exc:  # a value or exception that does not pickle
                        blob = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
                    fh.write(len(blob).to_bytes(8, "little") + blob)
                    fh.flush()

                try:
                    body(lambda value: send(True, value))
                except BaseException as exc:
                    send(False, exc)
            return 0

        import queue
        import threading

        self.what = what
        self.pid: int | None = _fork_child(child)
        os.close(write)
        self.pipe: Any = open(read, "rb")
        self.messages: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        """Each whole message, then an empty one at the end of the pipe (or a message cut short)."""
        try:
            while len(head := self.pipe.read(8)) == 8:
                size = int.from_bytes(head, "little")
                blob = self.pipe.read(size)
                if len(blob) < size:
                    break
                self.messages.put(blob)
        except (OSError, ValueError):  # closed by cancel()
            pass
        self.messages.put(b"")

    def receive(self, *, last: bool = False) -> Any:
        """The child's next message; with ``last``, the child is then reaped."""
        import pickle

        blob = self.messages.get()
        if not blob:
            raise RuntimeError(f"{self.what}的子进程异常退出（退出码 {self._reap()}）")
        ok, value = pickle.loads(blob)
        if not ok or last:
            self._reap()
        if not ok:
            raise value
        return value

    def _reap(self) -> int | None:
        child, self.pid = self.pid, None
        if child is None:
            return None
        _, status = os.waitpid(child, 0)
        self.reader.join()  # the pipe's end: the child is gone
        self.pipe.close()
        return os.waitstatus_to_exitcode(status)

    def cancel(self) -> None:
        _kill_child(self.pid)  # its end of the pipe closes: the reader stops
        self.pid = None
        self.reader.join()
        self.pipe.close()


class _Search:
    """``search.build_search`` over the site's records (of the shard families ``kinds``)
    in a forked child, started before the pages and awaited after them. ``result()``
    gives what ``build_search`` returns, plus the child's wall time, or raises what it
    raised. The caller writes the shard list (``search.write_listing``).

    The child inherits the records (shared, not copied) and writes only under
    pagefind/, which no page job touches. It dies with the build. On a Dask engine, or
    without ``fork``, the index is made in this process when ``result()`` is called (a
    forked child cannot use the parent's cluster client)."""

    def __init__(self, out: Path, data: SiteData, shard_records: int, workers: int, kinds: Iterable[str] = KIND_LABEL) -> None:
        from liushuang.parallel import current_engine

        kinds = tuple(kinds)
        self.run = lambda hold=None: _search_index(out, data, shard_records, workers, hold, kinds)
        self.child: _Forked | None = None
        self.go: int | None = None
        if current_engine() is not None or not hasattr(os, "fork"):
            return
        wait, go = os.pipe()  # the parent writes a byte once the pages are done: a held index may start
        self.child = _Forked(lambda send: send(self.run(lambda: os.read(wait, 1))), "全文检索索引", close=(go,))
        os.close(wait)
        self.go = go

    def result(self) -> tuple[list[dict[str, Any]], list[str], dict[str, dict[str, Any]], float]:
        if self.child is None:
            return self.run()
        self._release()
        child, self.child = self.child, None
        return child.receive(last=True)

    def _release(self) -> None:
        """Let a held index start (see ``search.build_search``'s ``hold``)."""
        if self.go is not None:
            try:
                os.write(self.go, b"g")
            except BrokenPipeError:  # the child did not hold, and is done
                pass
            os.close(self.go)
            self.go = None

    def cancel(self) -> None:
        if self.child is not None:
            self.child.cancel()
            self.child = None
        if self.go is not None:
            os.close(self.go)
            self.go = None


class _Early:
    """The decisions' own pages and search shards, made in a forked child as soon as
    validation is past the decisions (``EARLY_AFTER``), while it validates the other
    kinds on one core: a nightly build's validation takes most lines from its cache and
    leaves the other core idle. Neither reads any other kind (``pages.decision_jobs``,
    ``search.docs``), so the child works on a ``SiteData`` of the decisions alone and
    makes the very files the page workers and the search child would have made
    (``tests/test_verify.py`` compares the sites). It runs at a lower priority
    (``EARLY_NICE``), its Pagefind runs too: it takes the core validation leaves idle,
    yields to the page workers, and has every core once the rest of the build is done.

    ``pages()`` gives the page jobs' results and their wall time; ``index()`` what
    ``_Search.result()`` gives for the decisions' shards. The child dies with the build."""

    def __init__(self, root: Path, store: dict[str, list[Any]], build_date: dt.date, page_size: int, narrative: bool,
                 previous: pages.Previous | None, *, search: bool, shard_records: int, workers: int) -> None:
        view = SiteData({k: (v if k in DECISION_KINDS else []) for k, v in store.items()}, build_date, page_size, narrative, previous)
        self.search = search

        def body(send: Callable[[Any], None]) -> None:
            import time

            gc.enable()  # off in the parent while it validates
            # Second to the build's own processes (its Pagefind runs too): the validation and then the page
            # workers are what the night waits for; this child takes the time they leave idle.
            os.nice(EARLY_NICE)
            started = time.perf_counter()
            made = fork_map(pages.run_job, pages.decision_jobs(view), (root, view), parallel=False)
            send((made, round(time.perf_counter() - started, 3)))
            if search:
                send(_search_index(root, view, shard_records, workers, None, DECISION_KINDS, work=".search-documents-early"))

        self.child = _Forked(body, "提前生成决定页面与检索索引")

    def pages(self) -> tuple[list[Any], float]:
        return self.child.receive(last=not self.search)

    def index(self) -> tuple[list[dict[str, Any]], list[str], dict[str, dict[str, Any]], float]:
        return self.child.receive(last=True)

    def cancel(self) -> None:
        self.child.cancel()


def _early_fits(validator: Validator, workers: int | None) -> bool:
    """Whether validation leaves a core idle for ``_Early``: on this machine (not a Dask
    cluster), with more than one core, and with few records so far assessed by the
    validation's worker processes (most taken from the cache, or small files read in
    this process)."""
    from liushuang.parallel import current_engine

    if current_engine() is not None or not hasattr(os, "fork") or (workers or os.cpu_count() or 1) < 2:
        return False
    return validator.worker_share() <= EARLY_WORKER_SHARE


def _search_index(out: Path, data: SiteData, shard_records: int, workers: int, hold: Callable[[], Any] | None,
                  kinds: Iterable[str] = KIND_LABEL, work: str = ".search-documents") -> tuple[Any, ...]:
    import time

    from .search import build_search, docs

    held = [0.0]

    def timed_hold() -> None:  # the time held is not the index's
        start = time.perf_counter()
        hold()  # type: ignore[misc]
        held[0] = time.perf_counter() - start

    started = time.perf_counter()
    shards, reused, bundles = build_search(out, out / work, docs(data, kinds), shard_records=shard_records, workers=workers,
                                           previous=data.previous, hold=timed_hold if hold is not None else None, listing=False)
    return shards, reused, bundles, round(time.perf_counter() - started - held[0], 3)


def _fork_child(body: Callable[[], int]) -> int:
    """Fork a child that runs ``body`` and exits with its code (2 if it raised). The
    child dies with this process, and leaves what it inherits out of its garbage
    collections (which would touch, and so copy, every object of the parent)."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            gc.freeze()
            _die_with_parent()
            if os.getppid() == parent:  # else the build died before the line above
                code = body()
        finally:
            os._exit(code)
    return pid


def _kill_child(pid: int | None) -> None:
    """Kill and reap a child of ``_fork_child`` (if still there)."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _unlink(root: str, path: str, *, prune: bool = False) -> None:
    """Remove ROOT/path if present; with ``prune``, its folder too when that is left empty."""
    try:
        os.unlink(os.path.join(root, path))
    except FileNotFoundError:
        pass
    if prune:
        try:
            os.rmdir(os.path.join(root, os.path.dirname(path)))
        except OSError:
            pass


def _remove_pages(root: Path, paths: Iterable[str]) -> None:
    for path in sorted(paths):
        _unlink(os.fspath(root), path, prune=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2 RENAME_EXCHANGE)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _replace(new: Path, out: Path) -> None:
    """Swap the finished build into place; the previous site stays intact until then.

    On Linux the two folders are exchanged atomically, so OUT is never missing,
    even for a moment. Elsewhere OUT is renamed aside first; if the process dies
    between the two renames, the next build puts the previous site back."""
    if out.exists() and _exchange(new, out):
        _keep_as_standby(new, out)  # now holds the previous site
        return
    old = out.parent / f".{out.name}.previous-{os.getpid()}"
    if out.exists():
        out.rename(old)
    new.rename(out)
    if old.exists():
        _keep_as_standby(old, out)


def _keep_as_standby(folder: Path, out: Path) -> None:
    """Keep a replaced site as the standby of the next build (see ``_adopt_standby``),
    or delete it when a standby is already there."""
    standby = _standby(out)
    if not standby.exists() and (folder / "manifest.json").is_file():
        folder.rename(standby)
    else:
        _discard(folder)


def _discard(folder: Path) -> None:
    """Delete a replaced site. A city's site is a million files: deleting them takes
    minutes, and the new site is already in place, so a detached ``rm -rf`` does it
    in the background. Should that be killed, the next build removes the rest."""
    rm = shutil.which("rm")
    if rm and os.name == "posix":
        subprocess.Popen([rm, "-rf", "--", str(folder)], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _recover(out: Path) -> None:
    """Clean up after builds that were killed: remove their half-written folders and,
    if one died between its two renames, put the previous site back."""
    for stale in sorted(out.parent.glob(f".{out.name}.*-*")):
        kind, _, pid = stale.name.rpartition("-")
        if not pid.isdigit() or not kind.endswith((".building", ".previous")) or _alive(int(pid)):
            continue
        if kind.endswith(".previous") and not out.exists():
            stale.rename(out)
        elif (stale / "manifest.json").is_file() and not _standby(out).exists():
            # A complete tree (its manifest is written last): the site a build had just
            # replaced, or a finished build killed before its swap. Either serves as the standby.
            stale.rename(_standby(out))
        else:
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_ROOT_LINK = re.compile(r'<a href="/([^"]*)">(.*?)</a>', re.S)


def _site_links(root: Path, html: str) -> str:
    """An audit report links records as ``/kind/slug/``. Inside the site (under
    audit/) such a link becomes relative, or plain text when the record has no
    page — an overdue decision may well be one that is not published."""

    def fix(m: re.Match[str]) -> str:
        path = m.group(1)
        return f'<a href="../{path}">{m.group(2)}</a>' if (root / path / "index.html").is_file() else m.group(2)

    return _ROOT_LINK.sub(fix, html)


def _statistics(store: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Decisions per month and publication delay per department, as SVG (no JavaScript)."""
    import statistics

    from liushuang.audit import svg

    charts = []
    for kind in ("penalties", "licenses"):
        months = pages.month_counts(store[kind], "decided_on")
        if months:
            peak = max(n for _, n in months)
            charts.append({"svg": svg.line([(m, float(n)) for m, n in months], f"{LABEL[kind]}：每月决定数", fmt="{:.0f}", lo=0.0, hi=float(peak)),
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


__all__ = ["BuildReport", "UnsafePath", "build", "safe_join"]
