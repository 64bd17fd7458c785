"""Validate a data directory: every record accepted or rejected with reasons.

Flow per record: read (readers) → coerce tabular cells (normalise) → JSON
Schema gate → record-local checks (checks) → in record order: duplicates and
references → accepted records go to the caller's sink, rejected ones to the
quarantine with their issues. Kinds are processed in dependency order
(``schemas.KINDS``) so every reference points to a kind already read and
memory holds only keys, never records.

JSON Schema semantics are exactly those of ``jsonschema`` (draft 2020-12
with format checks): the compiled ``jsonschema_rs`` gate only answers
"valid?" fast; a record it rejects is re-checked by ``jsonschema``, whose
errors become the messages, and whose verdict wins if the two ever differ.

Large JSON Lines and Parquet files are split into parts that worker processes
assess in parallel (everything that depends on one record only); the main
process consumes their outcomes in file order, so the report is identical
whatever the number of workers.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import jsonschema
import jsonschema_rs
import orjson
import referencing
from referencing.jsonschema import DRAFT202012

from liushuang import schemas
from liushuang.locations import RemotePath, location
from liushuang.parallel import RETRIES, current_engine
from liushuang.policy import Policy, load_policy
from liushuang.progress import Progress

from . import readers
from .checks import CHECKS, Deferred, resolve
from .report import FileStats, Report
from .rules import Issue
from .schema_errors import describe

Sink = Callable[[str, Any], None]
# What the sink is given instead of the record, computed where the record is assessed
# (in the worker processes, in parallel), picklable: best bytes, which cost least to send back and to cache.
Prepare = Callable[[str, dict[str, Any]], Any]

# Kinds that other kinds refer to.
REFERENCED = {"inspectors", "inspection_items", "notifications", "licenses", "penalties", "inspection_tasks"}
PART_BYTES = 8 << 20  # parallel work unit
PARALLEL_MIN_BYTES = 16 << 20  # smaller files are not worth a process pool


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

    def schema_issues(self, kind: str, data: dict[str, Any]) -> list[Issue] | None:
        """None when valid; else the issues (empty if only the gate objected)."""
        if self.gate[kind].is_valid(data):
            return None
        return [Issue(slug, msg, pointer=ptr) for err in self.exact[kind].iter_errors(data) for slug, ptr, msg in describe(kind, err)]


@dataclass(slots=True)
class Outcome:
    """What one record's own content says about it, before cross-record checks."""

    line: int | None
    row: int | None
    byte_offset: int | None
    data: Any  # None when a worker let it go (valid and reference-free)
    key: Any
    issues: list[Issue]
    pending: list[tuple[str, ...]] | None
    gate_disagreed: bool = False
    has_data: bool = True


_KEY_FIELDS = {k: schemas.key_fields(k) for k in schemas.KINDS}


def _renumbered(o: Outcome, line_base: int, row_base: int) -> Outcome:
    """``o`` with its lines and rows (and its issues') counted from the file's start:
    readers number them from the start of the part they read."""
    if o.line is not None:
        o.line += line_base
    if o.row is not None:
        o.row += row_base
    for issue in o.issues:
        if issue.line is not None:
            issue.line += line_base
        if issue.row is not None:
            issue.row += row_base
    return o


def _clean_outcome(line: int | None, row: int | None, byte_offset: int | None, key: Any) -> Outcome:
    return Outcome(line=line, row=row, byte_offset=byte_offset, data=None, key=key, issues=[], pending=None, has_data=False)


def _key_of(data: dict[str, Any], fields: list[str]) -> Any:
    if len(fields) == 1:
        key = data.get(fields[0])
        return key if isinstance(key, str) and key else None
    values = tuple(data.get(f) for f in fields)
    return values if all(isinstance(v, str) and v for v in values) else None


