"""Open-data downloads of exactly the published records, masked like the pages.

Each dataset is written per year as CSV (UTF-8 with BOM, so Excel opens it;
the national standard's Chinese headers), JSON Lines and Parquet
(``downloads/KIND/YEAR.FORMAT``), each file with its row count, size and
SHA-256, and described in a Frictionless ``datapackage.json``. A year whose
records did not change keeps the previous build's files.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path
from typing import Any

import orjson

from liushuang import formats, schemas

from .labels import labels
from .manifest import sha256_file
from .publish import NEVER
from .records import Record, plain

DATASETS = labels("licenses", "penalties", "inspection_tasks", "inspection_results")
# Nested lists too large for a table cell stay in JSON Lines and Parquet.
CSV_SKIP = {"inspection_tasks": {"frame", "selections", "assignments"}}
_JSON_TYPES = {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean", "array": "array", "object": "object"}


def _fields(kind: str) -> list[dict[str, str]]:
    out = []
    for name, prop in schemas.load(kind)["properties"].items():
        if name in NEVER:
            continue
        t = prop.get("type", "string")
        t = next((x for x in t if x != "null"), "string") if isinstance(t, list) else t
        out.append({"name": name, "title": prop.get("title", name), "type": _JSON_TYPES.get(t, "any"),
                    "description": prop.get("description", "")})
    return out


# Each dataset is cut into one file per year of this field, so a nightly build
# rewrites (and a nightly upload re-sends) only the years whose records changed.
YEAR_FIELD = {"licenses": "decided_on", "penalties": "decided_on", "inspection_tasks": "start_on", "inspection_results": "completed_on"}
UNDATED = "undated"
FORMATS = (("csv", "text/csv"), ("jsonl", "application/jsonl"), ("parquet", "application/vnd.apache.parquet"))


def year_of(kind: str, rec: dict[str, Any]) -> str:
    value = rec.get(YEAR_FIELD[kind])
    return value[:4] if isinstance(value, str) and value[:4].isdigit() else UNDATED


def partitions(store: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(kind, year) → the published records of that year."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for kind in DATASETS:
        for rec in store.get(kind, []):
            out.setdefault((kind, year_of(kind, rec)), []).append(rec)
    return out


@functools.cache
def code_digest() -> str:
    """What, besides the records, decides a download file's bytes: liushuang's version,
    this module, the file writers and the schemas (column titles)."""
    from liushuang import __version__

    h = hashlib.sha256(__version__.encode())
    for module in (formats, sys.modules[__name__]):
        h.update(Path(module.__file__ or "").read_bytes())
    for kind in DATASETS:
        h.update(orjson.dumps(schemas.load(kind), option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


def _partition_part(shared_data: tuple[Path, dict[Any, Any], Any], job: tuple[str, str]) -> tuple[Any, Any]:
    """What one year's files need, for a Dask worker: that year's records and its previous files."""
    root, parts, previous = shared_data
    names = [f"downloads/{job[0]}/{job[1]}.{fmt}" for fmt, _ in FORMATS]
    return job, (root, {job: parts[job]}, previous.narrowed(names) if previous is not None else None)


def _write_partition(job: tuple[str, str]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The three files of one dataset's year (in a forked worker sharing the
    partitions), their descriptions and manifest entries. The files of a year
    whose records are those of the previous build are that build's very files:
    left in place or hard-linked, not written again."""
    from liushuang.parallel import shared

    from .pages import write_new

    root, parts, previous = shared()
    kind, year = job
    # The year's inputs: the JSON of its records, as they are kept (a Record's public form as it
    # came from validation), not decoded: most years of a nightly build are only this digest.
    h = hashlib.sha256(code_digest().encode())
    for line in sorted(r.blob if isinstance(r, Record) else orjson.dumps(r, option=orjson.OPT_SORT_KEYS, default=formats.json_default)
                       for r in parts[job]):
        h.update(line)
        h.update(b"\n")
    inputs = h.hexdigest()
    folder = root / "downloads" / kind
    folder.mkdir(parents=True, exist_ok=True)
    names = {fmt: f"downloads/{kind}/{year}.{fmt}" for fmt, _ in FORMATS}
    entries: dict[str, dict[str, Any]] = {}
    old = {fmt: previous.files.get(name) if previous is not None else None for fmt, name in names.items()}
    if all(e is not None and e.get("input") == inputs for e in old.values()):
        for fmt, name in names.items():
            entry = old[fmt]
            assert entry is not None
            if previous.reuse(name, entry, root / name):
                entries[name] = entry
    if len(entries) < len(names):
        entries = {}
        dumped = sorted(orjson.dumps(plain(r), option=orjson.OPT_SORT_KEYS, default=formats.json_default) for r in parts[job])
        records = [orjson.loads(line) for line in dumped]
        cols = [c for c in formats.columns(kind) if c.split(".")[0] not in NEVER and c not in CSV_SKIP.get(kind, set())]
        for name in names.values():  # never written through: the file may be a hard link to the published site
            (root / name).unlink(missing_ok=True)
        formats.write_csv(root / names["csv"], kind, records, encoding="utf-8-sig", style="zh", cols=cols)
        write_new(root / names["jsonl"], b"".join(line + b"\n" for line in dumped))
        if kind == "inspection_tasks":  # the frame (tens of thousands of members) as one JSON text cell per task
            records = [{**r, "frame": orjson.dumps(r["frame"], default=formats.json_default).decode() if r.get("frame") else None}
                       for r in records]
        formats.write_parquet(root / names["parquet"], kind, records)
        for name in names.values():
            entries[name] = {"sha256": sha256_file(root / name), "size": (root / name).stat().st_size, "input": inputs}
    title = DATASETS[kind]
    resources = [{"dataset": kind, "dataset_title": title, "year": year, "name": f"{kind}-{year}-{fmt}",
                  "title": f"{title}（{year if year != UNDATED else '未注明日期'}{'年' if year != UNDATED else ''}，{fmt.upper()}）",
                  "path": names[fmt], "format": fmt, "mediatype": media, "encoding": "utf-8", "bytes": entries[names[fmt]]["size"],
                  "hash": f"sha256:{entries[names[fmt]]['sha256']}", "rows": len(parts[job]), "schema": {"fields": _fields(kind)}}
                 for fmt, media in FORMATS]
    return resources, entries


