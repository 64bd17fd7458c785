"""The Dask engine: validate, build and audit on a LocalCluster of two worker
processes give exactly what the local engine gives, even when a worker is
killed in the middle of a build (Dask runs its tasks again)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from liushuang.generator import manifest, site
from liushuang.generator.validate import Validator

from liushuang import parallel
from liushuang.cli import main
from liushuang.policy import load_policy

distributed = pytest.importorskip("distributed")
DAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def local_site(tmp_path_factory, clean_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("local") / "site"
    site.build(clean_dir, out, load_policy(), build_date=DAY)
    return out


def _files(out: Path) -> dict[str, bytes]:
    return {p: (out / p).read_bytes() for p in manifest.site_files(out)}


def test_dask_build_is_byte_identical(client, local_site: Path, clean_dir: Path, tmp_path: Path):
    calls = []
    real_map, real_submit = client.map, client.submit

    def counting_map(*args, **kw):
        calls.append(len(args[1]))
        return real_map(*args, **kw)

    def counting_submit(*args, **kw):  # a job sent with its own part of the data (fork_map's part)
        if args[0] is parallel._call:
            calls.append(1)
            parts.append(args[1].__name__)
        return real_submit(*args, **kw)

    parts: list[str] = []
    client.map, client.submit = counting_map, counting_submit
    try:
        with parallel.engine(client):
            site.build(clean_dir, tmp_path / "site", load_policy(), build_date=DAY)
    finally:
        del client.map, client.submit
    assert sum(calls) > 20  # the pages, downloads and search shards really went to the cluster
    # Each with its part of the site's data, not the whole of it.
    assert {"run_job", "_write_partition", "_index_job"} <= set(parts)
    assert _files(tmp_path / "site") == _files(local_site)


def test_dask_validation_is_identical(client, tmp_path: Path):
    from liushuang.synth.generate import SynthConfig, generate, write_dataset

    data = tmp_path / "bad"
    write_dataset(generate(SynthConfig(entities=300, years=1, seed=5, defects={"uscc-checksum": 3, "date-order": 2})), data)
    local = Validator(load_policy()).validate_dir(data).to_dict()
    submitted = []
    real_submit = client.submit

    def counting_submit(*args, **kw):
        submitted.append(args[0].__name__)
        return real_submit(*args, **kw)

    client.submit = counting_submit
    try:
        with parallel.engine(client):
            remote = Validator(load_policy()).validate_dir(data).to_dict()
    finally:
        del client.submit
    assert "_assess_part_anywhere" in submitted
    for d in (local, remote):
        d["stats"].pop("seconds")
    assert remote == local and local["stats"]["rejected"] >= 5


def test_dask_draws_audit_is_identical(client, clean_dir: Path):
    from liushuang.audit import run

    local = run.draws_report(clean_dir, load_policy(), resamples=99, seed=3)
    with parallel.engine(client):
        remote = run.draws_report(clean_dir, load_policy(), resamples=99, seed=3)
    assert remote.to_json() == local.to_json()


def test_dask_pairing_test_maps_over_ranges_of_entities(client):
    # Each job is sent its own entities' selections; the reduction on the client gives the local result.
    from liushuang.audit import stats as S
    from test_stats import pairing_case

    design, obs = pairing_case()
    local = S.pairing_test(design, obs, chunk=200)
    with parallel.engine(client):
        remote = S.pairing_test(design, obs, chunk=200)
    assert remote[1] == local[1] and local[1]["testable"] > 0
    assert [(r.pvalue, r.detail) for r in remote[0]] == [(r.pvalue, r.detail) for r in local[0]]


def test_dask_jobs_can_run_with_the_workers_objects_frozen_out_of_the_collector(client):
    # As forked workers do: a full collection during a re-derivation must not walk its data again.
    def frozen(job):
        import gc

        return gc.get_freeze_count()

    with parallel.engine(client):
        during = parallel.fork_map(frozen, [1, 2, 3, 4], {"shared": list(range(1000))}, parallel=True, frozen=True)
        sent = parallel.fork_map(frozen, [1, 2], {"shared": 1}, parallel=True, part=lambda data, job: (job, data), frozen=True)
        plain = parallel.fork_map(frozen, [1, 2], {"shared": 1}, parallel=True, part=lambda data, job: (job, data))
    assert all(n > 0 for n in during + sent) and plain == [0, 0]
    assert set(client.run(lambda: __import__("gc").get_freeze_count()).values()) == {0}  # unfrozen after each job


def test_killed_worker_mid_build_still_gives_the_same_site(client, local_site: Path, clean_dir: Path, tmp_path: Path):
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    out = tmp_path / "site"

    def kill_when_pages_appear():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            building = list(tmp_path.glob(".site.building-*"))
            if building and sum(1 for _ in building[0].rglob("index.html")) > 100:
                os.kill(victim, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_pages_appear)
    killer.start()
    with parallel.engine(client):
        site.build(clean_dir, out, load_policy(), build_date=DAY)
    killer.join()
    assert victim not in client.run(os.getpid).values()  # the worker really died (its nanny started a new one)
    assert _files(out) == _files(local_site)


def test_cli_engine_option(tmp_path: Path, clean_dir: Path, local_site: Path, client):
    address = client.scheduler.address
    result = CliRunner().invoke(main, ["build", str(clean_dir), "-o", str(tmp_path / "site"), "--build-date", "2026-11-30",
                                       "--engine", "dask", "--scheduler", address])
    assert result.exit_code == 0, result.output
    assert _files(tmp_path / "site") == _files(local_site)
    bad = CliRunner().invoke(main, ["validate", str(clean_dir), "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert bad.exit_code == 2 and "Dask" in bad.output


def test_dask_workers_read_the_data_from_a_url(client, local_site: Path, clean_dir: Path, tmp_path: Path):
    """DATA as an fsspec URL (``local://`` here: a real fsspec file system that other
    processes can open): the workers read their parts from it themselves."""
    from liushuang.locations import RemotePath

    url = f"local://{clean_dir}"
    seen = []
    real_submit = client.submit

    def recording_submit(fn, *args, **kw):
        if fn.__name__ == "_assess_part_anywhere":
            seen.append(args[0].path)
        return real_submit(fn, *args, **kw)

    client.submit = recording_submit
    try:
        with parallel.engine(client):
            remote = Validator(load_policy()).validate_dir(url).to_dict()
            site.build(url, tmp_path / "site", load_policy(), build_date=DAY)
    finally:
        del client.submit
    local = Validator(load_policy()).validate_dir(clean_dir).to_dict()
    assert seen and all(isinstance(p, RemotePath) for p in seen)
    for d in (local, remote):
        d["stats"].pop("seconds")
        d.pop("data_dir")
    assert remote == local
    assert _files(tmp_path / "site") == _files(local_site)


def test_dask_rebuild_over_a_site_links_what_did_not_change(client, local_site: Path, clean_dir: Path, tmp_path: Path):
    """A nightly build on Dask over the last site: each job gets only its part of the
    previous manifest, and still finds every unchanged page, year file and shard."""
    import shutil

    out = tmp_path / "site"
    shutil.copytree(local_site, out)
    with parallel.engine(client):
        report = site.build(clean_dir, out, load_policy(), build_date=DAY)
    assert report.linked == report.pages > 100
    assert len(report.search_reused) == len(report.search_shards)
    assert _files(out) == _files(local_site)


class _Cluster:
    """The test cluster, but with ``remote`` its first worker acts as if on another
    machine: it looks for the marker on its own disk, where the folder does not exist."""

    def __init__(self, client, remote: bool) -> None:
        self.client, self.remote = client, remote

    def __getattr__(self, name):
        return getattr(self.client, name)

    def run(self, fn, path, token):
        first, *others = sorted(self.client.run(os.getpid))
        away = self.client.run(fn, ("/nonexistent" if self.remote else "") + path, token, workers=[first])
        return away | self.client.run(fn, path, token, workers=others)


def test_a_build_refuses_dask_workers_that_cannot_see_its_folder(client, clean_dir: Path, tmp_path: Path):
    out = tmp_path / "site"
    site.build(clean_dir, out, load_policy(), build_date=DAY, search=False, narrative=False)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    beside = sorted(p.name for p in tmp_path.iterdir())
    with parallel.engine(_Cluster(client, remote=True)), pytest.raises(parallel.UnsharedFolder, match=r"看不到输出目录 .*（1/2 个节点"):
        site.build(clean_dir, out, load_policy(), build_date=DAY, search=False, narrative=False)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # the site is as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == beside  # no half-made folder, no marker, no spill file
    with parallel.engine(_Cluster(client, remote=False)):
        parallel.require_shared(tmp_path)  # every worker sees it: no error, and the marker is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == beside


def _part_size(job: int) -> int:
    return len(parallel.shared()) + job


def test_jobs_sent_with_a_large_part_raise_no_warning_for_the_user(client):
    # A page slice or a search shard goes with its part of the data, megabytes by design:
    # distributed's "Sending large graph" advice would otherwise fill the user's terminal.
    import warnings

    big = b"x" * (12 * 2**20)
    with parallel.engine(client), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sizes = parallel.fork_map(_part_size, [0, 1], big, parallel=True, part=lambda data, job: (job, data))
    assert sizes == [len(big), len(big) + 1]
    assert not [w for w in caught if "large graph" in str(w.message)]
