"""Validate a data directory: every record accepted or rejected with reasons.

Flow per record: read (readers) → coerce tabular cells (normalise) → JSON
Schema gate → domain checks and references (checks) → accepted records go to
the caller's sink, rejected ones to the quarantine with their issues. Kinds
are processed in dependency order (``schemas.KINDS``) so every reference
points to a kind already read and memory holds only keys, never records.

JSON Schema semantics are exactly those of ``jsonschema`` (draft 2020-12
with format checks): the compiled ``jsonschema_rs`` gate only answers
"valid?" fast; a record it rejects is re-checked by ``jsonschema``, whose
errors become the messages, and whose verdict wins if the two ever differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import jsonschema
import jsonschema_rs
import orjson
import referencing
from referencing.jsonschema import DRAFT202012

from liushuang import schemas
from liushuang.policy import Policy, load_policy
from liushuang.progress import Progress

from . import readers
from .checks import CHECKS
from .report import FileStats, Report
from .rules import Issue
from .schema_errors import describe

Sink = Callable[[str, dict[str, Any]], None]

# Kinds other kinds refer to, and the kinds that refer to them.
REFERENCED = {"inspectors", "inspection_items", "notifications", "licenses", "penalties", "inspection_tasks"}


class Schemas:
    """Compiled validators for every kind (both engines)."""

    def __init__(self) -> None:
        common = schemas.load(schemas.COMMON)
        rs_registry = jsonschema_rs.Registry([(common["$id"], common)])
        py_registry = referencing.Registry().with_resource(common["$id"], DRAFT202012.create_resource(common))
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        self.gate = {k: jsonschema_rs.Draft202012Validator(schemas.load(k), registry=rs_registry, validate_formats=True)
                     for k in schemas.KINDS}
        self.exact = {k: jsonschema.Draft202012Validator(schemas.load(k), registry=py_registry, format_checker=checker)
                      for k in schemas.KINDS}


class _References:
    """Keys seen so far, for duplicates and references between kinds."""

    def __init__(self, policy: Policy) -> None:
        self.known_regions = policy.known_regions
        self.seen: dict[str, dict[Any, tuple[int, int]]] = {k: {} for k in schemas.KINDS}
        self.rejected: dict[str, set[Any]] = {k: set() for k in REFERENCED}
        self.selections: dict[str, frozenset[str]] = {}

    def ref_status(self, kind: str, key: str) -> str | None:
        if key not in self.seen[kind]:
            return "ref-missing"
        if key in self.rejected[kind]:
            return "ref-rejected"
        return None

    def task_selection(self, task_id: str) -> frozenset[str] | None:
        return self.selections.get(task_id)


class Validator:
    def __init__(self, policy: Policy | None = None, *, quarantine_dir: Path | None = None,
                 progress: bool | None = None) -> None:
        self.policy = policy or load_policy()
        self.schemas = Schemas()
        self.quarantine_dir = quarantine_dir
        self.progress = progress

    def validate_dir(self, data_dir: str | Path, sink: Sink | None = None) -> Report:
        data_dir = Path(data_dir)
        started = time.perf_counter()
        report = Report(str(data_dir), quarantine_dir=str(self.quarantine_dir) if self.quarantine_dir else None)
        if not data_dir.is_dir():
            report.issues.append(Issue("file-unreadable", f"数据目录“{data_dir}”不存在或不是目录", file=str(data_dir)))
            return report
        found, file_issues = readers.discover(data_dir)
        report.issues.extend(file_issues)
        refs = _References(self.policy)
        quarantine = _Quarantine(self.quarantine_dir)
        total_bytes = sum(readers.file_size(s.path) for files in found.values() for s in files)
        with Progress("校验", total_bytes, enabled=self.progress) as bar:
            for file_index, src in enumerate(s for kind in schemas.KINDS for s in found[kind]):
                stats = FileStats(src.name, src.kind, src.fmt, size=readers.file_size(src.path))
                report.files.append(stats)
                base = bar.done
                self._validate_file(file_index, src, stats, report, refs, quarantine, sink, bar)
                bar.advance(base + stats.size - bar.done)
        quarantine.close()
        report.seconds = time.perf_counter() - started
        return report

    def _validate_file(self, file_index: int, src: readers.SourceFile, stats: FileStats, report: Report,
                       refs: _References, quarantine: _Quarantine, sink: Sink | None, bar: Progress) -> None:
        kind = src.kind
        gate = self.schemas.gate[kind]
        exact = self.schemas.exact[kind]
        check = CHECKS[kind]
        key_fields = schemas.key_fields(kind)
        single_key = key_fields[0] if len(key_fields) == 1 else None
        seen = refs.seen[kind]
        rejected_keys = refs.rejected.get(kind)
        kstats = report.kinds[kind]
        columns_reported = False
        base_done = bar.done
        try:
            for raw in readers.read(src):
                if not columns_reported and src.columns is not None:
                    columns_reported = True
                    report.issues.extend(_column_issues(src))
                stats.read += 1
                if not stats.read & 0x3FFF and raw.byte_offset is not None:
                    bar.advance(raw.byte_offset - (bar.done - base_done))
                data = raw.data
                issues = raw.issues
                record_id = None
                if data is None and not issues:
                    issues = [Issue("record-not-object", "记录为空值（null），应为对象")]
                elif data is not None and not isinstance(data, dict):
                    issues = issues + [Issue("record-not-object", f"记录应为 JSON 对象，实为 {type(data).__name__}")]
                elif isinstance(data, dict):
                    if not gate.is_valid(data):
                        found = [Issue(slug, msg, pointer=ptr) for err in exact.iter_errors(data) for slug, ptr, msg in describe(kind, err)]
                        if not found:
                            report.gate_disagreements += 1
                        issues = issues + found
                    findings = check(data, refs)
                    if findings:
                        issues = issues + [Issue(slug, msg, pointer=ptr) for slug, ptr, msg in findings]
                    key = data.get(single_key) if single_key else _composite(data, key_fields)
                    if isinstance(key, str | tuple) and key:
                        record_id = key if isinstance(key, str) else "/".join(key)
                        first = seen.get(key)
                        if first is not None:
                            where = report.files[first[0]].name
                            issues = issues + [Issue("duplicate-key", f"与 {where} 第 {first[1]} 行/条的记录重复（{record_id}）；保留先出现的一条",
                                                     pointer="/" + key_fields[0])]
                            key = None  # the first occurrence keeps the key's status
                        else:
                            seen[key] = (file_index, raw.line or raw.row or 0)
                    else:
                        key = None
                    if not issues and kind == "inspection_tasks" and isinstance(key, str):
                        refs.selections[key] = frozenset(s["uscc"] for s in data.get("selections", []))
                if issues:
                    for issue in issues:
                        issue.file, issue.kind = src.name, kind
                        issue.line, issue.row = issue.line or raw.line, issue.row or raw.row
                        issue.record_id = record_id
                        if issue.byte_offset is None:
                            issue.byte_offset = raw.byte_offset
                    report.issues.extend(issues)
                    stats.rejected += 1
                    kstats.rejected += 1
                    if rejected_keys is not None and isinstance(data, dict) and record_id is not None and key is not None:
                        rejected_keys.add(key)
                    quarantine.write(kind, src.name, raw, record_id, issues)
                else:
                    stats.accepted += 1
                    kstats.accepted += 1
                    if sink is not None:
                        sink(kind, data)
        except readers.ReadError as exc:
            report.issues.append(exc.issue)
        if not columns_reported and src.columns is not None:
            report.issues.extend(_column_issues(src))
        stats.encoding = src.encoding
        kstats.read += stats.read  # counted independently of the verdicts: conservation is a real check


def _composite(data: dict[str, Any], fields: list[str]) -> tuple[str, ...] | None:
    values = tuple(data.get(f) for f in fields)
    return values if all(isinstance(v, str) and v for v in values) else None  # type: ignore[return-value]


def _column_issues(src: readers.SourceFile) -> list[Issue]:
    plan = src.columns
    assert plan is not None
    out = [Issue("column-unknown", f"列“{c}”不对应“{src.kind}”的任何字段，未读取", file=src.name, kind=src.kind) for c in plan.unknown]
    out += [Issue("column-duplicate", f"列“{c}”与前面的列对应同一字段，未读取", file=src.name, kind=src.kind) for c in plan.duplicate]
    return out


class _Quarantine:
    """Rejected records, with their issues, one JSON Lines file per kind."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.files: dict[str, IO[bytes]] = {}
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for old in directory.glob("*.jsonl"):
                old.unlink()

    def write(self, kind: str, file: str, raw: readers.RawRecord, record_id: str | None, issues: list[Issue]) -> None:
        if self.directory is None:
            return
        fh = self.files.get(kind)
        if fh is None:
            fh = self.files[kind] = open(self.directory / f"{kind}.jsonl", "wb")
        entry: dict[str, Any] = {"file": file, "line": raw.line, "row": raw.row, "byte_offset": raw.byte_offset,
                                 "record_id": record_id,
                                 "errors": [{"rule": i.rule, "pointer": i.pointer, "message": i.message} for i in issues],
                                 "record": raw.data}
        fh.write(orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n")

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