def assess(kind: str, raw: readers.RawRecord, compiled: Schemas, known_regions: dict[str, str]) -> Outcome:
    """Everything that depends on this record alone."""
    data = raw.data
    issues = list(raw.issues)
    key = None
    pending = None
    disagreed = False
    if data is None and not issues:
        issues.append(Issue("record-not-object", "记录为空值（null），应为对象"))
    elif data is not None and not isinstance(data, dict):
        issues.append(Issue("record-not-object", f"记录应为 JSON 对象，实为 {type(data).__name__}"))
    elif isinstance(data, dict):
        found = compiled.schema_issues(kind, data)
        if found is not None:
            disagreed = not found
            issues += found
        refs = Deferred(known_regions)
        findings = CHECKS[kind](data, refs)
        if findings:
            issues += [Issue(slug, msg, pointer=ptr) for slug, ptr, msg in findings]
        pending = refs.take()
        key = _key_of(data, _KEY_FIELDS[kind])
    return Outcome(raw.line, raw.row, raw.byte_offset, data, key, issues, pending, disagreed)


# --- worker processes -------------------------------------------------------------

_WORKER: tuple[Schemas, dict[str, str], Prepare | None] | None = None


def _init_worker(known_regions: dict[str, str], prepare: Prepare | None = None) -> None:
    global _WORKER
    _WORKER = (Schemas(), known_regions, prepare)


def _assess_part_anywhere(src: readers.SourceFile, part: Any, known_regions: dict[str, str],
                          prepare: Prepare | None = None) -> tuple[list[Any], int, str]:
    """_assess_part on a Dask worker, which has no pool initializer: set up on first use.
    ``prepare`` arrives unpickled with every task, so it is swapped in without compiling
    the schemas again; they are compiled once per worker (and again only for other regions)."""
    global _WORKER
    if _WORKER is None or _WORKER[1] != known_regions:
        _init_worker(known_regions, prepare)
    else:
        _WORKER = (_WORKER[0], known_regions, prepare)
    return _assess_part(src, part)


def _assess_part(src: readers.SourceFile, part: Any, *, count_lines: bool = True) -> tuple[list[Outcome | tuple[Any, ...]], int, str]:
    """Outcomes of one part. A clean record travels back as a bare
    (line or row, byte offset or None, key) tuple: pickling is the parallel bottleneck.
    With a ``prepare`` function, the tuple carries its result too."""
    assert _WORKER is not None
    compiled, regions, prepare = _WORKER
    out: list[Outcome | tuple[Any, ...]] = []
    gate, check, key_fields = compiled.gate[src.kind], CHECKS[src.kind], _KEY_FIELDS[src.kind]
    refs = Deferred(regions)
    for raw in readers.read(src, part, fast=True):
        if raw.__class__ is tuple:
            # Fast path: a parsed record, (line or row, byte offset or None, data). Most records are clean: no per-record objects.
            line, offset, data = raw
            if data.__class__ is dict and gate.is_valid(data):
                if not check(data, refs):
                    out.append(_clean(src.kind, line, offset, _key_of(data, key_fields), data, refs.take(), prepare))
                    continue
                refs.pending = []
            if src.fmt == "parquet":
                raw = readers.RawRecord(data, row=line)
            else:
                raw = readers.RawRecord(data, line=line, byte_offset=offset)
        o = assess(src.kind, raw, compiled, regions)
        if not o.issues and not o.gate_disagreed:  # line for text formats, row otherwise
            out.append(_clean(src.kind, o.line if o.line is not None else o.row, o.byte_offset, o.key, o.data, o.pending, prepare))
        else:
            out.append(o)
    lines = 0
    if src.fmt == "jsonl" and count_lines:  # the lines of the part, blank ones included, to number the next part's
        with src.path.open("rb") as fh:
            fh.seek(part[0])
            remaining = part[1] - part[0]
            while remaining > 0:
                chunk = fh.read(min(remaining, 1 << 22))
                lines += chunk.count(b"\n")
                remaining -= len(chunk)
    return out, lines, src.encoding


def _assess_ranges(src: readers.SourceFile, ranges: list[tuple[int, int]]) -> list[list[Outcome | tuple[Any, ...]]]:
    """Outcomes of some runs of lines (byte ranges) of a JSON Lines file: the lines a
    ``LineCache`` did not know. Lines are numbered from each range's start."""
    return [_assess_part(src, r, count_lines=False)[0] for r in ranges]  # the main process numbers these lines itself


