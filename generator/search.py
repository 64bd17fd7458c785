"""Chinese full-text search with Pagefind, sharded so a city fits in memory.

Measured on this machine (``bench/site_bench.py`` and the notes in
``docs/search.md``): Pagefind keeps about 5 bytes of index metadata per
indexed page, and every merged index costs the browser its own 68 KB WebAssembly
module. Indexing each of a city's 1.3 million pages would make the first query
download megabytes of metadata, and one Pagefind run over a city needs more
than this machine's memory. So the site indexes *search documents*, not pages:

* a search document holds up to ``SHEET_SIZE`` records of one kind, year and
  department, each under its own ``<h2 id=ANCHOR>``; Pagefind reports the
  matching sections as sub-results and ``search.js`` maps each anchor back to
  the record's own page (``kind--slug``);
* the documents of one kind are split into shards (per year for decisions, by
  a stable hash for entities) of at most ``shard_records`` records; every
  shard is an independent Pagefind bundle under ``pagefind/SHARD/``, indexed
  in its own process (two at a time), and listed in ``search/shards.json``;
* the browser loads only the shards the query needs (the chosen kind and
  year; a decision number's year), merged with Pagefind's ``mergeIndex``.

The search documents are written to a scratch folder and deleted after
indexing: they are never published, only their index is.
"""

from __future__ import annotations

import functools
import hashlib
import html
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from liushuang.parallel import current_engine, fork_map, shared
from liushuang.urls import slug

from .labels import labels, result_labels
from .records import DECISION_KINDS, plain

SHEET_SIZE = 50          # records per search document
SHARD_RECORDS = 150_000  # records per Pagefind index: about 1.3 GB of indexer memory (docs/search.md)
HOLD_SHARE = 0.25        # build_search's hold: past this share of documents to index again, the index waits for the pages
KIND_LABEL = labels("entities", "penalties", "licenses", "inspection_results")  # the search form's kinds, in its order


class SearchError(RuntimeError):
    """Pagefind is missing or failed."""


@dataclass(frozen=True)
class Doc:
    """One record as search text: ``anchor`` leads back to its page."""

    kind: str            # shard family: entities, penalties, licenses, inspection_results
    year: str            # "" for entities
    department: str      # filter value; "" when none
    anchor: str          # kind--slug[--n]
    title: str
    text: str

    @property
    def order(self) -> str:
        """What the document is sorted, split and fingerprinted by, within its shard."""
        return self.anchor

    def words(self) -> tuple[str, str]:
        return self.title, self.text

    def content(self) -> bytes:
        """What the search text is made from, for the shard's fingerprint."""
        return orjson.dumps([self.title, self.text])


class LazyDoc:
    """A search document whose words are made from its record only when its shard
    is indexed: planning the shards and taking their fingerprints needs only the
    record's place (kind, year, department, key) and its JSON, and most shards of
    a nightly build are not indexed again. A province holds millions of these.
    ``order`` is the record's key (a decision number; a result's entity and task),
    so the anchor, a hash of it for Chinese decision numbers, is made only for the
    documents of the shards indexed again."""

    __slots__ = ("kind", "year", "department", "order", "record", "extra")

    def __init__(self, kind: str, record: Any, extra: str = "") -> None:
        self.kind, self.record, self.extra = kind, record, extra
        self.year, self.department, self.order = _place(kind, record, extra)

    @property
    def anchor(self) -> str:
        return _anchor(self.kind, self.order)

    def words(self) -> tuple[str, str]:
        return _words(self.kind, plain(self.record))

    def content(self) -> bytes:
        blob = getattr(self.record, "blob", None)
        return (blob if blob is not None else orjson.dumps(self.record)) + b"\x00" + self.extra.encode()


_YEARS: dict[str, str] = {}


def _year(value: str | None) -> str:
    year = (value or "")[:4]
    return _YEARS.setdefault(year, year)


def _place(kind: str, rec: Any, department: str = "") -> tuple[str, str, str]:
    """(year, department, key) of a record's search document, from the fields
    a ``records.Record`` keeps at hand (no decoding)."""
    if kind == "entities":
        return "", "", rec["uscc"]
    if kind in ("penalties", "licenses"):
        return _year(rec["decided_on"]), rec.get("authority") or "", rec["decision_number"]
    if kind == "inspection_results":
        return _year(rec["completed_on"]), department, f"{rec['uscc']}\x00{rec['task_id']}"
    raise ValueError(kind)


