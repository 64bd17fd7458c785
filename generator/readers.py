"""Find the input files of a data directory and read raw records from them.

A data directory holds ``<kind>.<ext>`` files or ``<kind>/`` folders of them,
ext one of jsonl, json, csv, parquet, xlsx. Readers yield :class:`RawRecord`
objects carrying their location; problems that belong to one record (a line
that is not JSON, bytes that do not decode) travel with that record, so one
bad line never costs the others.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from liushuang import schemas
from liushuang.locations import RemotePath, file_size, parquet_file

from .normalise import ColumnPlan, nullable, plan_columns
from .rules import Issue

FORMATS = ("jsonl", "json", "csv", "parquet", "xlsx")
TABULAR = ("csv", "parquet", "xlsx")
BLOCK = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"


class ReadError(Exception):
    """A whole file cannot be read; carries the issue to report."""

    def __init__(self, issue: Issue):
        super().__init__(issue.message)
        self.issue = issue


@dataclass(slots=True)
class SourceFile:
    path: Path | RemotePath  # a local file, or one behind an fsspec URL (liushuang.locations)
    kind: str
    fmt: str
    name: str  # as shown to users: relative to the data directory
    encoding: str = ""
    columns: ColumnPlan | None = None


@dataclass(slots=True)
class RawRecord:
    data: Any
    line: int | None = None
    row: int | None = None
    byte_offset: int | None = None
    issues: list[Issue] = field(default_factory=list)


def _format_of(path: Any) -> str | None:
    ext = path.suffix.lower().lstrip(".")
    return ext if ext in FORMATS else None


def discover(data_dir: Path | RemotePath) -> tuple[dict[str, list[SourceFile]], list[Issue]]:
    """Input files by kind, in a stable order, and warnings for the rest."""
    found: dict[str, list[SourceFile]] = {k: [] for k in schemas.KINDS}
    issues: list[Issue] = []
    for entry in sorted(data_dir.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name in found:
                for sub in sorted(entry.rglob("*"), key=lambda p: str(p)):
                    if sub.is_file() and not sub.name.startswith("."):
                        _add(found, issues, sub, entry.name, data_dir)
            continue
        stem = entry.name.split(".", 1)[0]
        _add(found, issues, entry, stem, data_dir)
    return found, issues


def _add(found: dict[str, list[SourceFile]], issues: list[Issue], path: Any, kind: str, root: Any) -> None:
    name = str(path.relative_to(root))
    fmt = _format_of(path)
    if kind not in found or fmt is None:
        if path.suffix.lower() not in (".md", ".txt") and path.name != "synth-manifest.json":
            issues.append(Issue("file-unknown-kind", f"文件“{name}”不是可识别的记录类型或格式（应为 <类型>.{{{','.join(FORMATS)}}}），未读取", file=name))
        return
    found[kind].append(SourceFile(path, kind, fmt, name))


def read(src: SourceFile, part: tuple[int, int] | list[int] | None = None, *, fast: bool = False) -> Iterator[Any]:
    """Raw records of one file, or of one part of it (a byte range of a JSON
    Lines file, or row groups of a Parquet file; see parts()), with line and
    row numbers counted from the part's start. Raises ReadError when the file
    as a whole fails.

    With ``fast`` (the parallel workers), a well-formed JSON line or Parquet
    row comes as a bare (line or row, byte offset or None, data) tuple instead
    of a RawRecord: most records are clean, and objects per record cost."""
    try:
        if src.fmt == "jsonl":
            yield from _read_jsonl(src, *(part or (0, None)), fast=fast)  # type: ignore[misc]
        elif src.fmt == "json":
            yield from _read_json(src)
        elif src.fmt == "csv":
            yield from _read_csv(src)
        elif src.fmt == "parquet":
            yield from _read_parquet(src, part, fast=fast)  # type: ignore[arg-type]
        elif src.fmt == "xlsx":
            yield from _read_xlsx(src)
    except OSError as exc:
        raise ReadError(Issue("file-unreadable", f"无法读取文件“{src.name}”：{exc.strerror or exc}", file=src.name, kind=src.kind)) from exc


# --- JSON Lines ---------------------------------------------------------------

def parts(src: SourceFile, target_bytes: int) -> list[Any]:
    """Split a file into independently readable parts of about target_bytes:
    byte ranges cut after a newline (JSON Lines) or lists of row groups
    (Parquet). Other formats are one part."""
    size = file_size(src.path)
    if src.fmt == "jsonl":
        cuts = [0]
        with src.path.open("rb") as fh:
            while cuts[-1] + target_bytes < size:
                fh.seek(cuts[-1] + target_bytes)
                fh.readline()
                if fh.tell() >= size:
                    break
                cuts.append(fh.tell())
        return [(a, b) for a, b in zip(cuts, cuts[1:] + [size])]
    if src.fmt == "parquet":
        meta = parquet_file(src.path).metadata
        groups: list[list[int]] = [[]]
        acc = 0
        for i in range(meta.num_row_groups):
            if groups[-1] and acc >= target_bytes:
                groups.append([])
                acc = 0
            groups[-1].append(i)
            acc += meta.row_group(i).total_byte_size
        return groups
    return [None]


def _read_jsonl(src: SourceFile, begin: int = 0, end: int | None = None, *, fast: bool = False) -> Iterator[Any]:
    src.encoding = "utf-8"
    offset = begin
    with src.path.open("rb") as fh:
        fh.seek(begin)
        for line_no, line in enumerate(fh, 1):
            if end is not None and offset >= end:
                break
            start = offset
            offset += len(line)
            if begin == 0 and line_no == 1 and line.startswith(UTF8_BOM):
                src.encoding = "utf-8-sig"
                line = line[3:]
                start += 3
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield RawRecord(None, line=line_no, byte_offset=start, issues=[_jsonl_issue(src, line, line_no, start, exc)])
                continue
            if line.count(b'":') > _n_keys(data):
                repeated = duplicate_keys(line)
                if repeated:
                    yield RawRecord(None, line=line_no, byte_offset=start, issues=[Issue(
                        "record-parse", f"JSON 对象含重复的键“{repeated[0]}”，无法确定取哪个值", file=src.name, line=line_no,
                        byte_offset=start, pointer="/" + repeated[0], kind=src.kind)])
                    continue
            yield (line_no, start, data) if fast else RawRecord(data, line=line_no, byte_offset=start)


def _n_keys(obj: Any) -> int:
    """Keys of every object inside ``obj``: a JSON text with more ``":`` than this may repeat a key.
    (Exact class tests, no generators: this runs for every record that nests objects or lists.)"""
    if obj.__class__ is dict:
        n = len(obj)
        for v in obj.values():
            if v.__class__ is dict or v.__class__ is list:
                n += _n_keys(v)
        return n
    n = 0
    if obj.__class__ is list:
        for v in obj:
            if v.__class__ is dict or v.__class__ is list:
                n += _n_keys(v)
    return n


def duplicate_keys(text: bytes) -> list[str]:
    """Keys repeated within one JSON object (orjson keeps the last silently). The
    slow, exact parse runs only when the cheap count says a repeat is possible."""
    import json

    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in items:
            if k in seen:
                repeated.append(k)
            seen.add(k)
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    return repeated


def _jsonl_issue(src: SourceFile, line: bytes, line_no: int, start: int, exc: Exception) -> Issue:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as dec:
        at = start + dec.start
        return Issue("file-decode", f"含无效的 UTF-8 字节（文件偏移 {at}）；JSON Lines 必须为 UTF-8 编码",
                     file=src.name, line=line_no, byte_offset=at, kind=src.kind)
    if b"\x00" in line:
        msg = "含 NUL 字节，无法解析为 JSON"
    else:
        msg = f"不是有效的 JSON（{_short(str(exc))}）"
    return Issue("record-parse", msg, file=src.name, line=line_no, byte_offset=start, kind=src.kind)


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n] + "…"


# --- JSON document ----------------------------------------------------------------

def _read_json(src: SourceFile) -> Iterator[RawRecord]:
    data = src.path.read_bytes()
    src.encoding = "utf-8"
    if data.startswith(UTF8_BOM):
        data, src.encoding = data[3:], "utf-8-sig"
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ReadError(Issue("file-format", f"文件“{src.name}”不是有效的 JSON（{_short(str(exc))}）；大文件请使用 JSON Lines", file=src.name, kind=src.kind)) from exc
    wrapped = isinstance(doc, dict) and isinstance(doc.get(src.kind), list)
    if wrapped:
        doc = doc[src.kind]
    if not isinstance(doc, list):
        raise ReadError(Issue("file-format", f"文件“{src.name}”应为记录数组（或以“{src.kind}”为键的数组）", file=src.name, kind=src.kind))
    if data.count(b'":') > _n_keys(doc):
        # Some item may repeat a key: find which, by parsing each item's text again.
        import json

        items = json.loads(data, object_pairs_hook=lambda kv: kv)  # every object as its list of pairs
        if wrapped:
            items = next((v for k, v in reversed(items) if k == src.kind), [])
        if isinstance(items, list) and len(items) == len(doc):
            for index, (item, pairs) in enumerate(zip(doc, items, strict=True), 1):
                keys = [k for k, _ in pairs] if isinstance(pairs, list) and pairs and isinstance(pairs[0], tuple) else []
                dup = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
                if dup is not None:
                    yield RawRecord(None, row=index, issues=[Issue("record-parse", f"JSON 对象含重复的键“{dup}”，无法确定取哪个值",
                                                                   file=src.name, row=index, pointer="/" + dup, kind=src.kind)])
                else:
                    yield RawRecord(item, row=index)
            return
    for index, item in enumerate(doc, 1):
        yield RawRecord(item, row=index)


# --- CSV ----------------------------------------------------------------------------

def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(byte offset, bytes) blocks cut after a newline. 0x0A is never part of a
    multi-byte character in UTF-8 or GB18030, so each block decodes alone."""
    with path.open("rb") as fh:
        base = 0
        rest = b""
        while True:
            chunk = fh.read(BLOCK)
            if not chunk:
                if rest:
                    yield base, rest
                return
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            yield base, data[:cut]
            base += cut
            rest = data[cut:]


