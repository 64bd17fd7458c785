"""A synthetic province: Liaoning's fourteen cities, each synthesised like the
city (``generate.py``) with its own region codes, departments and record ids,
written into one dataset folder as ``KIND/CITYCODE.jsonl`` (the reader takes a
folder named after a kind as that kind's files).

Issue 7 sizes a province at about ten million records; at the city generator's
six records per entity that is about 1.65 million entities. The cities' shares
below are set for the benchmark (larger for the two big cities), not census
figures. No key repeats across cities: decision numbers carry the city's short
name, record ids its prefecture code (Dalian, the default city, keeps its own).

The province's districts are not in the default policy's region table (it holds
Dalian's); ``write_province`` writes a policy file that adds them, to be given
as ``--policy``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from liushuang import schemas

from . import vocab as V
from .generate import DEFAULT_UNTIL, SynthConfig, generate, write_dataset

# (name, prefecture code, short name, districts (at least 5: a task draws from up to 5), share of the province's entities)
CITIES = (
    ("沈阳", "2101", "沈", 7, 0.20), ("大连", "2102", "连", 0, 0.17), ("鞍山", "2103", "鞍", 5, 0.08),
    ("抚顺", "2104", "抚", 5, 0.05), ("本溪", "2105", "本", 5, 0.04), ("丹东", "2106", "丹", 5, 0.05),
    ("锦州", "2107", "锦", 5, 0.06), ("营口", "2108", "营", 5, 0.05), ("阜新", "2109", "阜", 5, 0.04),
    ("辽阳", "2110", "辽", 5, 0.04), ("盘锦", "2111", "盘", 5, 0.03), ("铁岭", "2112", "铁", 5, 0.05),
    ("朝阳", "2113", "朝", 5, 0.07), ("葫芦岛", "2114", "葫", 5, 0.07),
)
PROVINCE_CODE = "210000"


def cities() -> list[tuple[V.City, float]]:
    """The province's cities and their shares of its entities (Dalian is ``vocab.DALIAN``)."""
    return [(V.DALIAN if code == V.DALIAN.code else V.liaoning_city(name, code, short, n), share)
            for name, code, short, n, share in CITIES]


@dataclass(frozen=True)
class ProvinceConfig:
    entities: int = 1_650_000
    years: int = 15
    seed: int = 2026
    until: dt.date = DEFAULT_UNTIL

    def city_configs(self) -> list[SynthConfig]:
        out = []
        for i, (city, share) in enumerate(cities()):
            out.append(SynthConfig(entities=max(1, round(self.entities * share)), years=self.years, seed=self.seed + 101 * i,
                                   until=self.until, city=city))
        return out


def region_table() -> dict[str, str]:
    """Every region code the province's records use: the province, its cities and their districts."""
    table = {PROVINCE_CODE: "辽宁省"}
    for city, _ in cities():
        table[f"{city.code}00"] = f"{city.name}市"
        table.update({code: name for code, name, _ in city.districts})
    return table


def policy_text() -> str:
    """A policy override (``--policy FILE``) whose region table is the province's."""
    rows = ", ".join(f'"{code}" = "{name}"' for code, name in sorted(region_table().items()))
    return ("# liushuang policy for the synthetic province (liushuang.synth.province): its region codes.\n"
            f'[regions]\ncity = "{PROVINCE_CODE}"\nknown = {{ {rows} }}\n')


def _city(job: tuple[SynthConfig, str]) -> dict[str, int]:
    """Synthesise one city into OUT/KIND/CITYCODE.jsonl; returns its record counts."""
    config, out = job
    scratch = Path(out) / f".city-{config.city.code}"
    shutil.rmtree(scratch, ignore_errors=True)
    manifest = write_dataset(generate(config), scratch)
    for kind in schemas.KINDS:
        (Path(out) / kind).mkdir(exist_ok=True)
        os.replace(scratch / manifest["files"][kind]["file"], Path(out) / kind / f"{config.city.code}.jsonl")
    shutil.rmtree(scratch)
    return {kind: manifest["files"][kind]["records"] for kind in schemas.KINDS}


def write_province(out: str | Path, config: ProvinceConfig, *, workers: int = 2,
                   progress: Any = None) -> dict[str, Any]:
    """Write the province's dataset to OUT (one file per kind and city), its
    ``synth-manifest.json``, and the policy ``OUT.policy.toml`` beside it.
    Cities are synthesised in ``workers`` processes, largest first.

    The files are written into a folder beside OUT and moved in only when every city
    is done, so a run that fails or is stopped leaves OUT as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        manifest = _write(partial, config, workers, progress)
        out.mkdir(exist_ok=True)
        for kind in schemas.KINDS:  # replace a kind's folder whole: no city of an older run stays
            old = out / f".{kind}.old-{os.getpid()}"
            if (out / kind).exists():
                (out / kind).rename(old)
            (partial / kind).rename(out / kind)
            shutil.rmtree(old, ignore_errors=True)
        (partial / "synth-manifest.json").replace(out / "synth-manifest.json")
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    policy_file(out).write_text(policy_text(), encoding="utf-8")
    return manifest


def _write(out: Path, config: ProvinceConfig, workers: int, progress: Any) -> dict[str, Any]:
    jobs = sorted(((c, str(out)) for c in config.city_configs()), key=lambda j: -j[0].entities)
    totals = {kind: 0 for kind in schemas.KINDS}
    per_city = {}
    with ProcessPoolExecutor(max(1, workers)) as pool:
        for (c, _), counts in zip(jobs, pool.map(_city, jobs)):
            per_city[c.city.code] = {"city": c.city.name, "entities": c.entities, "records": sum(counts.values())}
            for kind, n in counts.items():
                totals[kind] += n
            if progress:
                progress(f"{c.city.name}：{sum(counts.values()):,} 条记录")
    manifest = {"generator": "liushuang synth --province",
                "config": {"entities": config.entities, "years": config.years, "seed": config.seed, "until": config.until.isoformat(),
                           "format": "jsonl", "layout": "KIND/CITYCODE.jsonl"},
                "cities": dict(sorted(per_city.items())),
                "files": {kind: {"file": f"{kind}/", "records": totals[kind]} for kind in schemas.KINDS},
                "expected_issues": []}
    (out / "synth-manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


def policy_file(out: str | Path) -> Path:
    out = Path(out)
    return out.parent / f"{out.name}.policy.toml"
