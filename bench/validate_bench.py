"""Benchmark: validate 1,000,000 synthetic penalty records (JSON Lines and
Parquet) with liushuang, and the same records with plain ``jsonschema``.

Each measurement runs in a fresh Python process so that its wall time and
peak memory (RSS of the main process and of its largest worker) are its own.

    python bench/validate_bench.py                 # 1,000,000 records
    python bench/validate_bench.py --records 200000 --jsonschema-records 5000

Targets (issue 2): <= 20 s wall and <= 1 GB peak for the million on a
2-core machine; the ratio to plain jsonschema is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
mode, path, limit, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
if mode == "liushuang":
    from liushuang.generator.validate import Validator
    report = Validator(progress=False, workers=workers).validate_dir(path)
    n, bad = report.stats()["read"], report.stats()["rejected"]
else:
    import orjson, jsonschema, referencing
    from referencing.jsonschema import DRAFT202012
    from liushuang import schemas
    common = schemas.load("common")
    registry = referencing.Registry().with_resource(common["$id"], DRAFT202012.create_resource(common))
    v = jsonschema.Draft202012Validator(schemas.load("penalties"), registry=registry,
                                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    n = bad = 0
    with open(path + "/penalties.jsonl", "rb") as fh:
        for line in fh:
            if n == limit:
                break
            n += 1
            bad += bool(list(v.iter_errors(orjson.loads(line))))
wall = time.perf_counter() - t0
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the parent's peak.
me = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # forked workers (shared pages counted)
print(json.dumps({"records": n, "rejected": bad, "wall_s": wall, "peak_main_bytes": me, "peak_worker_bytes": kids}))
"""


def make_data(records: int, work: Path) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from liushuang import formats
    from liushuang.synth.generate import penalty_stream

    jsonl_dir, parquet_dir = work / f"jsonl-{records}", work / f"parquet-{records}"
    if (jsonl_dir / "penalties.jsonl").exists() and (parquet_dir / "penalties.parquet").exists():
        return jsonl_dir, parquet_dir
    jsonl_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print(f"synthesising {records:,} penalty records …", file=sys.stderr)
    writer = None
    batch: list[dict] = []
    cols = formats.columns("penalties")
    with open(jsonl_dir / "penalties.jsonl", "wb") as fh:
        import orjson

        for n, rec in enumerate(penalty_stream(records, seed=2026, entities=max(5000, records // 3)), 1):
            fh.write(orjson.dumps(rec) + b"\n")
            batch.append(rec)
            if len(batch) == 65536 or n == records:
                table = pa.table({c: pa.array([r.get(c) for r in batch], _arrow_type(c)) for c in cols})
                if writer is None:
                    writer = pq.ParquetWriter(parquet_dir / "penalties.parquet", table.schema, compression="zstd")
                writer.write_table(table)
                batch = []
                print(f"  {n:,} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, end="\r")
    assert writer is not None
    writer.close()
    print(file=sys.stderr)
    return jsonl_dir, parquet_dir


def _arrow_type(column: str):
    import pyarrow as pa

    if column in ("fine_amount_wan", "confiscation_amount_wan"):
        return pa.float64()
    if column == "penalty_kinds":
        return pa.list_(pa.string())
    return pa.string()


def measure(mode: str, path: Path, limit: int, workers: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(limit), str(workers)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--jsonschema-records", type=int, default=20_000,
                    help="records for plain jsonschema (a prefix of the same file: its rate is what matters; "
                         "the full million would take about 40 minutes)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "liushuang-bench")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_only:
        make_data(args.records, args.work)
        return
    # Synthesise in a separate process, so no measured run inherits its memory.
    subprocess.run([sys.executable, __file__, "--make-only", "--records", str(args.records), "--work", str(args.work)], check=True)
    jsonl_dir, parquet_dir = make_data(args.records, args.work)
    rows = []
    for label, mode, path, workers in [
        (f"liushuang validate, JSON Lines, {args.workers} workers", "liushuang", jsonl_dir, args.workers),
        ("liushuang validate, JSON Lines, 1 process", "liushuang", jsonl_dir, 1),
        (f"liushuang validate, Parquet, {args.workers} workers", "liushuang", parquet_dir, args.workers),
        ("plain jsonschema (Draft 2020-12 + formats), JSON Lines", "jsonschema", jsonl_dir, 1),
    ]:
        limit = min(args.jsonschema_records, args.records) if mode == "jsonschema" else args.records
        print(f"running: {label} …", file=sys.stderr)
        r = measure(mode, path, limit, workers)
        r["label"] = label
        r["rate"] = r["records"] / r["wall_s"]
        rows.append(r)
    base = rows[-1]["rate"]
    print(f"\n{args.records:,} penalty records ({(jsonl_dir / 'penalties.jsonl').stat().st_size / 2**20:.0f} MiB JSON Lines, "
          f"{(parquet_dir / 'penalties.parquet').stat().st_size / 2**20:.0f} MiB Parquet)\n")
    print("| run | records | wall (s) | records/s | peak RSS main (MiB) | peak RSS worker (MiB) | × jsonschema |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} | {r['records']:,} | {r['wall_s']:.1f} | {r['rate']:,.0f} | "
              f"{r['peak_main_bytes'] / 2**20:,.0f} | {r['peak_worker_bytes'] / 2**20:,.0f} | {r['rate'] / base:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
