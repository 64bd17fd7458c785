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
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import orjson


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

    __slots__ = ("blob", "hot")
    FIELDS: ClassVar[tuple[str, ...]] = ()
    AT: ClassVar[dict[str, int]] = {}

    def __init__(self, blob: bytes, hot: tuple[Any, ...]) -> None:
        self.blob = blob
        self.hot = hot

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
COMPACT: dict[str, type[Record]] = {"penalties": DecisionRecord, "licenses": DecisionRecord,
                                    "inspection_results": ResultRecord, "entities": EntityRecord}
# Values that repeat across records (departments, dates, task ids): one string object each.
_SHARED_FIELDS = frozenset({"decided_on", "published_on", "authority", "task_id", "completed_on"})


def pack(kind: str, public: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The kept fields (only those present) and the JSON of a public form, as a
    worker sends them to the main process (``unpack`` makes the Record there)."""
    fields = COMPACT[kind].FIELDS
    return {f: public[f] for f in fields if f in public}, orjson.dumps(public)


class Unpacker:
    """Makes Records in the main process, sharing one string object per repeated value."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}

    def __call__(self, kind: str, hot: dict[str, Any], blob: bytes) -> Record:
        cls = COMPACT[kind]
        strings = self._strings
        values = []
        for f in cls.FIELDS:
            v = hot.get(f, MISSING)
            if f in _SHARED_FIELDS and v.__class__ is str:
                v = strings.setdefault(v, v)
            values.append(v)
        return cls(blob, tuple(values))


def plain(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a dict, decoded once (a Record), or the dict itself."""
    return rec.to_dict() if isinstance(rec, Record) else rec  # type: ignore[return-value]

