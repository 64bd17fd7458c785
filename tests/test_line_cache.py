"""The validation line cache of nightly builds (validate.LineCache): a night validates
again only the JSON Lines lines that changed, and its report, its decisions and the
site are exactly those of a validation without the cache."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import orjson
import pytest
from liushuang.generator import manifest, site
from liushuang.generator import validate as engine
from liushuang.generator.publish import Judge, Publisher
from liushuang.generator.site import STORE_KINDS

from liushuang.policy import load_policy
from liushuang.synth.defects import ALL
from liushuang.synth.generate import SynthConfig, generate, write_dataset

DAY = dt.date(2026, 11, 30)


@pytest.fixture
def parallel(monkeypatch):
    """Small files cut into many parts, as the workers see a city's."""
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(engine, "PART_BYTES", 20_000)


@pytest.fixture(scope="module")
def night1(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("night1")
    write_dataset(generate(SynthConfig(entities=400, years=2, seed=5, defects={k: 2 for k in ALL})), out)
    return out


def _validate(data: Path, cache: engine.LineCache | None, day: dt.date = DAY) -> tuple[dict, list, engine.LineCache | None]:
    policy = load_policy()
    publisher = Publisher(policy, day)
    judge = Judge(publisher, STORE_KINDS)
    sunk: list = []
    report = engine.Validator(policy, progress=False).validate_dir(data, sink=lambda kind, v: sunk.append((kind, v)), prepare=judge,
                                                                  cache=cache)
    out = report.to_dict()
    del out["stats"]["seconds"]
    return out, sunk, cache


def _edit(src: Path, dst: Path) -> dict[str, int]:
    """Night 2: edit a few penalties, break one line, and drop an inspection task
    (its results, unchanged lines, must now be rejected for their missing task)."""
    shutil.copytree(src, dst)
    lines = (dst / "penalties.jsonl").read_bytes().splitlines(keepends=True)
    edited = 0
    for i in range(0, len(lines), 17):
        try:
            rec = orjson.loads(lines[i])
        except orjson.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("penalty_content"), str):
            rec["penalty_content"] += "（更正）"
            lines[i] = orjson.dumps(rec) + b"\n"
            edited += 1
    lines[3] = lines[3][: len(lines[3]) // 2] + b"\n"  # truncated
    (dst / "penalties.jsonl").write_bytes(b"".join(lines))
    tasks = (dst / "inspection_tasks.jsonl").read_bytes().splitlines(keepends=True)
    dropped = orjson.loads(tasks[0])["task_id"]
    (dst / "inspection_tasks.jsonl").write_bytes(b"".join(tasks[1:]))
    results = [orjson.loads(x) for x in (dst / "inspection_results.jsonl").read_bytes().splitlines() if x.strip()]
    return {"edited": edited, "orphans": sum(1 for r in results if isinstance(r, dict) and r.get("task_id") == dropped)}


def test_a_cached_night_equals_an_uncached_one(tmp_path: Path, night1: Path, parallel):
    folder = tmp_path / "cache"
    first, _, cache = _validate(night1, engine.LineCache(folder))
    assert cache.hits == 0 and cache.misses > 1000
    # The same input again: every clean line comes from the cache, nothing changes.
    again, sunk_again, cache = _validate(night1, engine.LineCache(folder))
    assert cache.misses < 50 and cache.hits > 1000  # only lines with defects are assessed again
    uncached, sunk_uncached, _ = _validate(night1, None)
    assert again == uncached == first and sunk_again == sunk_uncached
    # Night 2: edits, a broken line, a task removed. Report and decisions equal the uncached run's.
    night2 = tmp_path / "night2"
    changes = _edit(night1, night2)
    assert changes["orphans"] > 0
    cached, sunk_cached, cache = _validate(night2, engine.LineCache(folder))
    uncached, sunk_uncached, _ = _validate(night2, None)
    assert cached == uncached and sunk_cached == sunk_uncached
    assert changes["edited"] <= cache.misses < changes["edited"] + 50
    assert uncached["rules"]["ref-missing"]["count"] >= changes["orphans"]


def test_the_build_date_is_applied_to_cached_lines(tmp_path: Path, night1: Path, parallel):
    """The cache keeps each record's timeline, not its decision: a later night withholds
    the penalties whose publicity period ended in between, as an uncached run does."""
    folder = tmp_path / "cache"
    _validate(night1, engine.LineCache(folder))
    later = dt.date(2029, 6, 1)
    _, cached, cache = _validate(night1, engine.LineCache(folder), later)
    _, uncached, _ = _validate(night1, None, later)
    assert cache.hits > 1000 and cached == uncached
    assert sum(1 for kind, (reason, _) in cached if reason == "expired") > sum(
        1 for kind, (reason, _) in _validate(night1, None)[1] if reason == "expired")


@pytest.mark.parametrize("damage", ["garbage", "other-policy", "other-file"])
def test_a_cache_that_does_not_fit_is_ignored(tmp_path: Path, night1: Path, parallel, damage):
    folder = tmp_path / "cache"
    _validate(night1, engine.LineCache(folder))
    salt = b""
    if damage == "garbage":
        for f in folder.glob("*.lines"):
            f.write_bytes(b"\x80\x05not a pickle")
    elif damage == "other-policy":
        salt = b"another policy"
    else:  # each file's entries are stored under its name: swapped, they are not taken
        files = sorted(folder.glob("*.lines"))
        first = files[0].read_bytes()
        files[0].write_bytes(files[1].read_bytes())
        files[1].write_bytes(first)
    report, sunk, cache = _validate(night1, engine.LineCache(folder, salt))
    assert report == _validate(night1, None)[0] and sunk == _validate(night1, None)[1]
    if damage != "other-file":
        assert cache.hits == 0
    else:
        assert cache.hits < cache.misses + 1000  # the two swapped files are assessed afresh


def test_nightly_builds_with_the_cache_equal_full_builds(tmp_path: Path, night1: Path, parallel):
    out = tmp_path / "site"
    site.build(night1, out, load_policy(), build_date=DAY, search=False, narrative=False)
    night2 = tmp_path / "night2"
    _edit(night1, night2)
    report = site.build(night2, out, load_policy(), build_date=DAY, search=False, narrative=False)
    assert report.validation_cache["hits"] > 1000 and report.validation_cache["misses"] < 200
    full = site.build(night2, tmp_path / "full", load_policy(), build_date=DAY, search=False, narrative=False, incremental=False)
    assert full.validation_cache == {} and full.counts == report.counts
    assert manifest.load(out) == {p: {**e} for p, e in manifest.load(tmp_path / "full").items()}


def test_the_cache_holds_only_the_current_files(tmp_path: Path, night1: Path, parallel):
    """A file gone from the input takes its cache file with it, and so does whatever a
    killed run left half-written; the cache files stay valid."""
    folder = tmp_path / "cache"
    data = tmp_path / "data"
    shutil.copytree(night1, data)
    _validate(data, engine.LineCache(folder))
    before = sorted(p.name for p in folder.iterdir())
    (folder / ".0123.lines.99999").write_bytes(b"half-written")
    (data / "feedback.jsonl").unlink()
    _, _, cache = _validate(data, engine.LineCache(folder))
    after = sorted(p.name for p in folder.iterdir())
    assert len(after) == len(before) - 1 and set(after) < set(before) and not any(n.startswith(".") for n in after)
    assert cache.misses < 50


def test_a_night_adds_its_new_lines_to_the_end_of_the_cache(tmp_path: Path, night1: Path, parallel, monkeypatch):
    """A night appends the entries of the lines it validated instead of writing the
    cache again; a delta cut short by a killed run costs only its own lines; once stale
    entries pass ``STALE``, the file is written whole again without them."""
    folder = tmp_path / "cache"
    _validate(night1, engine.LineCache(folder))
    path = engine.LineCache(folder)._path("penalties.jsonl")
    base = path.read_bytes()
    night2 = tmp_path / "night2"
    changes = _edit(night1, night2)
    cached, sunk, cache = _validate(night2, engine.LineCache(folder))
    assert cache.rewritten == 0 and 0 < cache.appended <= changes["edited"]  # an edit may break a line with a defect
    grown = path.read_bytes()
    assert grown.startswith(base) and len(grown) > len(base)  # the base untouched, a delta after it
    assert (cached, sunk) == _validate(night2, None)[:2]
    # The same night again: every edited line now comes from the delta.
    _, _, again = _validate(night2, engine.LineCache(folder))
    assert again.appended == 0 and again.misses == cache.misses - cache.appended
    # A delta cut short: its lines are assessed again, the report is the same, and they are appended anew.
    path.write_bytes(grown[:-3])
    torn, sunk_torn, after = _validate(night2, engine.LineCache(folder))
    assert (torn, sunk_torn) == (cached, sunk) and after.misses == cache.misses and after.appended == cache.appended
    assert path.read_bytes() == grown  # the torn delta replaced by a whole one
    # Stale entries beyond the share: the file is written whole, holding only tonight's lines.
    monkeypatch.setattr(engine.LineCache, "STALE", 0.0)
    _, _, rewrite = _validate(night2, engine.LineCache(folder))
    assert rewrite.rewritten >= 1 and rewrite.appended == 0
    assert len(path.read_bytes()) < len(grown)
    assert engine.LineCache(folder).load(engine.readers.SourceFile(night2 / "penalties.jsonl", "penalties", "jsonl", "penalties.jsonl")) \
        .keys() <= {engine._line_digest(x) for x in (night2 / "penalties.jsonl").read_bytes().split(b"\n")}


def test_a_cache_file_gone_since_it_was_loaded_is_written_whole(tmp_path: Path, night1: Path, parallel):
    folder = tmp_path / "cache"
    _validate(night1, engine.LineCache(folder))
    cache = engine.LineCache(folder)
    src = engine.readers.SourceFile(night1 / "penalties.jsonl", "penalties", "jsonl", "penalties.jsonl")
    entries = cache.load(src)
    assert entries
    cache._path(src.name).unlink()
    added = {b"\x00" * 16: next(iter(entries.values()))}
    cache.keep(src, {**entries, **added}, added)
    assert (cache.appended, cache.rewritten) == (0, 1)
    cache.save()
    assert cache.load(src) == {**entries, **added}


def test_each_kind_is_announced_once_its_records_are_all_sunk(tmp_path: Path, night1: Path, parallel):
    """``on_kind`` comes once per kind, in ``schemas.KINDS`` order, after the sink's last record
    of that kind and before any of a later kind: the build starts the decisions' pages on it.
    A kind without a file is announced too (here the assessments, removed)."""
    from liushuang import schemas

    data = tmp_path / "data"
    shutil.copytree(night1, data)
    (data / "assessments.jsonl").unlink()
    events: list[tuple[str, str]] = []
    policy = load_policy()
    judge = Judge(Publisher(policy, DAY), STORE_KINDS)
    validator = engine.Validator(policy, progress=False)
    validator.validate_dir(data, sink=lambda kind, v: events.append(("record", kind)), prepare=judge,
                           cache=engine.LineCache(tmp_path / "cache"), on_kind=lambda kind: events.append(("done", kind)))
    # The build's test for a core left idle: every record went through the workers; with the cache, only
    # the defective lines (never cached: they are assessed again every night), under the build's threshold.
    assert validator.worker_share() == 1.0
    validator.validate_dir(data, sink=lambda kind, v: None, prepare=judge, cache=engine.LineCache(tmp_path / "cache"))
    assert 0 < validator.worker_share() < site.EARLY_WORKER_SHARE and validator.records > 1000
    assert [k for what, k in events if what == "done"] == list(schemas.KINDS)
    assert {k for what, k in events if what == "record"} >= {"entities", "licenses", "penalties", "inspection_results"}
    for kind in schemas.KINDS:
        done = events.index(("done", kind))
        assert all(k != kind for what, k in events[done:] if what == "record"), f"{kind} record after its announcement"
        later = schemas.KINDS[schemas.KINDS.index(kind) + 1:]
        assert all(k not in later for what, k in events[:done] if what == "record"), f"a later kind's record before {kind}"