def _anchor(kind: str, key: str) -> str:
    """The anchor of a record's section (``kind--slug[--slug]``), which search.js maps to its page."""
    if kind == "inspection_results":
        uscc, _, task = key.partition("\x00")
        return f"entities--{slug(uscc)}--{slug(task)}"
    return f"{kind}--{slug(key)}"


def docs_for(kind: str, rec: dict[str, Any], department: str = "") -> Doc:
    """The search document of one published record (results: with their task's department)."""
    year, department, key = _place(kind, rec, department)
    return Doc(kind, year, department, _anchor(kind, key), *_words(kind, rec))


def _words(kind: str, rec: dict[str, Any]) -> tuple[str, str]:
    """(title, text) of a record's search document (already masked by the publisher)."""
    if kind == "entities":
        u = rec["uscc"]
        # The organisation code (USCC positions 9–17) is indexed as its own word so
        # a user who only has the old code, or its start, still finds the entity.
        return rec["name"], " ".join(x for x in (u, u[8:17], rec.get("industry_name") or "", rec.get("kind") or "", rec.get("status") or "") if x)
    if kind in ("penalties", "licenses"):
        who = rec.get("uscc") or ""
        extra = [rec.get("violation_type"), rec.get("penalty_content")] if kind == "penalties" else [rec.get("license_number"), rec.get("content")]
        text = " ".join(str(x) for x in (rec["decision_number"], rec.get("subject_name"), who, who[8:17] if who else "", *extra, rec["decided_on"]) if x)
        return f"{rec['decision_number']} {rec.get('subject_name') or ''}".strip(), text
    if kind == "inspection_results":
        u = rec["uscc"]
        text = " ".join(x for x in (u, u[8:17], rec["task_id"], result_labels(rec["result_codes"]), rec.get("result_text") or "", rec["completed_on"]) if x)
        return f"{rec.get('entity_name') or u}（{rec['task_id']}）", text
    raise ValueError(kind)


def docs(data: Any, kinds: Iterable[str] = KIND_LABEL) -> Iterator[LazyDoc]:
    """Every searchable record of a ``pages.SiteData``, of the shard families ``kinds``.
    The decisions' documents read nothing but the decisions: a ``SiteData`` holding
    them alone gives the same ones (the build indexes them early, ``site._Early``)."""
    kinds = set(kinds)
    if "entities" in kinds:
        for uscc in data.entity_keys:
            e = data.entities.get(uscc)
            if e is None:  # named by a decision but not in the published register
                e = {"uscc": uscc, "name": data.names.get(uscc) or next(
                    (r.get("subject_name") or r.get("entity_name") for g in data.by_entity[uscc].values() for r in g), uscc)}
            yield LazyDoc("entities", e)
    for kind in DECISION_KINDS:
        if kind in kinds:
            for rec in data.store[kind]:
                yield LazyDoc(kind, rec)
    if "inspection_results" in kinds:
        for rec in data.store["inspection_results"]:
            task = data.tasks.get(rec["task_id"]) or {}
            yield LazyDoc("inspection_results", rec, task.get("department") or "")


@dataclass
class Shard:
    name: str
    kind: str
    year: str
    docs: list[Doc | LazyDoc] = field(default_factory=list)
    fingerprint: str = ""
    reused: bool = False

    def record(self) -> dict[str, Any]:
        departments = sorted({d.department for d in self.docs if d.department})
        return {"bundle": f"pagefind/{self.name}/", "kind": self.kind, "year": self.year, "records": len(self.docs),
                "departments": departments, "fingerprint": self.fingerprint}


