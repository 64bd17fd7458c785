"""Benchmark: the draws audit on 2,000 draws over a 300,000-entity roster,
with 999 Monte Carlo re-runs of the recorded design.

    python bench/draws_bench.py                       # 2,000 draws, 300,000 entities, 999 re-runs
    python bench/draws_bench.py --draws 200 --entities 30000 --resamples 199

Synthesises the data once (cached in --work): the roster, inspectors, and
2,000 verifiable tasks drawn with the hash-ticket algorithm, each over a frame
of --frame entities in four credit-class strata. Then, in a fresh process:
load + validation, exact re-derivation of every draw, the statistics with
their Monte Carlo, and the report, each timed, with the peak memory (VmHWM).
Target (issue 4): <= 2 minutes and <= 4 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _child import cached, print_stages, run_child

CHILD = r"""
import json, sys, time
from pathlib import Path
from liushuang.policy import load_policy
from liushuang.audit import draw_data, stats as S
from liushuang.audit.draws import audit_draws
from liushuang.audit.draws_report import build
from liushuang.audit.verify import verify_all
data, out, resamples = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
loaded = draw_data.load(data, load_policy(), progress=False)
t1 = time.perf_counter()
verdicts = verify_all(loaded)          # as `liushuang audit draws` does: parallel over the draws
t2 = time.perf_counter()
audit = audit_draws(loaded, resamples=resamples, seed=0, verdicts=verdicts)
t3 = time.perf_counter()
build(audit, []).write(out)
t4 = time.perf_counter()
hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"draws": len(loaded.tasks), "verified": sum(v.status == "verified" for v in verdicts),
                  "load_s": t1 - t0, "verify_s": t2 - t1, "report_s": t4 - t3,
                  "stats_s": t3 - t2, "total_s": t4 - t0, "peak_bytes": hwm}))
"""


def make(path: Path, entities: int, draws: int, frame: int) -> None:
    import random

    import orjson
    from liushuang.audit import draw as D

    from liushuang import formats
    from liushuang.synth import generate as G

    gen = G._Generator(G.SynthConfig(entities=entities, seed=7))
    roster = gen.entities()
    path.mkdir(parents=True, exist_ok=True)
    formats.write_jsonl(path / "entities.jsonl", roster)
    inspectors = [{"inspector_id": f"ZF{i:04d}", "name": "检查员", "certificate_number": f"C{i}", "department": "大连市市场监督管理局",
                   "active_from": "2015-01-01"} for i in range(200)]
    formats.write_jsonl(path / "inspectors.jsonl", inspectors)
    formats.write_jsonl(path / "inspection_items.jsonl", gen.inspection_items())
    rng = random.Random(11)
    ratio = {"A": 0.01, "B": 0.02, "C": 0.10, "D": 0.30}
    with open(path / "inspection_tasks.jsonl", "wb") as fh:
        for t in range(draws):
            members = tuple((e["uscc"], e["credit_class"]) for e in rng.sample(roster, frame))
            pool = tuple(sorted(rng.sample([i["inspector_id"] for i in inspectors], 30)))
            sizes = D.sample_sizes(members, {}, ratio)
            design = D.DrawDesign(f"RW{t:05d}", members, sizes, pool, 2, "福彩双色球", {})
            commit = D.commitment(design)
            day = f"2025-{1 + t % 12:02d}-{1 + t % 28:02d}"
            rec = D.task_record(design, commitment_hex=commit, committed_at=f"{day}T08:00:00+08:00", public_values=[str(t)],
                                drawn_at=f"{day}T10:00:00+08:00", department="大连市市场监督管理局", items=["SXSJ001"],
                                plan_id="P2025", task_name=f"任务{t}", start_on=day, end_on=day, ratios=ratio)
            fh.write(orjson.dumps(rec) + b"\n")
            if (t + 1) % 200 == 0:
                print(f"  {t + 1:,} draws", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=300_000)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--frame", type=int, default=5000, help="entities per draw's frame")
    ap.add_argument("--resamples", type=int, default=999)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "liushuang-bench")
    args = ap.parse_args()
    data = args.work / f"draws-{args.entities}-{args.draws}-{args.frame}"
    cached(data, f"{args.draws:,} draws over {args.entities:,} entities",
           lambda folder: make(folder, args.entities, args.draws, args.frame))
    print("running the draws audit …", file=sys.stderr)
    with tempfile.TemporaryDirectory() as out:
        r = run_child(CHILD, str(data), out, str(args.resamples))
    print(f"\n{r['draws']:,} draws ({r['verified']:,} re-derived exactly) over {args.entities:,} entities, frames of {args.frame:,}, "
          f"{args.resamples} Monte Carlo re-runs\n")
    print_stages(r, ("load", "verify", "stats", "report", "total"))


if __name__ == "__main__":
    main()
