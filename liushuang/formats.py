"""Write records in every input format (synthetic data, fixtures, downloads).

With ``headers="zh"`` tabular files look like real platform exports: the
schema's Chinese titles (the national 双公示 headers) as column names, dates
as ``YYYY/MM/DD`` (real dates in xlsx), lists joined by 、, 是/否 for booleans.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from liushuang import schemas

XLSX_CELL_LIMIT = 32767  # characters per cell (Excel specification and limits)
_ENTITY_ZH = {"legal_representative.name": "法定代表人", "legal_representative.id_type": "法定代表人证件类型",
              "legal_representative.id_number": "法定代表人证件号码"}


def columns(kind: str) -> list[str]:
    """Field paths in schema order, nested objects of one level flattened."""
    out = []
    for name, prop in schemas.load(kind)["properties"].items():
        sub = prop if prop.get("type") in ("object", ["object", "null"]) else None
        if sub and kind == "entities":
            out += [f"{name}.{s}" for s in sub["properties"]]
        else:
            out.append(name)
    return out


def header(kind: str, path: str, style: str) -> str:
    if style != "zh":
        return path
    if path in _ENTITY_ZH and kind == "entities":
        return _ENTITY_ZH[path]
    return schemas.titles(kind).get(path, path)


class RawJSON(bytes):
    """A value kept as serialised JSON (a task's frame of tens of thousands of
    entities): written as is by the JSON writers, a sixth of the memory of
    the Python objects, and picklable (unlike orjson.Fragment) for worker processes."""


def json_default(obj: Any) -> Any:
    """orjson ``default``: RawJSON, and a published record kept compact
    (``generator.records.Record``), go out as the JSON they hold."""
    if isinstance(obj, RawJSON):
        return orjson.Fragment(bytes(obj))
    blob = getattr(obj, "blob", None)
    if blob.__class__ is bytes:
        return orjson.Fragment(blob)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _get(rec: dict[str, Any], path: str) -> Any:
    if "." in path:
        outer, inner = path.split(".", 1)
        sub = rec.get(outer)
        return sub.get(inner) if isinstance(sub, dict) else None
    return rec.get(path)


def cell(value: Any, style: str, *, excel: bool = False) -> Any:
    if value is None:
        return None if excel else ""
    if isinstance(value, bool):
        return ("是" if value else "否") if style == "zh" else ("true" if value else "false")
    if isinstance(value, str):
        if style == "zh" and len(value) == 10 and value[4] == "-" and value[7] == "-":
            if excel:
                try:
                    return dt.date.fromisoformat(value)
                except ValueError:
                    return value
            return value.replace("-", "/")
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
        return ("、" if style == "zh" else ";").join(value)
    if isinstance(value, list | dict):
        return orjson.dumps(value, default=json_default).decode()
    return value


def write_jsonl(path: Path, records: Iterable[dict[str, Any]], *, broken_lines: int = 0) -> int:
    n = 0
    with open(path, "wb") as fh:
        for rec in records:
            fh.write(orjson.dumps(rec, default=json_default) + b"\n")
            n += 1
        for i in range(broken_lines):
            fh.write(b'{"decision_number": "truncated-' + str(i).encode() + b'", "subject_na\n')
    return n


def write_json(path: Path, records: list[dict[str, Any]]) -> int:
    path.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2, default=json_default))
    return len(records)


def write_csv(path: Path, kind: str, records: Iterable[dict[str, Any]], *, encoding: str = "utf-8", style: str = "en",
              cols: list[str] | None = None) -> int:
    """One row per record; ``cols`` chooses and orders the field paths (default: all of the kind's)."""
    cols = columns(kind) if cols is None else cols
    n = 0
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow([header(kind, c, style) for c in cols])
        for rec in records:
            w.writerow([cell(_get(rec, c), style) for c in cols])
            n += 1
    return n


def write_xlsx(path: Path, kind: str, records: Iterable[dict[str, Any]], *, style: str = "en") -> int:
    from openpyxl import Workbook

    cols = columns(kind)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(kind)
    ws.append([header(kind, c, style) for c in cols])
    n = 0
    for rec in records:
        row = [cell(_get(rec, c), style, excel=True) for c in cols]
        for c, value in zip(cols, row):
            if isinstance(value, str) and len(value) > XLSX_CELL_LIMIT:
                raise ValueError(f"{kind}: field {c} of record {n + 1} has {len(value)} characters; "
                                 f"an xlsx cell holds at most {XLSX_CELL_LIMIT} (use JSON Lines for this kind)")
        ws.append(row)
        n += 1
    wb.save(path)
    return n


def write_parquet(path: Path, kind: str, records: list[dict[str, Any]], *, style: str = "en") -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = columns(kind)
    data = {header(kind, c, style): [_get(r, c) for r in records] for c in cols}
    table = pa.table({k: _arrow_column(v) for k, v in data.items() if any(x is not None for x in v)})
    pq.write_table(table, path, compression="zstd")
    return len(records)


def _arrow_column(values: list[Any]) -> Any:
    """Native Arrow types where the values agree; text where they do not (a
    column of amounts with one word in it stays readable and fails validation)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([v if v is None or isinstance(v, str) else orjson.dumps(v, default=json_default).decode() for v in values],
                        pa.string())


def write(path_stem: Path, kind: str, records: list[dict[str, Any]], fmt: str, *, encoding: str = "utf-8",
          style: str = "en", broken_lines: int = 0) -> Path:
    path = path_stem.with_name(f"{path_stem.name}.{fmt}")
    if fmt == "jsonl":
        write_jsonl(path, records, broken_lines=broken_lines)
    elif fmt == "json":
        write_json(path, records)
    elif fmt == "csv":
        write_csv(path, kind, records, encoding=encoding, style=style)
    elif fmt == "xlsx":
        write_xlsx(path, kind, records, style=style)
    elif fmt == "parquet":
        write_parquet(path, kind, records, style=style)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return path
