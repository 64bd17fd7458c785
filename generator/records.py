"""Published records kept compact: the JSON of a record's public form, plus the
few fields that the indexes, lists and feeds read for every record.

A city publishes about a million decisions, results and entities; a province
ten times as many, and the build keeps every published record in memory
(``pages.SiteData``). A dict holds every field as its own Python object; the
JSON holds them in one bytes object (the city build's peak, README "Province").
It also spares the main process from decoding every record every night: the
workers that validate a record also serialise its public form, and the
validation cache (``validate.LineCache``) keeps those bytes.

A ``Record`` reads like a read-only dict. A field that is not kept aside is
decoded from the JSON on each access. Code that reads many fields of one record
takes ``plain(rec)`` first.

During a build the JSON itself is not on the heap either (``spilled``): it goes
to an unlinked file read through a memory map, and the record keeps where.
The main process then holds a few small objects per record; the bytes are in
the page cache, which the kernel can drop and re-read, and which forked page
workers share without copying (reading a bytes object on the heap writes its
reference count, which copies the memory page into the worker).
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import orjson

_forks = [0]  # how many forks lie between the main process and this one: a per-write getpid() costs a system call


def _forked() -> None:
    _forks[0] += 1


os.register_at_fork(after_in_child=_forked)


class Spill:
    """Bytes written once to an unlinked file and read back through a memory map.
    A reference is one int: the offset times 2**32 plus the length."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self._fh: Any = tempfile.TemporaryFile(dir=folder, prefix=".liushuang-spill-")  # gone when closed, or if killed
        self._size = 0
        self._pending = bytearray()  # written in runs of a megabyte: a write call per record costs more than the copy
        self._map: mmap.mmap | None = None
        self._mapped = 0
        self._forks = _forks[0]  # a forked worker reads what was sealed, and never writes

    def put(self, data: bytes) -> int:
        if _forks[0] != self._forks:
            raise RuntimeError("only the process that made a spill file writes to it")
        n = len(data)
        if n >= 1 << 32:
            raise ValueError("a value of 4 GiB or more")
        pending = self._pending
        pending += data
        if len(pending) >= 1 << 20:
            self._fh.write(pending)
            pending.clear()
        at, self._size = self._size, self._size + n
        return at << 32 | n

    def get(self, ref: int) -> bytes:
        at, n = ref >> 32, ref & 0xFFFFFFFF
        if at + n > self._mapped:
            self._remap()
        return self._map[at:at + n]  # type: ignore[index]

    def seal(self) -> None:
        """Map all that was written: call before forking workers that read it."""
        self._remap()

    def _remap(self) -> None:
        if self._fh is None:
            raise RuntimeError("a spilled record read after its build ended")
        if _forks[0] != self._forks:  # the write buffer copied by fork is not this process's to flush
            raise RuntimeError("a forked worker read past what its parent sealed")
        self._fh.write(self._pending)
        self._pending.clear()
        self._fh.flush()
        if self._map is not None:
            self._map.close()
        self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if self._size else None
        self._mapped = self._size

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        if self._fh is not None:
            self._fh.close()
        self._map, self._fh, self._mapped = None, None, 0


_SPILL: Spill | None = None  # the build's, while it runs (``spilled``)


@contextmanager
def spilled(folder: str | Path | None = None) -> Iterator[Spill]:
    """While inside, new records (``Unpacker``) and frames (``spill_json``) keep their
    JSON in a spill file in FOLDER. Records made inside must not be read after."""
    global _SPILL
    if _SPILL is not None:
        raise RuntimeError("a build is already spilling in this process")
    _SPILL = spill = Spill(folder)
    try:
        yield spill
    finally:
        _SPILL = None
        spill.close()


def _read(ref: int) -> bytes:
    if _SPILL is None:
        raise RuntimeError("a spilled record read after its build ended")
    return _SPILL.get(ref)


class SpilledJSON:
    """A JSON value kept in the spill file (a task's frame): written as is by the JSON
    writers (``formats.json_default`` reads ``blob``), pickled as the bytes themselves."""

    __slots__ = ("_ref",)

    def __init__(self, ref: int) -> None:
        self._ref = ref

    @property
    def blob(self) -> bytes:
        return _read(self._ref)

    def __reduce__(self) -> tuple[Any, ...]:
        from liushuang.formats import RawJSON

        return (RawJSON, (self.blob,))


def spill_json(data: bytes) -> Any:
    """``data`` kept in the build's spill file, or as it is outside a build."""
    from liushuang.formats import RawJSON

    return SpilledJSON(_SPILL.put(data)) if _SPILL is not None else RawJSON(data)


