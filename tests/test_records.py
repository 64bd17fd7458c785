"""Published records kept compact (generator/records.py): they read like the dicts they replace."""

from __future__ import annotations

import datetime as dt
import pickle

import orjson
import pytest
from liushuang.generator.publish import Judge, Publisher
from liushuang.generator.records import (
    MISSING,
    DecisionRecord,
    Record,
    Unpacker,
    pack,
    plain,
    spill_json,
    spilled,
)

from liushuang.formats import RawJSON, json_default
from liushuang.policy import load_policy

PENALTY = {"decision_number": "连市监罚〔2025〕1号", "decided_on": "2025-03-01", "authority": "大连市市场监督管理局",
           "subject_name": "大连某某有限公司", "uscc": "91210200MA0000000X", "penalty_content": "罚款", "fine_amount_wan": 0.5,
           "published_on": None}


def _record(public: dict) -> Record:
    hot, blob = pack("penalties", public)
    return Unpacker()("penalties", hot, blob)


def test_a_record_reads_like_its_dict() -> None:
    rec = _record(PENALTY)
    assert isinstance(rec, DecisionRecord)
    assert rec == PENALTY and PENALTY == rec.to_dict()
    assert list(rec) == list(PENALTY) and len(rec) == len(PENALTY)
    assert rec["decision_number"] == PENALTY["decision_number"]   # kept aside
    assert rec["penalty_content"] == "罚款"                         # decoded from the JSON
    assert rec.get("published_on", "x") is None                      # present, null: not the default
    assert rec.get("revoked_on", "x") == "x"                         # absent and not kept
    assert "published_on" in rec and "fine_amount_wan" in rec and "revoked_on" not in rec
    assert dict(rec.items()) == PENALTY and plain(rec) == PENALTY and plain(PENALTY) is PENALTY
    with pytest.raises(KeyError):
        rec["revoked_on"]


def test_a_kept_field_the_record_lacks_is_missing_as_in_a_dict() -> None:
    public = {k: v for k, v in PENALTY.items() if k != "subject_name"}
    rec = _record(public)
    assert rec.hot[DecisionRecord.AT["subject_name"]] is MISSING
    assert "subject_name" not in rec and rec.get("subject_name") is None and rec.get("subject_name", "—") == "—"
    with pytest.raises(KeyError):
        rec["subject_name"]
    again = pickle.loads(pickle.dumps(rec))
    assert type(again) is DecisionRecord and again.hot[DecisionRecord.AT["subject_name"]] is MISSING  # the same sentinel
    assert again == rec and again.blob == rec.blob


def test_a_record_is_written_as_the_json_it_holds() -> None:
    rec = _record(PENALTY)
    assert orjson.dumps([rec], default=json_default) == b"[" + orjson.dumps(PENALTY) + b"]"


def test_repeated_values_share_one_string() -> None:
    unpack = Unpacker()
    a, b = (unpack("penalties", *pack("penalties", {**PENALTY, "decision_number": n})) for n in ("甲1号", "甲2号"))
    assert a["authority"] is b["authority"] and a["decided_on"] is b["decided_on"]
    assert a["uscc"] is b["uscc"] and a["subject_name"] is b["subject_name"]  # an entity's decisions share its code and name
    entity = unpack("entities", *pack("entities", {"uscc": "91210200MA0000000X", "name": "大连某某有限公司"}))
    assert entity["uscc"] is a["uscc"] and entity["name"] is a["subject_name"]


