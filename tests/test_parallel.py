"""Parallel validation gives exactly the serial report and quarantine."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import validate
from liushuang.generator import validate as engine

from liushuang.synth.defects import ALL, JSON_ONLY
from liushuang.synth.generate import SynthConfig, generate, write_dataset


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_workers_do_not_change_the_report(tmp_path: Path, monkeypatch, fmt):
    defects = {k: 2 for k in ALL if fmt == "jsonl" or k not in JSON_ONLY}
    if fmt != "jsonl":
        defects.pop("record-parse", None)
    data = generate(SynthConfig(entities=800, years=2, seed=9, defects=defects))
    write_dataset(data, tmp_path / "d", fmt=fmt)
    if fmt == "parquet":  # several row groups, so there are several parts
        import pyarrow.parquet as pq

        for f in (tmp_path / "d").glob("*.parquet"):
            pq.write_table(pq.read_table(f), f, row_group_size=100)
    # Force the parallel path on small files, in many small parts.
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(engine, "PART_BYTES", 20_000)
    serial = validate(tmp_path / "d", workers=1, quarantine_dir=tmp_path / "q1")
    parallel = validate(tmp_path / "d", workers=2, quarantine_dir=tmp_path / "q2")
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k not in ("stats", "quarantine_dir")}  # noqa: E731
    assert strip(serial) == strip(parallel)
    assert serial.stats()["rejected"] > 0
    for q in sorted((tmp_path / "q1").glob("*.jsonl")):
        assert q.read_bytes() == (tmp_path / "q2" / q.name).read_bytes(), q.name


def test_results_are_checked_against_selections_sent_back_by_workers(tmp_path: Path, monkeypatch):
    """A task validated in a worker sends its selected USCCs back, so a result for an
    entity its task did not select is still caught when every file goes in parts."""
    import orjson

    data = generate(SynthConfig(entities=400, years=1, seed=4))
    write_dataset(data, tmp_path / "d")
    results = (tmp_path / "d" / "inspection_results.jsonl").read_bytes().splitlines()
    first = orjson.loads(results[0])
    task = next(t for t in data.records["inspection_tasks"] if t["task_id"] == first["task_id"])
    selected = {s["uscc"] for s in task["selections"]}
    outsider = next(e["uscc"] for e in data.records["entities"] if e["uscc"] not in selected)
    results[0] = orjson.dumps({**first, "uscc": outsider})
    (tmp_path / "d" / "inspection_results.jsonl").write_bytes(b"\n".join(results) + b"\n")
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(engine, "PART_BYTES", 20_000)
    for workers in (1, 2):
        report = validate(tmp_path / "d", workers=workers)
        found = [i for i in report.issues if i.kind == "inspection_results" and "抽中对象" in i.message]
        assert [(i.rule, i.line) for i in found] == [("ref-missing", 1)], workers


def _pid_and_square(job: int) -> tuple[int, int]:
    import os

    from liushuang.parallel import shared

    return os.getpid(), job * job + shared()


def test_recycled_workers_give_the_same_results_from_fresh_processes():
    from liushuang.parallel import fork_map

    jobs = list(range(12))
    plain = fork_map(_pid_and_square, jobs, 1, parallel=True, workers=2)
    recycled = fork_map(_pid_and_square, jobs, 1, parallel=True, workers=2, recycle=2)
    assert [r for _, r in plain] == [r for _, r in recycled] == [j * j + 1 for j in jobs]
    # Each worker is replaced after 2 jobs: 12 jobs take at least 6 processes, none runs more than 2.
    pids = Counter(pid for pid, _ in recycled)
    assert len({pid for pid, _ in plain}) <= 2 and len(pids) >= 6 and max(pids.values()) <= 2


def _waits_for_the_last(job: int) -> bool:
    import time

    from liushuang.parallel import shared

    flag = shared()
    if job == 39:
        flag.touch()
    if job != 0:
        return True
    deadline = time.monotonic() + 30
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return flag.exists()


def test_recycled_workers_do_not_wait_for_each_other(tmp_path: Path):
    """Job 0 holds one worker until job 39 has run: the other worker must go through
    jobs 1 to 39 meanwhile, replaced every 2 jobs. A pool per group of jobs would make
    each group wait for its slowest job, and job 0 would wait in vain."""
    from liushuang.parallel import fork_map

    done = fork_map(_waits_for_the_last, list(range(40)), tmp_path / "flag", parallel=True, workers=2, recycle=2)
    assert done == [True] * 40


def _fails_on(job: int) -> int:
    import os

    if job == 5:
        raise ValueError("job 5 is bad")
    if job == 7:
        os._exit(3)  # a worker that dies (as one killed for memory would)
    return job


@pytest.mark.parametrize("bad, error", [(5, ValueError), (7, "WorkerDied")])
def test_recycled_workers_report_a_failed_job(bad, error):
    from liushuang import parallel

    expected = parallel.WorkerDied if error == "WorkerDied" else error
    with pytest.raises(expected, match="job 5 is bad" if bad == 5 else "退出码 3"):
        parallel.fork_map(_fails_on, [0, 1, 2, bad, 3], None, parallel=True, workers=2, recycle=2)
