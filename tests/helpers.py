"""Helpers shared by the tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from liushuang.generator.validate import Validator


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[Any]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def mutate(data_dir: Path, kind: str, pick: Callable[[dict[str, Any]], bool],
           change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Replace the first record of KIND matching PICK by a changed copy; return it."""
    path = data_dir / f"{kind}.jsonl"
    records = read_jsonl(path)
    for i, rec in enumerate(records):
        if pick(rec):
            new = copy.deepcopy(rec)
            change(new)
            records[i] = new
            write_jsonl(path, records)
            return new
    raise AssertionError(f"no {kind} record matches")


def validate(data_dir: Path, **kw: Any):
    kw.setdefault("progress", False)
    kw.setdefault("workers", 1)
    return Validator(**kw).validate_dir(data_dir)


def rules_by_record(report) -> dict[str | None, set[str]]:
    out: dict[str | None, set[str]] = {}
    for i in report.issues:
        out.setdefault(i.record_id, set()).add(i.rule)
    return out
