"""Benchmark: the local engine against a 2-worker Dask LocalCluster (issue 7).

    python bench/engine_bench.py                         # the city: 300,000 entities, 15 years
    python bench/engine_bench.py --entities 50000 --years 3 --stages validate,build
    python bench/engine_bench.py --engines local --stages build     # one engine: time and memory only
    python bench/engine_bench.py --province --entities 1650000      # the province: about 10 million records

For each stage (validate, build, audit) and each engine, in a fresh process:
wall time and the peak PSS of the whole process tree (the LocalCluster's
worker processes are children of the measured process, so they are counted).
On Dask, the task stream gives the compute time of every task, summed per
kind of task: the parallel work P. With W workers the stage takes about
S + P/W, where S (what runs on the client, plus scheduling) is measured as
wall - P/2 on the two workers. The projection table scales S and P linearly
with the number of records (assumption) to a province (about 10 million
records) and the national level (about 100 million), and states what bounds it.

The two engines' sites are compared file by file (manifest.json): they must
be byte-identical.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _child import cached, city
from site_bench import run_sampled

STAGE = r"""
import json, sys, time, datetime as dt
from pathlib import Path
from liushuang.policy import load_policy
stage, engine_name, data, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
incremental = sys.argv[5] == "cache"
policy = load_policy(sys.argv[6] if len(sys.argv) > 6 else None)

def run():
    if stage == "validate":
        from liushuang.generator.validate import Validator
        r = Validator(policy, progress=False).validate_dir(data)
        return {"records": sum(k.read for k in r.kinds.values())}
    if stage == "build":
        from liushuang.generator.site import build
        r = build(data, out, policy, build_date=dt.date(2026, 11, 30), progress=False,
                  echo=lambda m: print(m, file=sys.stderr, flush=True), incremental=incremental)
        return {"stages": r.stages, "pages": r.pages, "shards": len(r.search_shards)}
    if stage == "audit":
        from liushuang.audit import run as audit
        from liushuang.audit.verify import verify_all
        marks = []

        def mark(name):  # "… name" on stderr: the benchmark records the peak memory of each sub-stage
            marks.append((name, time.perf_counter()))
            print(f"… {name}", file=sys.stderr, flush=True)

        mark("load (one validation pass)")
        deadline_data, draw_data = audit.load_both(data, policy, progress=False)  # as `liushuang audit DATA` does
        mark("deadlines")
        audit.deadlines_report(data, policy, progress=False, loaded=deadline_data)
        del deadline_data  # as `liushuang audit DATA` does: freed before the draws audit
        mark("draws: exact re-derivation")
        verdicts = verify_all(draw_data)
        # The statistics' own steps (model, Monte Carlo with 199 re-runs, tests, report), each its own sub-stage.
        audit.draws_report(data, policy, resamples=199, seed=1, progress=False, loaded=draw_data, verdicts=verdicts,
                           echo=lambda m: mark("draws: " + m[2:]) if m.startswith("… ") else None)
        mark("end")
        return {"stages": {a[0]: b[1] - a[1] for a, b in zip(marks, marks[1:])}}
    raise SystemExit(stage)

tasks = {}
t0 = time.perf_counter()
if engine_name == "dask":
    from distributed import get_task_stream
    from distributed.utils import key_split
    from liushuang.parallel import dask_client, engine
    client = dask_client(workers=2)
    t0 = time.perf_counter()
    with engine(client), get_task_stream(client) as ts:
        result = run()
    wall = time.perf_counter() - t0
    for t in ts.data:
        name = key_split(t["key"])
        seconds = sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute")
        n, total = tasks.get(name, (0, 0.0))
        tasks[name] = (n + 1, total + seconds)
    client.close()
else:
    result = run()
    wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "tasks": tasks, **result}))
