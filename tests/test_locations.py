"""DATA as an fsspec URL: every reader and the whole build work on a bucket as on a folder."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner
from helpers import validate
from liushuang.generator import manifest, site
from liushuang.generator import validate as engine

from liushuang.cli import main
from liushuang.locations import RemotePath, location
from liushuang.policy import load_policy
from liushuang.synth.defects import ALL, JSON_ONLY
from liushuang.synth.generate import SynthConfig, generate, write_dataset

DAY = dt.date(2026, 11, 30)


def _upload(folder: Path, url: str) -> None:
    fs, root = fsspec.core.url_to_fs(url)
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            fs.pipe_file(f"{root}/{f.relative_to(folder).as_posix()}", f.read_bytes())


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Every input format at once, with defects: JSON Lines, GB18030 CSV with Chinese
    headers, Parquet, xlsx, a JSON array, and a kind split into a folder of files."""
    out = tmp_path_factory.mktemp("mixed")
    data = generate(SynthConfig(entities=300, years=2, seed=11, defects={k: 1 for k in ALL if k not in JSON_ONLY}))
    write_dataset(data, out, encoding="gb18030", style="zh", formats={
        "penalties": "csv", "licenses": "parquet", "inspection_tasks": "json", "inspectors": "xlsx", "entities": "jsonl"})
    return out


def _strip(report) -> dict:
    return {k: v for k, v in report.to_dict().items() if k not in ("stats", "quarantine_dir", "data_dir", "seconds")}


def test_a_url_is_read_exactly_as_the_folder(mixed: Path, monkeypatch):
    url = "memory://liushuang-test/mixed"
    _upload(mixed, url)
    local = validate(mixed, workers=1)
    remote = validate(url, workers=1)
    assert local.stats()["rejected"] > 0 and {f.format for f in local.files} >= {"csv", "parquet", "json", "xlsx", "jsonl"}
    assert _strip(remote) == _strip(local) and remote.data_dir == url
    # Parallel parts read byte ranges of the remote files (forked workers share the in-memory file system).
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(engine, "PART_BYTES", 20_000)
    assert _strip(validate(url, workers=2)) == _strip(local)


def test_a_site_built_from_a_url_is_the_site_built_from_the_folder(clean_dir: Path, tmp_path: Path):
    url = "memory://liushuang-test/clean"
    _upload(clean_dir, url)
    site.build(clean_dir, tmp_path / "a", load_policy(), build_date=DAY, search=False)
    site.build(url, tmp_path / "b", load_policy(), build_date=DAY, search=False)
    assert manifest.load(tmp_path / "a") == manifest.load(tmp_path / "b")


def test_remote_path_behaves_like_a_path(tmp_path: Path):
    (tmp_path / "d" / "penalties").mkdir(parents=True)
    (tmp_path / "d" / "penalties" / "2025.jsonl").write_bytes(b"{}\n")
    remote = location(f"local://{tmp_path}/d")
    assert isinstance(remote, RemotePath) and remote.is_dir() and not remote.is_file()
    assert [p.name for p in remote.iterdir()] == ["penalties"]
    files = [p for p in remote.rglob("*") if p.is_file()]
    assert [str(p.relative_to(remote)) for p in files] == ["penalties/2025.jsonl"] and files[0].suffix == ".jsonl"
    assert files[0].read_bytes() == b"{}\n" and files[0].size() == 3
    # Dask ships it to other processes: it pickles with its file system.
    again = pickle.loads(pickle.dumps(files[0]))
    assert again == files[0] and again.open("rb").read() == b"{}\n"
    assert location(f"file://{tmp_path}") == tmp_path and location(str(tmp_path)) == tmp_path


def test_bad_urls_are_usage_errors(tmp_path: Path):
    runner = CliRunner()
    unknown = runner.invoke(main, ["validate", "nosuchprotocol://bucket/data"])
    assert unknown.exit_code == 2 and "nosuchprotocol://bucket/data" in unknown.output, unknown.output
    missing = runner.invoke(main, ["build", "memory://liushuang-test/nothing-here", "-o", str(tmp_path / "s")])
    assert missing.exit_code == 2 and "不存在或不是目录" in missing.output, missing.output
    missing = runner.invoke(main, ["verify", str(tmp_path), "memory://liushuang-test/nothing-here"])
    assert missing.exit_code == 2 and "不存在或不是目录" in missing.output, missing.output


def test_validate_command_takes_a_url(mixed: Path, tmp_path: Path):
    url = "memory://liushuang-test/cli"
    _upload(mixed, url)
    result = CliRunner().invoke(main, ["validate", url, "--quarantine", str(tmp_path / "q"), "--json"])
    assert result.exit_code == 1, result.output  # the defects are found
    assert any((tmp_path / "q").glob("*.jsonl"))