def _clean(kind: str, position: int | None, offset: int | None, key: Any, data: dict[str, Any],
           pending: list[tuple[str, ...]] | None, prepare: Prepare | None) -> tuple[Any, ...]:
    """A record whose own content is valid, as it travels back from a worker: (position,
    byte offset, key) alone when that is all the main process needs; else also the
    ``prepare`` result, the references still to resolve in record order,
    and a task's selected USCCs (results are checked against them)."""
    if prepare is None and pending is None and kind != "inspection_tasks":
        return (position, offset, key)
    return (position, offset, key, None if prepare is None else prepare(kind, data), pending,
            [s["uscc"] for s in data.get("selections", [])] if kind == "inspection_tasks" else None)


class LineCache:
    """What validation found for each clean line of the JSON Lines files last time,
    by the line's BLAKE2 digest: a nightly build validates (and judges) again only
    the lines that changed. A cached line gives the worker's very result (key,
    ``prepare`` value, references to resolve, a task's selections); the checks
    between records (duplicates, references, a result's task) run again for all.

    Valid only for the same code, schemas and ``prepare`` (its ``salt()``, e.g. the
    policy): anything else starts afresh. One file per input file: the entries
    as one pickle, then the deltas later runs appended (see ``keep``). A file
    written whole replaces the old one only after a complete validation,
    atomically; an unreadable one is ignored, a torn delta ends the reading."""

    VERSION = 2
    MODULES = ("validate", "readers", "checks", "normalise", "rules", "publish", "records", "schema_errors")
    # A night adds the entries of its new lines to the end of a file instead of writing it
    # all again (a city's cache is over a gigabyte); the file is rewritten only once entries of
    # lines no longer in the input would make up more than this share of it.
    STALE = 0.2
    _FRAME = 24  # a delta's head: its length (8 bytes) and its BLAKE2 digest (16)

    def __init__(self, folder: Path, salt: bytes = b"") -> None:
        from liushuang import __version__, publicity

        self.folder = folder
        h = hashlib.sha256(f"{self.VERSION}:{__version__}".encode() + salt)
        here = Path(__file__).parent
        for name in self.MODULES:
            h.update((here / f"{name}.py").read_bytes())
        h.update(Path(publicity.__file__ or "").read_bytes())
        for kind in schemas.KINDS:
            h.update(orjson.dumps(schemas.load(kind), option=orjson.OPT_SORT_KEYS))
        h.update(orjson.dumps(schemas.load(schemas.COMMON), option=orjson.OPT_SORT_KEYS))
        self.salt = h.hexdigest()
        self.kept: set[str] = set()            # input files validated with the cache
        self.written: dict[Path, Path] = {}    # cache file -> its new version, put in place by save()
        self.held: dict[str, tuple[int, int]] = {}  # input file -> (entries its cache file held, where its last whole delta ends)
        self.appended = 0                      # entries added to the end of cache files
        self.rewritten = 0                     # cache files written whole
        self.hits = 0
        self.misses = 0

    def _path(self, name: str) -> Path:
        return self.folder / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".lines")

    def load(self, src: readers.SourceFile) -> dict[bytes, tuple[Any, ...]]:
        """The entries for ``src``: the file's base, then the deltas later nights appended.
        A delta cut short by a killed run (its length or digest wrong) ends the reading:
        what came before it stands."""
        self.held.pop(src.name, None)
        try:
            with open(self._path(src.name), "rb") as fh:
                head = pickle.load(fh)
                if head != [self.VERSION, self.salt, src.name]:
                    return {}
                entries = pickle.load(fh)
                if not isinstance(entries, dict):
                    return {}
                end = fh.tell()
                while len(frame := fh.read(self._FRAME)) == self._FRAME:
                    payload = fh.read(int.from_bytes(frame[:8], "little"))
                    if _line_digest(payload) != frame[8:]:
                        break
                    entries.update(pickle.loads(payload))
                    end = fh.tell()
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError, AttributeError, ImportError, IndexError):
            return {}
        self.held[src.name] = (len(entries), end)
        return entries

    def keep(self, src: readers.SourceFile, entries: dict[bytes, tuple[Any, ...]], added: dict[bytes, tuple[Any, ...]]) -> None:
        """What the cache holds for ``src`` from now on: ``entries``, of which ``added``
        were not in what ``load`` gave. Added at the end of the file when its stale entries
        stay few, else written whole beside its final name (so a city's entries are not all
        held in memory until validation ends) and put in place by ``save``."""
        self.kept.add(src.name)
        held, end = self.held.get(src.name, (None, 0))
        if held is not None and held - (len(entries) - len(added)) <= self.STALE * len(entries):
            if not added:
                return
            # Lines seen for the first time; an entry is true of its line whatever this run's outcome.
            payload = pickle.dumps(added, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                with open(self._path(src.name), "r+b") as fh:
                    fh.truncate(end)  # a delta a killed run cut short goes
                    fh.seek(end)
                    fh.write(len(payload).to_bytes(8, "little") + _line_digest(payload) + payload)
            except OSError:
                pass  # gone since it was loaded, or not writable: written whole below
            else:
                self.appended += len(added)
                return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(src.name)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with open(tmp, "wb") as fh:
            pickle.dump([self.VERSION, self.salt, src.name], fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(entries, fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.written[path] = tmp
        self.rewritten += 1

    def save(self) -> None:
        """After a complete validation: put the files written by ``keep`` in place and remove
        those of files no longer in the input (and what killed runs left half-written)."""
        for path, tmp in self.written.items():
            os.replace(tmp, path)
        self.written = {}
        if not self.folder.exists():
            return
        wanted = {self._path(name).name for name in self.kept}
        for old in self.folder.iterdir():
            if old.name not in wanted and (old.suffix == ".lines" or old.name.startswith(".")):
                old.unlink(missing_ok=True)


def _line_digest(line: bytes) -> bytes:
    return hashlib.blake2b(line, digest_size=16).digest()


_LINE = (1 << 40) - 1


class _KeyIndex:
    """Keys seen so far, for duplicates and references between kinds."""

    def __init__(self) -> None:
        # Where each key was first seen, as one int: the file's index << 40 | its line or row
        # (a tuple of two ints takes three objects per record; a province has ten million).
        self.seen: dict[str, dict[Any, int]] = {k: {} for k in schemas.KINDS}
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
                 progress: bool | None = None, workers: int | None = None) -> None:
        self.policy = policy or load_policy()
        self.compiled = Schemas()
        self.quarantine_dir = quarantine_dir
        self.progress = progress
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._prepare: Prepare | None = None
        self._settle: Callable[[str, Any], Any] | None = None
        self._cache: LineCache | None = None
        self.records = 0     # records read so far by validate_dir
        self.by_workers = 0  # of which assessed by worker processes (not taken from the cache, nor read here)

    def worker_share(self) -> float:
        """The share of the records read so far that worker processes assessed: low when
        validation runs on one core (small files, or lines taken from the cache)."""
        return self.by_workers / self.records if self.records else 0.0

    def validate_dir(self, data_dir: str | Path | RemotePath, sink: Sink | None = None, prepare: Prepare | None = None,
                     cache: LineCache | None = None, on_kind: Callable[[str], None] | None = None) -> Report:
        """Validate every file of ``data_dir``; each accepted record goes to ``sink``
        as ``sink(kind, record)``, or as ``sink(kind, prepare(kind, record))`` when
        ``prepare`` is given (then run where the record is assessed: in parallel;
        a ``prepare`` with a ``settle(kind, value)`` method has its value settled
        in the main process). With a ``cache`` (and a ``prepare``), JSON Lines
        lines validated by an earlier run are not validated again; the cache is
        saved when validation completes.

        ``on_kind(kind)`` is called once for every kind of ``schemas.KINDS``, in that
        order, as soon as the sink has had all of that kind's records (a kind without
        files included): the build starts work that needs only the kinds done."""
        data_dir = location(data_dir)
        self.records = self.by_workers = 0
        self._prepare = prepare
        self._settle = getattr(prepare, "settle", None)
        self._cache = cache if prepare is not None and sink is not None else None
        started = time.perf_counter()
        report = Report(str(data_dir), quarantine_dir=str(self.quarantine_dir) if self.quarantine_dir else None)
        if not data_dir.is_dir():
            report.issues.append(Issue("file-unreadable", f"数据目录“{data_dir}”不存在或不是目录", file=str(data_dir)))
            return report
        if self.quarantine_dir is not None and self.quarantine_dir.resolve() == data_dir.resolve():
            raise ValueError(f"隔离目录不能是数据目录本身（{data_dir}）：隔离文件与输入文件同名，会覆盖输入")
        found, file_issues = readers.discover(data_dir)
        report.issues.extend(file_issues)
        index = _KeyIndex()
        quarantine = _Quarantine(self.quarantine_dir)
        sources = [s for kind in schemas.KINDS for s in found[kind]]
        total_bytes = sum(readers.file_size(s.path) for s in sources)
        # Millions of records pass through here, none in a reference cycle: the cyclic
        # collector would only walk them again and again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            with Progress("校验", total_bytes, enabled=self.progress) as bar:
                announced = 0  # kinds whose records have all gone to the sink, in KINDS order
                for file_index, src in enumerate(sources):
                    while on_kind is not None and schemas.KINDS[announced] != src.kind:
                        on_kind(schemas.KINDS[announced])
                        announced += 1
                    stats = FileStats(src.name, src.kind, src.fmt, size=readers.file_size(src.path))
                    report.files.append(stats)
                    self._validate_file(file_index, src, stats, report, index, quarantine, sink, bar)
                while on_kind is not None and announced < len(schemas.KINDS):
                    on_kind(schemas.KINDS[announced])
                    announced += 1
        finally:
            if collecting:
                gc.enable()
            quarantine.close()
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        if self._cache is not None:
            self._cache.save()
        report.seconds = time.perf_counter() - started
        return report

    # --- producing outcomes in file order ---------------------------------------------

    def _outcomes(self, src: readers.SourceFile, sink: Sink | None, bar: Progress) -> Iterator[Outcome | tuple[Any, ...]]:
        size = readers.file_size(src.path)
        # With a sink (the site build), a clean JSON Lines record is parsed again here from
        # its bytes rather than pickled back from the worker: orjson is faster than pickle.
        on_cluster = current_engine() is not None  # on a Dask cluster every file goes out in parts
        prepare = self._prepare
        parallel = ((self.workers > 1 or on_cluster) and (sink is None or prepare is not None or src.fmt == "jsonl")
                    and size >= (0 if on_cluster else PARALLEL_MIN_BYTES)
                    and src.fmt in ("jsonl", "parquet"))
        if not parallel:
            start = bar.done
            for n, raw in enumerate(readers.read(src), 1):
                if not n & 0x3FFF and raw.byte_offset is not None:
                    bar.advance(start + raw.byte_offset - bar.done)
                yield assess(src.kind, raw, self.compiled, self.policy.known_regions)
            bar.advance(start + size - bar.done)
            return
        client = current_engine()
        if self._pool is None and client is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_init_worker, initargs=(self.policy.known_regions, prepare))
        if self._cache is not None and client is None and src.fmt == "jsonl":
            yield from self._cached_outcomes(src, bar)
            return
        part_list = readers.parts(src, PART_BYTES)
        task = dataclasses.replace(src, columns=None)
        if src.fmt == "parquet":
            src.columns = readers.parquet_columns(src)
        line_base = 0
        row_base = 0
        if client is not None:  # a Dask cluster: each part is a task, retried if its worker dies
            futures = [client.submit(_assess_part_anywhere, task, part, self.policy.known_regions, prepare, pure=False, retries=RETRIES)
                       for part in part_list]
        else:
            futures = [self._pool.submit(_assess_part, task, part) for part in part_list]
        for part, future in zip(part_list, futures):
            outcomes, lines, encoding = future.result()
            if part == part_list[0]:
                src.encoding = encoding
            blob = b""
            if sink is not None and prepare is None:  # JSON Lines: the part's bytes, to hand the clean records to the sink
                with src.path.open("rb") as fh:
                    fh.seek(part[0])
                    blob = fh.read(part[1] - part[0])
            for item in outcomes:
                if item.__class__ is tuple:  # a clean record (see _clean), renumbered, with what the sink takes
                    position = item[0] + (line_base if src.fmt == "jsonl" else row_base)
                    if sink is None:
                        yield (position, *item[1:])
                        continue
                    if prepare is not None:
                        value = item[3]
                    else:  # JSON Lines: the record parsed again from its bytes
                        at = item[1] - part[0]
                        end = blob.find(b"\n", at)
                        value = orjson.loads(blob[at:end if end >= 0 else len(blob)])
                    yield (position, item[1], item[2], value, *item[4:])
                    continue
                yield _renumbered(item, line_base, row_base)
            line_base += lines
            row_base += len(outcomes)
            self.by_workers += len(outcomes)
            bar.advance(size / len(part_list))

    def _cached_outcomes(self, src: readers.SourceFile, bar: Progress) -> Iterator[Outcome | tuple[Any, ...]]:
        """``_outcomes`` of a JSON Lines file with a ``LineCache``: the main process reads
        the file and takes each known line's result from the cache; the workers assess
        only the others, in runs of consecutive lines. Same outcomes, same order."""
        assert self._cache is not None and self._pool is not None
        known = self._cache.load(src)
        with src.path.open("rb") as fh:
            src.encoding = "utf-8-sig" if fh.read(3) == readers.UTF8_BOM else "utf-8"
        fresh: dict[bytes, tuple[Any, ...]] = {}
        added: dict[bytes, tuple[Any, ...]] = {}  # the entries of lines the cache did not know
        plan: list[tuple[Any, ...] | bytes] = []  # a cached item, or the digest of a line the workers assess
        runs: list[tuple[int, int, int]] = []     # (first byte, end byte, number of the line before the run)
        size = readers.file_size(src.path)
        line_no = 0
        with src.path.open("rb") as fh:
            for part in readers.parts(src, PART_BYTES):
                lines = fh.read(part[1] - part[0]).split(b"\n")
                if not lines[-1]:
                    lines.pop()  # what follows the part's last newline: not a line
                start = part[0]
                for line in lines:  # each without its newline
                    at = start
                    start += len(line) + 1
                    line_no += 1
                    if not line or line.isspace():
                        continue
                    digest = _line_digest(line)
                    hit = None if line_no == 1 and line.startswith(readers.UTF8_BOM) else known.get(digest)
                    if hit is not None:
                        fresh[digest] = hit
                        plan.append((line_no, at, *hit))
                        continue
                    plan.append(digest)
                    if runs and runs[-1][1] == at and at - runs[-1][0] < PART_BYTES // 4:
                        runs[-1] = (runs[-1][0], start, runs[-1][2])
                    else:
                        runs.append((at, start, line_no - 1))
                bar.advance(size * 0.5 / max(1, size // PART_BYTES + 1))
        task = dataclasses.replace(src, columns=None)
        batches: list[list[tuple[int, int, int]]] = [[]]
        acc = 0
        for run in runs:
            if acc >= PART_BYTES // 4:
                batches.append([])
                acc = 0
            batches[-1].append(run)
            acc += run[1] - run[0]
        futures = [self._pool.submit(_assess_ranges, task, [(a, b) for a, b, _ in batch]) for batch in batches if batch]

        def assessed() -> Iterator[tuple[int, Outcome | tuple[Any, ...]]]:
            for batch, future in zip(batches, futures):
                for (_, _, base), outcomes in zip(batch, future.result()):
                    for item in outcomes:
                        yield base, item

        pending = assessed()
        self._cache.hits += len(plan) - sum(1 for p in plan if p.__class__ is bytes)
        for entry in plan:
            if entry.__class__ is not bytes:
                yield entry  # (position, offset, key, prepared, references, selections), as a worker's
                continue
            self._cache.misses += 1
            self.by_workers += 1
            base, item = next(pending)
            if item.__class__ is tuple:
                fresh[entry] = added[entry] = item[2:]  # type: ignore[index]
                yield (item[0] + base, item[1], item[2], item[3], *item[4:])  # type: ignore[index]
                continue
            assert isinstance(item, Outcome)
            yield _renumbered(item, base, 0)
        bar.advance(size * 0.5)
        self._cache.keep(src, fresh, added)

    # --- consuming them: cross-record checks, counts, quarantine, sink ---------------------

    def _validate_file(self, file_index: int, src: readers.SourceFile, stats: FileStats, report: Report,
                       index: _KeyIndex, quarantine: _Quarantine, sink: Sink | None, bar: Progress) -> None:
        kind = src.kind
        key_fields = schemas.key_fields(kind)
        seen = index.seen[kind]
        rejected_keys = index.rejected.get(kind)
        kstats = report.kinds[kind]
        try:
            for o in self._outcomes(src, sink, bar):
                stats.read += 1
                self.records += 1
                if o.__class__ is tuple:
                    # Fast path for the records a worker found valid in themselves: (position, offset,
                    # key[, sink value][, references to resolve, a task's selections]).
                    position, offset, key = o[:3]
                    pending = o[4] if len(o) > 4 else None
                    problems = [Issue(slug, msg, pointer=ptr) for slug, ptr, msg in resolve(pending, index)] if pending else None
                    if not problems and (key is None or key not in seen):
                        if key is not None:
                            seen[key] = file_index << 40 | position
                        stats.accepted += 1
                        kstats.accepted += 1
                        if kind == "inspection_tasks" and isinstance(key, str):
                            index.selections[key] = frozenset(o[5] or ())
                        if sink is not None:
                            sink(kind, o[3] if self._settle is None else self._settle(kind, o[3]))
                        continue
                    # A broken reference or a duplicate: the full path reports it (the data is fetched again for the quarantine).
                    line, row = (position, None) if src.fmt == "jsonl" else (None, position)
                    o = _clean_outcome(line, row, offset, key)
                    o.issues = problems or []
                issues = o.issues
                if o.gate_disagreed:
                    report.gate_disagreements += 1
                if o.pending:
                    issues += [Issue(slug, msg, pointer=ptr) for slug, ptr, msg in resolve(o.pending, index)]
                key = o.key
                record_id = None
                if key is not None:
                    record_id = key if isinstance(key, str) else "/".join(key)
                    first = seen.get(key)
                    if first is not None:
                        where = report.files[first >> 40].name
                        issues.append(Issue("duplicate-key", f"与 {where} 第 {first & _LINE} 行/条的记录重复（{record_id}）；保留先出现的一条",
                                            pointer="/" + key_fields[0]))
                        key = None  # the first occurrence keeps the key's status
                    else:
                        seen[key] = file_index << 40 | (o.line or o.row or 0)
                if issues:
                    for issue in issues:
                        issue.file, issue.kind, issue.record_id = src.name, kind, record_id
                        issue.line = issue.line or o.line
                        issue.row = issue.row or o.row
                        if issue.byte_offset is None:
                            issue.byte_offset = o.byte_offset
                    report.issues.extend(issues)
                    stats.rejected += 1
                    kstats.rejected += 1
                    if rejected_keys is not None and key is not None:
                        rejected_keys.add(key)
                    data = o.data if o.has_data else readers.fetch(src, o.line, o.row, o.byte_offset)
                    quarantine.write(kind, src.name, o, data, record_id, issues)
                else:
                    stats.accepted += 1
                    kstats.accepted += 1
                    if kind == "inspection_tasks" and isinstance(key, str):
                        index.selections[key] = frozenset(s["uscc"] for s in o.data.get("selections", []))
                    if sink is not None:
                        if self._prepare is None:
                            sink(kind, o.data)
                        else:
                            value = self._prepare(kind, o.data)
                            sink(kind, value if self._settle is None else self._settle(kind, value))
        except readers.ReadError as exc:
            report.issues.append(exc.issue)
        if src.columns is not None:
            report.issues.extend(_column_issues(src))
        stats.encoding = src.encoding
        kstats.read += stats.read  # counted independently of the verdicts: conservation is a real check


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
            for kind in schemas.KINDS:  # only the files a previous run wrote, never anything else
                (directory / f"{kind}.jsonl").unlink(missing_ok=True)

    def write(self, kind: str, file: str, o: Outcome, data: Any, record_id: str | None, issues: list[Issue]) -> None:
        if self.directory is None:
            return
        fh = self.files.get(kind)
        if fh is None:
            fh = self.files[kind] = open(self.directory / f"{kind}.jsonl", "wb")
        entry: dict[str, Any] = {"file": file, "line": o.line, "row": o.row, "byte_offset": o.byte_offset,
                                 "record_id": record_id,
                                 "errors": [{"rule": i.rule, "pointer": i.pointer, "message": i.message} for i in issues],
                                 "record": data}
        fh.write(orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n")

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