"""

def province(work: Path, entities: int, years: int) -> Path:
    """The synthetic province, made once and kept in WORK (with its policy beside it)."""
    from liushuang.synth.province import ProvinceConfig, policy_file, write_province

    path = work / f"province-{entities}-{years}"

    def make(tmp: Path) -> None:
        write_province(tmp, ProvinceConfig(entities=entities, years=years), progress=lambda m: print(f"  {m}", file=sys.stderr))
        policy_file(tmp).rename(policy_file(path))

    cached(path, f"a province of {entities:,} entities over {years} years", make)
    return path


SCALES = (("this dataset", 1.0), ("a province (≈ 10 million records)", None), ("the nation (≈ 100 million records)", None))


def _task_table(rows: list) -> None:
    print("\n## Per-task costs on Dask (compute time, summed over the stage's tasks)\n")
    print("| stage | task | tasks | total (s) | per task (s) |\n|---|---|---:|---:|---:|")
    for stage, m in rows:
        for name, (n, total) in sorted(m["dask"][0]["tasks"].items(), key=lambda kv: -kv[1][1]):
            print(f"| {stage} | `{name}` | {n:,} | {total:.1f} | {total / n:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=300_000)
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--stages", default="validate,build,audit")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "liushuang-bench")
    ap.add_argument("--engines", default="local,dask", help="local, dask or both (the comparison needs both)")
    ap.add_argument("--data", type=Path, help="an existing dataset instead of the synthetic city")
    ap.add_argument("--no-cache", action="store_true",
                    help="build without the nightly line cache (a first build either way; the province's cache takes 11 GB of disk)")
    ap.add_argument("--province", action="store_true",
                    help="the synthetic province (14 cities; --entities is its total, e.g. 1650000 for about 10 million records)")
    args = ap.parse_args()
    policy: list[str] = []
    if args.province and not args.data:
        args.data = province(args.work, args.entities, args.years)
    if args.data:
        data = args.data
        beside = data.parent / f"{data.name}.policy.toml"  # the province's region codes (liushuang synth --province)
        policy = [str(beside)] if beside.is_file() else []
        files = {k: v["records"] for k, v in json.loads((data / "synth-manifest.json").read_text())["files"].items()}
    else:
        data, files = city(args.work, args.entities, args.years)
    records = sum(files.values())
    stages = args.stages.split(",")
    engines = args.engines.split(",")
    if not engines or set(engines) - {"local", "dask"}:
        raise SystemExit("--engines: local, dask or local,dask")
    scratch = Path(tempfile.mkdtemp(dir=args.work, prefix="engines-"))
    rows = []
    manifests: dict[str, bytes] = {}
    try:
        for stage in stages:
            measured = {}
            for engine_name in engines:
                print(f"{stage} on the {engine_name} engine …", file=sys.stderr)
                out = scratch / f"site-{engine_name}"
                peaks: dict[str, int] = {}
                measured[engine_name] = run_sampled(STAGE, stage, engine_name, str(data), str(out),
                                                    "none" if args.no_cache else "cache", *policy, stages=peaks)
                result, peak = measured[engine_name]  # as it comes: a province's run takes hours
                result["peaks"] = [v for k, v in peaks.items() if k != "start"]  # per build sub-stage, in order
                print(f"  {stage} on {engine_name}: {result['wall']:.1f} s, peak PSS {peak / 2**30:.2f} GiB "
                      f"(anonymous {result['peak_anon'] / 2**30:.2f} GiB)"
                      + (f", stages {result['stages']}" if "stages" in result else ""), file=sys.stderr, flush=True)
                if stage == "build":
                    # Keep the manifest, not the site: a province's site does not fit on the disk twice.
                    manifests[engine_name] = (out / "manifest.json").read_bytes()
                    subprocess.run(["rm", "-rf", str(out), str(out.parent / f".{out.name}.cache")], check=True)
            if stage == "build" and len(engines) == 2:
                measured["identical"] = manifests["local"] == manifests["dask"]
            rows.append((stage, measured))
    finally:
        # A city's site is 600,000 folders: delete them in the background.
        subprocess.Popen(["rm", "-rf", str(scratch)], start_new_session=True)
    what = f"{data.name}" if args.data else f"{args.entities:,} entities, {args.years} years"
    if engines != ["local", "dask"]:
        print(f"\n## {records:,} records ({what}): the {' and '.join(engines)} engine only\n")
        print("| stage | engine | wall (s) | peak PSS (GiB) | peak anonymous PSS (GiB) |\n|---|---|---:|---:|---:|")
        for stage, m in rows:
            for engine_name in engines:
                result, peak = m[engine_name]
                print(f"| {stage} | {engine_name} | {result['wall']:.1f} | {peak / 2**30:.2f} | {result['peak_anon'] / 2**30:.2f} |")
        for stage, m in rows:
            if "stages" in m[engines[0]][0]:
                print(f"\n| {stage} sub-stage | " + " | ".join(f"{e} (s) | {e} peak (GiB)" for e in engines)
                      + " |\n|---|" + "---:|---:|" * len(engines))
                for i, name in enumerate(m[engines[0]][0]["stages"]):
                    cells = []
                    for e in engines:
                        r = m[e][0]
                        cells += [f"{r['stages'].get(name, 0):.1f}", f"{r['peaks'][i] / 2**30:.2f}" if i < len(r["peaks"]) else "—"]
                    print(f"| {name} | " + " | ".join(cells) + " |")
        if "dask" in engines:
            for stage, m in rows:
                p = sum(total for _, total in m["dask"][0]["tasks"].values())
                print(f"\n{stage} on Dask: task compute P = {p:.1f} s, client and scheduling S = wall - P/2 = {max(0.0, m['dask'][0]['wall'] - p / 2):.1f} s")
            _task_table(rows)
        return
    print(f"\n## {records:,} records ({what}): local engine and a 2-worker LocalCluster\n")
    print("| stage | local wall (s) | local peak (GiB) | Dask wall (s) | Dask peak (GiB) | Dask task compute P (s) | client and scheduling S (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    model = {}
    for stage, m in rows:
        (loc, loc_peak), (dsk, dsk_peak) = m["local"], m["dask"]
        p = sum(total for _, total in dsk["tasks"].values())
        s = max(0.0, dsk["wall"] - p / 2)
        model[stage] = (s, p)
        print(f"| {stage} | {loc['wall']:.1f} | {loc_peak / 2**30:.2f} | {dsk['wall']:.1f} | {dsk_peak / 2**30:.2f} | {p:.1f} | {s:.1f} |")
    for stage, m in rows:
        if "identical" in m:
            print(f"\nbuild: the two engines' sites are {'byte-identical' if m['identical'] else 'DIFFERENT'} (manifest.json)")
        if "stages" in m["local"][0]:
            print(f"\n| {stage} sub-stage | local (s) | Dask (s) |\n|---|---:|---:|")
            for name, seconds in m["local"][0]["stages"].items():
                print(f"| {name} | {seconds:.1f} | {m['dask'][0]['stages'].get(name, 0):.1f} |")
    _task_table(rows)
    print("\n## Projected wall time (s) against workers: T(W) = k·S + k·P/W, summed over the stages\n")
    workers = (1, 2, 4, 8, 16, 32, 64)
    print("| scale | k | " + " | ".join(f"W={w}" for w in workers) + " |\n|---|---:|" + "---:|" * len(workers))
    for label, k in SCALES:
        k = k or (10_000_000 / records if "province" in label else 100_000_000 / records)
        cells = [sum(k * s + k * p / w for s, p in model.values()) for w in workers]
        print(f"| {label} | {k:.1f} | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")
    print("\nAssumptions: S and P grow linearly with the records; the tasks stay independent and many")
    print("(parts of 8 MB, page slices of 2,000 records, one Pagefind index per shard of at most 150,000")
    print("records), so W workers keep busy; data and output on storage every worker reaches. What the")
    print("projection does not lower: S, the work on the client (the publication decisions counted in")
    print("record order, the site's indexes, the manifest), and the client's memory, which holds every")
    print("published record — see the README for what that means at province scale.")


if __name__ == "__main__":
    main()