def write_downloads(root: Path, store: dict[str, list[dict[str, Any]]], build_date: str, *, workers: int | None = None,
                    previous: Any = None) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Write every dataset's yearly files and ``datapackage.json``. Returns the
    resources (newest year first within each dataset) and the files' manifest entries."""
    from liushuang.parallel import fork_map

    (root / "downloads").mkdir(parents=True, exist_ok=True)
    parts = partitions(store)
    # Largest partitions first, so two workers finish together; the result is put back in order.
    jobs = sorted(parts, key=lambda job: -len(parts[job]))
    parallel = sum(len(v) for v in parts.values()) > 20_000
    written = dict(zip(jobs, fork_map(_write_partition, jobs, (root, parts, previous), parallel=parallel, workers=workers,
                                      part=_partition_part)))
    order = sorted(parts, key=lambda job: (list(DATASETS).index(job[0]), job[1] == UNDATED, [-ord(c) for c in job[1]]))
    resources = [r for job in order for r in written[job][0]]
    files = {name: entry for job in order for name, entry in written[job][1].items()}
    package = {"name": "liushuang-six-doubles", "title": "市场监管双公示与双随机抽查公开数据", "version": build_date,
               "created": build_date, "licenses": [{"name": "CC-BY-4.0", "title": "知识共享署名 4.0 国际许可协议"}],
               "resources": [{k: v for k, v in r.items() if k not in ("dataset", "dataset_title", "year")} for r in resources]}
    (root / "datapackage.json").write_bytes(orjson.dumps(package, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return resources, files


def write_task_files(root: Path, tasks: list[dict[str, Any]], previous: Any = None) -> dict[str, dict[str, Any]]:
    """Each published task as one JSON file: its frame, strata, commitment, seed
    and selections, everything ``liushuang audit draws`` needs to re-derive it.
    A file equal to the previous build's is that build's file (left in place or
    linked). Returns the files' manifest entries."""
    from liushuang.urls import slug

    from .pages import write_new

    folder = root / "downloads" / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for task in tasks:
        name = f"downloads/tasks/{slug(task['task_id'])}.json"
        data = orjson.dumps(task, option=orjson.OPT_SORT_KEYS, default=formats.json_default) + b"\n"
        digest = hashlib.sha256(data).hexdigest()
        entry = {"sha256": digest, "size": len(data), "input": digest}
        entries[name] = entry
        old = previous.files.get(name) if previous is not None else None
        if old is not None and old.get("input") == digest and previous.reuse(name, old, root / name):
            continue
        write_new(root / name, data)
    return entries