def test_the_judge_sends_compact_kinds_as_bytes_and_settles_them_by_the_build_date() -> None:
    policy = load_policy()
    penalty = {**PENALTY, "subject_category": "法人及非法人组织", "procedure": "普通程序", "status": "有效",
               "penalty_kinds": ["罚款"], "published_on": "2025-03-05", "penalty_valid_until": "2025-09-01"}
    early, late = (Judge(Publisher(policy, day), ("penalties", "inspection_tasks")) for day in (dt.date(2025, 4, 1), dt.date(2030, 1, 1)))
    value = early("penalties", penalty)
    assert isinstance(value, bytes) and value == late("penalties", penalty)   # the date-free half
    reason, public = early.settle("penalties", pickle.loads(pickle.dumps(value)))
    assert reason is None and isinstance(public, DecisionRecord)
    assert public == early.publisher.public_form("penalties", penalty)
    reason, public = late.settle("penalties", value)
    assert reason == "expired" and public is None
    # A kind kept as a dict (tasks) settles to the public form's dict.
    task = {"task_id": "T1", "task_name": "抽查"}
    reason, public = early.settle("inspection_tasks", early("inspection_tasks", task))
    assert reason is None and public == task and type(public) is dict
    # A task's frame comes as its members' JSON, which the main process keeps without decoding.
    members = [{"uscc": "91210200MA0000000X", "stratum": "A"}, {"uscc": "91210200MA0000001X", "stratum": "B"}]
    framed = {**task, "frame": {"size": 2, "members": members, "hash": "ab"}}
    value = early("inspection_tasks", framed)
    assert value.endswith(b"\n" + orjson.dumps(members)) and value.count(b"91210200MA0000000X") == 1
    reason, public = early.settle("inspection_tasks", value)
    assert isinstance(public["frame"]["members"], RawJSON) and list(public["frame"]) == ["size", "members", "hash"]
    assert orjson.dumps(public, default=json_default) == orjson.dumps(framed)
    # A judge goes to the workers without the main process's string table.
    early.settle("penalties", value)
    assert pickle.loads(pickle.dumps(early))._unpack is None


def test_inside_a_build_the_json_is_in_the_spill_file_not_on_the_heap(tmp_path) -> None:
    with spilled(tmp_path) as spill:
        rec = _record(PENALTY)
        frame = spill_json(b'[{"uscc":"91210200MA0000000X","stratum":"A"}]')
        assert rec._b.__class__ is int and spill.size == len(orjson.dumps(PENALTY)) + len(frame.blob)
        assert rec == PENALTY and rec["penalty_content"] == "罚款" and rec.blob == orjson.dumps(PENALTY)
        assert orjson.dumps({"r": rec, "f": frame}, default=json_default) == orjson.dumps({"r": PENALTY, "f": orjson.loads(frame.blob)})
        # To a Dask worker they go as the bytes themselves: readable where the file is not.
        again = pickle.loads(pickle.dumps(rec))
        assert again._b.__class__ is bytes and again == rec
        assert pickle.loads(pickle.dumps(frame)) == frame.blob and isinstance(pickle.loads(pickle.dumps(frame)), RawJSON)
        assert list(tmp_path.iterdir()) == []  # unlinked: a killed build leaves no file behind
        with pytest.raises(RuntimeError, match="already"), spilled(tmp_path):
            pass
    with pytest.raises(RuntimeError, match="after its build ended"):
        _ = rec.blob
    assert _record(PENALTY)._b.__class__ is bytes and isinstance(spill_json(b"[]"), RawJSON)  # outside a build


def test_a_forked_worker_reads_the_sealed_spill_and_cannot_write_to_it(tmp_path) -> None:
    import multiprocessing

    global _FORKED
    with spilled(tmp_path) as spill:
        _FORKED = [_record({**PENALTY, "decision_number": f"罚{i}"}) for i in range(1000)]
        spill.seal()
        with multiprocessing.get_context("fork").Pool(1) as pool:  # the worker shares the records, as page workers do
            assert pool.apply(_read_forked) == [f"罚{i}" for i in range(1000)]
            assert pool.map(_number, _FORKED[::100], chunksize=5) == [f"罚{i}" for i in range(0, 1000, 100)]  # or as bytes
            with pytest.raises(RuntimeError, match="only the process"):
                pool.apply(_put)
        late = _record(PENALTY)  # written after the fork: the worker's map does not reach it
        with multiprocessing.get_context("fork").Pool(1) as pool:
            assert pool.apply(_read_forked) == [f"罚{i}" for i in range(1000)]
        _FORKED = [late]
        with multiprocessing.get_context("fork").Pool(1) as pool:
            with pytest.raises(RuntimeError, match="past what its parent sealed"):
                pool.apply(_read_forked)
    _FORKED = []


_FORKED: list[Record] = []


def _read_forked() -> list[str]:
    return [r["penalty_content"] and orjson.loads(r.blob)["decision_number"] for r in _FORKED]


def _number(rec: Record) -> str:  # the record arrives pickled: its bytes
    return rec.to_dict()["decision_number"]


def _put() -> None:
    from liushuang.generator import records

    records._SPILL.put(b"x")