class _Missing:
    """A kept field that the record does not have: reading it raises KeyError, as a dict would."""

    def __reduce__(self) -> str:
        return "MISSING"  # pickled by name: the same object after unpickling

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Record(Mapping[str, Any]):
    """One published record: ``blob`` is its public form as JSON, ``hot`` the
    values of the class's ``FIELDS`` (``MISSING`` when absent)."""

    __slots__ = ("_b", "hot")
    FIELDS: ClassVar[tuple[str, ...]] = ()
    AT: ClassVar[dict[str, int]] = {}

    def __init__(self, blob: bytes | int, hot: tuple[Any, ...]) -> None:
        self._b = blob  # the bytes, or where they are in the build's spill file
        self.hot = hot

    @property
    def blob(self) -> bytes:
        b = self._b
        return b if b.__class__ is bytes else _read(b)

    def __getitem__(self, key: str) -> Any:
        i = self.AT.get(key)
        if i is None:
            return orjson.loads(self.blob)[key]
        value = self.hot[i]
        if value is MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        i = self.AT.get(key)
        if i is None:
            return orjson.loads(self.blob).get(key, default)
        value = self.hot[i]
        return default if value is MISSING else value

    def __contains__(self, key: object) -> bool:
        i = self.AT.get(key) if isinstance(key, str) else None
        if i is None:
            return key in orjson.loads(self.blob)
        return self.hot[i] is not MISSING

    def __iter__(self) -> Iterator[str]:
        return iter(orjson.loads(self.blob))

    def __len__(self) -> int:
        return len(orjson.loads(self.blob))

    def keys(self) -> Any:
        return orjson.loads(self.blob).keys()

    def items(self) -> Any:
        return orjson.loads(self.blob).items()

    def values(self) -> Any:
        return orjson.loads(self.blob).values()

    def to_dict(self) -> dict[str, Any]:
        return orjson.loads(self.blob)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self.blob == other.blob or self.to_dict() == other.to_dict()
        return isinstance(other, Mapping) and self.to_dict() == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # like a dict

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.blob, self.hot))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.blob[:80]!r}…)"


def _kind(name: str, fields: tuple[str, ...]) -> type[Record]:
    cls = type(name, (Record,), {"__slots__": (), "FIELDS": fields, "AT": {f: i for i, f in enumerate(fields)},
                                 "__module__": __name__})
    return cls


# The fields read for every record: keys, dates, departments and names shown in
# lists, the entity a record belongs to (pages.SiteData, feeds, statistics, search shards).
DecisionRecord = _kind("DecisionRecord", ("decision_number", "decided_on", "published_on", "authority", "subject_name", "uscc"))
ResultRecord = _kind("ResultRecord", ("task_id", "uscc", "completed_on", "published_on", "entity_name"))
EntityRecord = _kind("EntityRecord", ("uscc", "name"))
DECISION_KINDS = ("penalties", "licenses")  # the 双公示 decisions: their pages and search documents read only themselves
COMPACT: dict[str, type[Record]] = {"penalties": DecisionRecord, "licenses": DecisionRecord,
                                    "inspection_results": ResultRecord, "entities": EntityRecord}
# Values that repeat across records (departments, dates, task ids, an entity's code and
# name on each of its decisions and results): one string object each.
_SHARED_FIELDS = frozenset({"decided_on", "published_on", "authority", "task_id", "completed_on", "uscc", "subject_name",
                            "entity_name", "name"})


def pack(kind: str, public: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The kept fields (only those present) and the JSON of a public form, as a
    worker sends them to the main process (``unpack`` makes the Record there)."""
    fields = COMPACT[kind].FIELDS
    return {f: public[f] for f in fields if f in public}, orjson.dumps(public)


class Unpacker:
    """Makes Records in the main process, sharing one string object per repeated value."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        # Per class: each kept field and whether its value is one to share (once per class, not per record).
        self._plans = {kind: (cls, tuple((f, f in _SHARED_FIELDS) for f in cls.FIELDS)) for kind, cls in COMPACT.items()}

    def __call__(self, kind: str, hot: dict[str, Any], blob: bytes) -> Record:
        cls, plan = self._plans[kind]
        share = self._strings.setdefault
        get = hot.get
        values = tuple([share(v, v) if shared and (v := get(f, MISSING)).__class__ is str else get(f, MISSING)
                        for f, shared in plan])
        return cls(_SPILL.put(blob) if _SPILL is not None else blob, values)


def plain(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a dict, decoded once (a Record), or the dict itself."""
    return rec.to_dict() if isinstance(rec, Record) else rec  # type: ignore[return-value]

