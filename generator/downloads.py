"""Open-data downloads of exactly the published records, masked like the pages.

Each dataset is written as CSV (UTF-8 with BOM, so Excel opens it; the
national standard's Chinese headers), JSON Lines and Parquet, with its row
count, size and SHA-256, and described in a Frictionless ``datapackage.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from liushuang import formats, schemas

from .manifest import sha256_file
from .publish import NEVER

DATASETS = {"licenses": "行政许可", "penalties": "行政处罚", "inspection_tasks": "双随机抽查任务", "inspection_results": "双随机抽查结果"}
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


def _write_kind(kind: str) -> list[dict[str, Any]]:
    """The three files of one dataset (in a forked worker sharing the store) and their descriptions."""
    from liushuang.parallel import shared

    root, store = shared()
    folder = root / "downloads"
    title = DATASETS[kind]
    records = sorted(store.get(kind, []), key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS, default=formats.json_default))
    cols = [c for c in formats.columns(kind) if c.split(".")[0] not in NEVER and c not in CSV_SKIP.get(kind, set())]
    csv_path = folder / f"{kind}.csv"
    formats.write_csv(csv_path, kind, records, encoding="utf-8-sig", style="zh", cols=cols)
    formats.write_jsonl(folder / f"{kind}.jsonl", records)
    if records:
        if kind == "inspection_tasks":  # the frame (tens of thousands of members) as one JSON text cell per task
            records = [{**r, "frame": orjson.dumps(r["frame"], default=formats.json_default).decode() if r.get("frame") else None}
                       for r in records]
        formats.write_parquet(folder / f"{kind}.parquet", kind, records)
    resources = []
    for path, fmt, media in ((csv_path, "csv", "text/csv"), (folder / f"{kind}.jsonl", "jsonl", "application/jsonl"),
                             (folder / f"{kind}.parquet", "parquet", "application/vnd.apache.parquet")):
        if not path.exists():
            continue
        resources.append({"dataset": kind, "dataset_title": title, "name": f"{kind}-{fmt}", "title": f"{title}（{fmt.upper()}）",
                          "path": f"downloads/{path.name}", "format": fmt, "mediatype": media, "encoding": "utf-8",
                          "bytes": path.stat().st_size, "hash": f"sha256:{sha256_file(path)}", "rows": len(records),
                          "schema": {"fields": _fields(kind)}})
    return resources


def write_downloads(root: Path, store: dict[str, list[dict[str, Any]]], build_date: str, *, workers: int | None = None) -> list[dict[str, Any]]:
    from liushuang.parallel import fork_map

    (root / "downloads").mkdir(parents=True, exist_ok=True)
    # Largest datasets first, so two workers finish together; the result keeps DATASETS' order.
    kinds = sorted(DATASETS, key=lambda k: -len(store.get(k, [])))
    parallel = sum(len(store.get(k, [])) for k in kinds) > 20_000
    written = dict(zip(kinds, fork_map(_write_kind, kinds, (root, store), parallel=parallel, workers=workers)))
    resources = [r for kind in DATASETS for r in written[kind]]
    package = {"name": "liushuang-six-doubles", "title": "市场监管双公示与双随机抽查公开数据", "version": build_date,
               "created": build_date, "licenses": [{"name": "CC-BY-4.0", "title": "知识共享署名 4.0 国际许可协议"}],
               "resources": [{k: v for k, v in r.items() if k not in ("dataset", "dataset_title")} for r in resources]}
    (root / "datapackage.json").write_bytes(orjson.dumps(package, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return resources


def write_task_files(root: Path, tasks: list[dict[str, Any]]) -> None:
    """Each published task as one JSON file: its frame, strata, commitment, seed
    and selections, everything ``liushuang audit draws`` needs to re-derive it."""
    from liushuang.urls import slug

    folder = root / "downloads" / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        (folder / f"{slug(task['task_id'])}.json").write_bytes(orjson.dumps(task, option=orjson.OPT_SORT_KEYS, default=formats.json_default) + b"\n")