def _decode_errors(path: Path, encoding: str, limit: int = 1000) -> int:
    errors = 0
    for _, block in _blocks(path):
        pos = 0
        while True:
            try:
                block[pos:].decode(encoding)
                break
            except UnicodeDecodeError as exc:
                errors += 1
                if errors >= limit:
                    return errors
                pos += exc.end
    return errors


def detect_encoding(path: Path) -> str:
    """utf-8-sig when there is a BOM, else the first of UTF-8 and GB18030 that
    decodes the whole file; if neither does, the one with fewer bad bytes."""
    with path.open("rb") as fh:
        if fh.read(3) == UTF8_BOM:
            return "utf-8-sig"
    utf8 = _decode_errors(path, "utf-8")
    if utf8 == 0:
        return "utf-8"
    gb = _decode_errors(path, "gb18030")
    return "gb18030" if gb <= utf8 else "utf-8"


def _decoded_lines(path: Path, encoding: str, bad: dict[int, int]) -> Iterator[str]:
    """Lines of text; bytes that do not decode become U+FFFD and are recorded
    in ``bad`` as line number -> byte offset of the first bad byte."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    line_base = 1
    for base, block in _blocks(path):
        if base == 0 and encoding == "utf-8-sig":
            block, base = block[3:], 3
        try:
            text = block.decode(codec)
        except UnicodeDecodeError:
            parts: list[str] = []
            pos = 0
            while True:
                try:
                    parts.append(block[pos:].decode(codec))
                    break
                except UnicodeDecodeError as exc:
                    parts.append(block[pos:pos + exc.start].decode(codec))
                    at = pos + exc.start
                    bad.setdefault(line_base + block.count(b"\n", 0, at), base + at)
                    parts.append("\ufffd")
                    pos += exc.end
            text = "".join(parts)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for ln in lines:
            yield ln + "\n"
        line_base += len(lines)


def _read_csv(src: SourceFile) -> Iterator[RawRecord]:
    src.encoding = detect_encoding(src.path)
    bad: dict[int, int] = {}
    reader = csv.reader(_decoded_lines(src.path, src.encoding, bad))
    header = next(reader, None)
    if header is None:
        return
    src.columns = plan_columns(src.kind, header)
    plan = src.columns
    last = reader.line_num
    for cells in reader:
        first, last = last + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        rec = RawRecord(plan.record(cells), line=first)
        if bad:
            for ln in range(first, last + 1):
                if ln in bad:
                    at = bad.pop(ln)
                    rec.issues.append(Issue(
                        "file-decode", f"含无法按 {src.encoding} 解码的字节（文件偏移 {at}）",
                        file=src.name, line=ln, byte_offset=at, kind=src.kind))
        yield rec


# --- Parquet ----------------------------------------------------------------------

def parquet_columns(src: SourceFile) -> ColumnPlan:
    return plan_columns(src.kind, parquet_file(src.path).schema_arrow.names)


def _read_parquet(src: SourceFile, row_groups: list[int] | None = None, *, fast: bool = False) -> Iterator[Any]:
    import pyarrow as pa

    try:
        pf = parquet_file(src.path)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise ReadError(Issue("file-format", f"文件“{src.name}”不是有效的 Parquet 文件（{_short(str(exc))}）", file=src.name, kind=src.kind)) from exc
    src.encoding = "parquet"
    names = pf.schema_arrow.names
    src.columns = plan = plan_columns(src.kind, names)
    wanted = [names[i] for i, _, _ in plan.columns]
    paths = [path for _, path, _ in plan.columns]
    convs = [conv for _, _, conv in plan.columns]
    nested = any("." in path for path in paths)
    strict = [path for path in paths if not nullable(src.kind, path)]
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=4096, columns=wanted, row_groups=row_groups):
            columns = [_column_values(batch.column(j), convs[j]) for j in range(len(wanted))]
            if nested:
                sub = ColumnPlan(tuple((j, paths[j], _identity) for j in range(len(paths))), (), ())
                for cells in zip(*columns):
                    row += 1
                    yield RawRecord(sub.record(cells), row=row)
            else:
                # dict(zip()) runs in C; a null stays only where the schema allows null
                # (where it means the same as absent), else it is dropped as a CSV blank would be.
                for cells in zip(*columns):
                    row += 1
                    rec = dict(zip(paths, cells))
                    for p in strict:
                        if rec[p] is None:
                            del rec[p]
                    yield (row, None, rec) if fast else RawRecord(rec, row=row)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise ReadError(Issue("file-format", f"文件“{src.name}”在第 {row + 1} 行之后损坏（{_short(str(exc))}）", file=src.name, row=row + 1, kind=src.kind)) from exc


def _identity(value: Any) -> Any:
    return value


_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _column_values(arr: Any, conv: Any) -> list[Any]:
    """Python values of one column, converted like a CSV cell would be, with
    the common cases done by Arrow on the whole column: text trimmed, empty
    text as null, converters skipped where the column is already canonical."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .normalise import _as_text, parse_date

    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
        if conv is _as_text:
            return arr.to_pylist()
        if conv is parse_date and pc.all(pc.match_substring_regex(arr, _ISO_DATE)).as_py() in (True, None):
            return arr.to_pylist()
    values = arr.to_pylist()
    return [None if v is None else conv(v) for v in values]


