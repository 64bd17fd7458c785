"""The synthetic province (liushuang/synth/province.py): fourteen cities in one dataset, no key repeated."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from liushuang.generator.validate import Validator

from liushuang.policy import load_policy
from liushuang.synth import province
from liushuang.synth.generate import SynthConfig, generate, write_dataset


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prov") / "liaoning"
    province.write_province(out, province.ProvinceConfig(entities=1400, years=2, seed=3))
    return out


def test_every_city_has_its_files_and_the_manifest_counts_them(small: Path) -> None:
    manifest = orjson.loads((small / "synth-manifest.json").read_bytes())
    codes = {code for _, code, *_ in province.CITIES}
    assert set(manifest["cities"]) == codes
    for kind, entry in manifest["files"].items():
        files = sorted((small / kind).glob("*.jsonl"))
        assert {f.stem for f in files} == codes
        assert sum(f.read_bytes().count(b"\n") for f in files) == entry["records"] > 0


def test_the_province_validates_cleanly_with_its_policy(small: Path) -> None:
    report = Validator(load_policy(province.policy_file(small)), progress=False).validate_dir(small)
    assert sum(k.read for k in report.kinds.values()) == sum(f["records"] for f in orjson.loads(
        (small / "synth-manifest.json").read_bytes())["files"].values())
    assert sum(k.rejected for k in report.kinds.values()) == 0 and not report.issues, report.issues[:5]


def test_without_the_province_policy_other_cities_regions_are_unknown(small: Path) -> None:
    report = Validator(load_policy(), progress=False).validate_dir(small)
    rules = {i.rule for i in report.issues}
    assert "region-unknown" in rules
    assert report.kinds["entities"].rejected > 0 and report.kinds["entities"].accepted > 0  # Dalian's pass


def test_keys_carry_the_city(small: Path) -> None:
    shenyang = [orjson.loads(line) for line in (small / "penalties" / "2101.jsonl").read_bytes().splitlines()]
    assert shenyang and all(p["decision_number"].startswith("沈") and p["authority"].startswith("沈阳市") for p in shenyang)
    tasks = [orjson.loads(line) for line in (small / "inspection_tasks" / "2113.jsonl").read_bytes().splitlines()]
    assert tasks and all(t["task_id"].startswith("RW2113") for t in tasks)
    entities = [orjson.loads(line) for line in (small / "entities" / "2114.jsonl").read_bytes().splitlines()]
    assert all(e["region_code"].startswith("2114") and e["address"].startswith("辽宁省葫芦岛市") for e in entities)


def test_dalian_in_the_province_is_the_city_dataset(small: Path, tmp_path: Path) -> None:
    config = next(c for c in province.ProvinceConfig(entities=1400, years=2, seed=3).city_configs() if c.city.code == "2102")
    write_dataset(generate(SynthConfig(entities=config.entities, years=2, seed=config.seed, until=config.until)), tmp_path)
    assert (small / "penalties" / "2102.jsonl").read_bytes() == (tmp_path / "penalties.jsonl").read_bytes()
    assert (small / "inspection_tasks" / "2102.jsonl").read_bytes() == (tmp_path / "inspection_tasks.jsonl").read_bytes()


def test_the_cli_writes_a_province_and_its_policy(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from liushuang.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["synth", str(tmp_path / "p"), "--province", "--entities", "700", "--years", "1"])
    assert result.exit_code == 0, result.output
    assert "14 个城市" in result.output and (tmp_path / "p.policy.toml").is_file()
    assert load_policy(tmp_path / "p.policy.toml").known_regions["211401"] == "葫芦岛一区"
    refused = runner.invoke(main, ["synth", str(tmp_path / "q"), "--province", "--format", "csv"])
    assert refused.exit_code != 0 and "JSON Lines" in refused.output and not (tmp_path / "q").exists()


def test_a_run_that_fails_leaves_out_as_it_was(small: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "liaoning"
    province.write_province(out, province.ProvinceConfig(entities=700, years=1, seed=5))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    written = province._write

    def half(folder: Path, *args) -> None:
        written(folder, *args)  # every city written, then the run stops before the move
        raise KeyboardInterrupt

    monkeypatch.setattr(province, "_write", half)
    with pytest.raises(KeyboardInterrupt):
        province.write_province(out, province.ProvinceConfig(entities=1400, years=2, seed=3))
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["liaoning", "liaoning.policy.toml"]  # no partial folder beside it
    monkeypatch.setattr(province, "_write", written)
    province.write_province(out, province.ProvinceConfig(entities=1400, years=2, seed=3))  # a complete run replaces it whole
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*.jsonl")} == {
        p.relative_to(small): p.read_bytes() for p in small.rglob("*.jsonl")}