def plan_shards(docs: Iterable[Doc | LazyDoc], shard_records: int = SHARD_RECORDS) -> list[Shard]:
    """Group documents into shards: one per kind and year, split by a stable hash
    of each document's ``order`` (a record's key) when larger than ``shard_records``.
    The result depends only on the documents, not on the sequence they come in."""
    groups: dict[tuple[str, str], list[Doc | LazyDoc]] = defaultdict(list)
    for d in docs:
        groups[(d.kind, d.year)].append(d)
    shards = []
    for (kind, year), members in sorted(groups.items()):
        parts = max(1, -(-len(members) // shard_records))
        buckets: list[list[Doc | LazyDoc]] = [[] for _ in range(parts)]
        for d in members:
            h = int.from_bytes(hashlib.sha256(d.order.encode()).digest()[:4], "big") if parts > 1 else 0
            buckets[h % parts].append(d)
        for i, bucket in enumerate(buckets):
            name = "-".join(x for x in (kind, year, str(i) if parts > 1 else "") if x)
            shards.append(Shard(name, kind, year, sorted(bucket, key=lambda d: (d.department, d.order))))
    return shards


def _sheets(shard: Shard) -> Iterable[tuple[str, str]]:
    """(file name, HTML) of the shard's search documents: records of one
    department, at most SHEET_SIZE each."""
    by_department: dict[str, list[Doc | LazyDoc]] = defaultdict(list)
    for d in shard.docs:
        by_department[d.department].append(d)
    n = 0
    for department, docs in sorted(by_department.items()):
        for start in range(0, len(docs), SHEET_SIZE):
            chunk = docs[start:start + SHEET_SIZE]
            # The department travels as page metadata, not as a Pagefind filter:
            # Pagefind writes filters in hash-map order, which would make two
            # builds of the same input differ. search.js filters on it instead.
            filters = [f'<div data-pagefind-meta="kind:{KIND_LABEL[shard.kind]}"></div>']
            if department:
                filters.append(f'<div data-pagefind-meta="department:{html.escape(department, quote=True)}"></div>')
            body = "".join(f'<section><h2 id="{d.anchor}">{html.escape(title)}</h2><p>{html.escape(text)}</p></section>'
                           for d in chunk for title, text in (d.words(),))
            n += 1
            yield f"s{n:06d}.html", ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>'
                                      f'{html.escape(KIND_LABEL[shard.kind])}</title></head><body data-pagefind-body>'
                                      + "".join(filters) + body + "</body></html>")


@functools.cache
def pagefind_command() -> list[str]:
    """The Pagefind CLI of the ``pagefind[extended]`` package (Chinese segmentation): its
    binary itself where the package says where it is, so that a shard's run does not
    start Python first (``python -m pagefind`` costs about 0.1 s of CPU before it execs
    the binary, measured on this machine: a night indexes up to 36 shards)."""
    try:
        from pagefind_bin_extended import get_executable

        return [str(get_executable())]
    except Exception:  # not installed, or its binary missing: the wrapper or the PATH below
        pass
    exe = shutil.which("pagefind_extended") or shutil.which("pagefind")
    try:
        import pagefind  # noqa: F401  (the PyPI package bundles the binary)
        return [sys.executable, "-m", "pagefind"]
    except ImportError:
        pass
    if exe:
        return [exe]
    raise SearchError("找不到 Pagefind：请安装 pagefind[extended]（pip install 'pagefind[extended]'）")


# Sets the parent-death signal, then becomes the command (the setting survives exec):
# a Pagefind run ends with the build that started it, even one killed outright.
_LAUNCH = ("import ctypes, os, sys\n"
           "try:\n    ctypes.CDLL(None).prctl(1, 9)\nexcept (OSError, AttributeError):\n    pass\n"
           "os.execvp(sys.argv[1], sys.argv[1:])")


def _dies_with_us(cmd: list[str]) -> list[str]:
    """``cmd`` run so that it is killed when the thread that started it dies (Linux)."""
    return [sys.executable, "-c", _LAUNCH, *cmd] if sys.platform.startswith("linux") else cmd


def _fingerprint(shard: Shard) -> str:
    """SHA-256 of the shard's documents, the code that turns them into search
    sheets (this module) and the Pagefind version: the same fingerprint gives the
    same index (Pagefind's output is deterministic without filters). Computed
    from the records' JSON, so an unchanged shard costs no search text at all."""
    h = hashlib.sha256(_pagefind_version().encode())
    h.update(_code_digest().encode())
    h.update(shard.name.encode())
    for d in shard.docs:
        h.update(orjson.dumps([d.department, d.order]))
        h.update(d.content())
    return h.hexdigest()


@functools.cache
def _code_digest() -> str:
    """This module and the labels its documents show (``labels.py``: kinds, result codes);
    not the page code, whose changes leave the search documents as they are."""
    from . import labels as labels_module

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(Path(labels_module.__file__ or "").read_bytes())
    return h.hexdigest()


@functools.cache
def _pagefind_version() -> str:
    out = subprocess.run([*pagefind_command(), "--version"], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


def _old_fingerprints(previous: Any) -> dict[str, str | None]:
    """Shard name → fingerprint, from the previous build's search/shards.json."""
    if previous is None:
        return {}
    try:
        shards = orjson.loads((previous.root / "search" / "shards.json").read_bytes())["shards"]
        return {s["bundle"].removeprefix("pagefind/").rstrip("/"): s.get("fingerprint") for s in shards}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _stale(shard: Shard, known: dict[str, str | None], old_files: dict[str, dict[str, Any]]) -> bool:
    """Whether the shard must be indexed again: its fingerprint is not the previous build's
    (``known``, from ``_old_fingerprints``), or that build left no bundle files for it."""
    return not old_files or known.get(shard.name) != shard.fingerprint


def _reuse(shard: Shard, out: Path, previous: Any, old_files: dict[str, dict[str, Any]],
           known: dict[str, str | None]) -> dict[str, dict[str, Any]] | None:
    """The previous build's bundle of this shard, when its documents did not change:
    left in place (a build on the standby tree already holds it) or hard-linked.
    Returns its files' manifest entries, or None when it must be indexed again."""
    if previous is None or _stale(shard, known, old_files):
        return None
    entries = {path: {**entry, "input": shard.fingerprint} for path, entry in old_files.items()}
    if all(path in previous.in_place for path in old_files):
        return entries
    source, target = previous.root / "pagefind" / shard.name, out / "pagefind" / shard.name
    shutil.rmtree(target, ignore_errors=True)
    try:
        for dirpath, _, names in os.walk(source):
            rel = Path(dirpath).relative_to(source)
            (target / rel).mkdir(parents=True, exist_ok=True)
            for name in names:
                os.link(Path(dirpath) / name, target / rel / name)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        return None
    return entries


def _hashed(target: Path, prefix: str, fingerprint: str) -> dict[str, dict[str, Any]]:
    """Manifest entries of a freshly written bundle; ``input`` marks them as the
    shard's, so the next build on the standby tree keeps them in place."""
    from .manifest import sha256_file

    out = {}
    for dirpath, _, names in os.walk(target):
        rel = Path(dirpath).relative_to(target).as_posix()
        for name in names:
            path = Path(dirpath) / name
            out[f"{prefix}{'' if rel == '.' else rel + '/'}{name}"] = {"sha256": sha256_file(path), "size": path.stat().st_size,
                                                                       "input": fingerprint}
    return out


def _index(shard: Shard, work: Path, out: Path, previous: Any = None, old_files: dict[str, dict[str, Any]] | None = None,
           known: dict[str, str | None] | None = None) -> dict[str, dict[str, Any]]:
    """Index one shard (or reuse the previous build's index, whose fingerprints are ``known``);
    returns its files' manifest entries."""
    shard.fingerprint = shard.fingerprint or _fingerprint(shard)
    reused = _reuse(shard, out, previous, old_files or {}, known or {})
    if reused is not None:
        shard.reused = True
        return reused
    sheets = list(_sheets(shard))
    src = work / shard.name
    shutil.rmtree(src, ignore_errors=True)  # a retried task starts clean
    src.mkdir(parents=True)
    for name, text in sheets:
        (src / name).write_text(text, encoding="utf-8")
    target = out / "pagefind" / shard.name
    shutil.rmtree(target, ignore_errors=True)
    cmd = [*_dies_with_us(pagefind_command()), "--site", str(src), "--output-path", str(target), "--force-language", "zh-cn", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SearchError(f"Pagefind 索引 {shard.name} 失败：{proc.stderr.strip() or proc.stdout.strip()}")
    shutil.rmtree(src)
    # Only the search runtime and the index are needed; Pagefind's own UIs are not used.
    for extra in [*target.glob("pagefind-*ui*"), target / "pagefind-highlight.js"]:
        extra.unlink(missing_ok=True)
    return _hashed(target, f"pagefind/{shard.name}/", shard.fingerprint)


def _shard_part(shared_data: tuple[Any, ...], i: int) -> tuple[int, tuple[Any, ...]]:
    """One shard and its previous bundle, for a Dask worker (not every shard's documents)."""
    order, work, out, previous, old_files = shared_data
    mine = old_files.get(order[i].name, {})
    return 0, ([order[i]], work, out, previous.narrowed(mine) if previous is not None else None, {order[i].name: mine})


def _index_job(i: int) -> tuple[str, bool, dict[str, dict[str, Any]]]:
    """One shard on a Dask worker; its fingerprint, reuse and files travel back to the client."""
    shards, work, out, previous, old_files = shared()
    shard = shards[i]
    files = _index(shard, work, out, previous, old_files.get(shard.name), _old_fingerprints(previous))
    return shard.fingerprint, shard.reused, files


def build_search(out: Path, work: Path, docs: Iterable[Doc], *, shard_records: int = SHARD_RECORDS, workers: int = 2,
                 on_shard: Callable[[str], None] | None = None, previous: Any = None,
                 hold: Callable[[], None] | None = None, listing: bool = True) -> tuple[list[dict[str, Any]], list[str], dict[str, dict[str, Any]]]:
    """Index ``docs`` into Pagefind bundles under OUT/pagefind and describe them in
    OUT/search/shards.json (unless ``listing`` is false: the build indexes the
    decisions and the rest apart, then lists them together, ``write_listing``).
    Returns the shard list, the names of the shards reused unchanged from
    ``previous``, and the bundles' manifest entries.

    ``hold``: called, and waited for, before Pagefind runs, when more than
    ``HOLD_SHARE`` of the documents must be indexed again. The build makes the
    index alongside its pages and releases the hold once they are written: a few
    shards fit in the cores the page workers leave idle, a whole index does not
    (it made a full city build 22 % slower: README, "Nightly rebuild")."""
    shards = plan_shards(docs, shard_records)
    work.mkdir(parents=True, exist_ok=True)
    old_files: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for path, entry in (previous.files.items() if previous is not None else ()):
        if path.startswith("pagefind/"):
            old_files[path.split("/", 2)[1]][path] = entry
    # Largest shards first so two workers finish together.
    order = sorted(shards, key=lambda s: -len(s.docs))
    known = _old_fingerprints(previous)  # read once here, not once per shard
    if hold is not None and current_engine() is None:
        for s in shards:  # computed here, once, to know how much must be indexed again
            s.fingerprint = _fingerprint(s)
        stale = sum(len(s.docs) for s in shards if _stale(s, known, old_files.get(s.name, {})))
        if stale > HOLD_SHARE * sum(len(s.docs) for s in shards):
            hold()
    files: dict[str, dict[str, Any]] = {}
    if current_engine() is not None:  # a Dask cluster: one task per shard, each running its own Pagefind
        done = fork_map(_index_job, list(range(len(order))), (order, work, out, previous, dict(old_files)), parallel=True,
                        part=_shard_part)
        for s, (fingerprint, reused, entries) in zip(order, done):
            s.fingerprint, s.reused = fingerprint, reused
            files.update(entries)
    else:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            futures = {s.name: pool.submit(_index, s, work, out, previous, old_files.get(s.name), known) for s in order}
            for s in order:
                files.update(futures[s.name].result())
                if on_shard:
                    on_shard(s.name)
    shutil.rmtree(work, ignore_errors=True)
    records = [s.record() for s in shards]
    if listing:
        write_listing(out, records)
    return records, [s.name for s in shards if s.reused], dict(sorted(files.items()))


def write_listing(out: Path, *parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OUT/search/shards.json, the list search.js reads, from the shard lists of one or
    more ``build_search`` runs over different kinds: in ``plan_shards``'s order, which
    is by kind first, so the runs' lists are merged by kind alone (a stable sort)."""
    records = sorted((r for part in parts for r in part), key=lambda r: r["kind"])
    (out / "search").mkdir(parents=True, exist_ok=True)
    (out / "search" / "shards.json").write_bytes(orjson.dumps({"version": 1, "kinds": KIND_LABEL, "shards": records},
                                                              option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return records