# --- Excel --------------------------------------------------------------------------

def _read_xlsx(src: SourceFile) -> Iterator[RawRecord]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(src.path.read_bytes()) if isinstance(src.path, RemotePath) else src.path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ReadError(Issue("file-format", f"文件“{src.name}”不是有效的 xlsx 文件（{_short(str(exc))}）", file=src.name, kind=src.kind)) from exc
    src.encoding = "xlsx"
    try:
        ws = wb[src.kind] if src.kind in wb.sheetnames else wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        plan: ColumnPlan | None = None
        for row_no, cells in enumerate(rows, 1):
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            if plan is None:
                src.columns = plan = plan_columns(src.kind, list(cells))
                continue
            yield RawRecord(plan.record(cells), row=row_no)
    finally:
        wb.close()


def fetch(src: SourceFile, line: int | None, row: int | None, byte_offset: int | None) -> Any:
    """Re-read one record's data by its location (for the quarantine of a
    record rejected after a parallel worker already let its data go)."""
    if src.fmt == "jsonl" and byte_offset is not None:
        with src.path.open("rb") as fh:
            fh.seek(byte_offset)
            try:
                return orjson.loads(fh.readline())
            except orjson.JSONDecodeError:
                return None
    if src.fmt == "parquet" and row is not None:
        meta = parquet_file(src.path).metadata
        first = 1
        for group in range(meta.num_row_groups):  # read only the row group that holds the row
            n = meta.row_group(group).num_rows
            if row < first + n:
                return next(r for i, r in enumerate(read(src, [group]), first) if i == row).data
            first += n
        return None
    target = line if src.fmt == "csv" else row
    for raw in read(src):
        if (raw.line if src.fmt == "csv" else raw.row) == target:
            return raw.data
    return None


