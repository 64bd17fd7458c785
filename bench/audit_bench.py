"""Benchmark: the deadline audit on a city-scale synthetic dataset.

    python bench/audit_bench.py                      # about 1,000,000 records (300,000 entities)
    python bench/audit_bench.py --entities 30000     # a quick run

Synthesises the city once (cached in --work), then runs, in a fresh process,
load + validation, the audit, and the report rendering, reporting each stage's
wall time and the process's peak memory (VmHWM). Target (issue 5): <= 60 s and
<= 4 GB for about a million records on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _child import city, print_stages, run_child

CHILD = r"""
import datetime as dt, json, sys, time
from pathlib import Path
from liushuang.policy import load_policy
from liushuang.audit import data as audit_data
from liushuang.audit.calendar import Calendar
from liushuang.audit.deadlines import audit_deadlines
from liushuang.audit.deadline_report import build
data, out = Path(sys.argv[1]), Path(sys.argv[2])
policy = load_policy()
t0 = time.perf_counter()
loaded = audit_data.load(data, policy, progress=False)
t1 = time.perf_counter()
audit = audit_deadlines(loaded, policy, Calendar.load(), dt.date(2026, 11, 30))
t2 = time.perf_counter()
build(audit, []).write(out)
t3 = time.perf_counter()
hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
s = loaded.validation.stats()
print(json.dumps({"records": s["read"], "accepted": s["accepted"], "load_s": t1 - t0, "audit_s": t2 - t1,
                  "report_s": t3 - t2, "total_s": t3 - t0, "peak_bytes": hwm}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=300_000)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "liushuang-bench")
    args = ap.parse_args()
    data, files = city(args.work, args.entities, args.years)
    print("running the deadline audit …", file=sys.stderr)
    with tempfile.TemporaryDirectory() as out:
        r = run_child(CHILD, str(data), out)
    print(f"\ncity: {args.entities:,} entities, {args.years} years, {r['records']:,} records "
          "(" + ", ".join(f"{k} {n:,}" for k, n in files.items()) + ")\n")
    print_stages(r, ("load", "audit", "report", "total"))


if __name__ == "__main__":
    main()
