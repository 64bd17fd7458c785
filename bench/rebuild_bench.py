"""Benchmark: the nightly rebuild and `verify` at city scale (issue 6).

    python bench/site_bench.py --keep      # first: the city and its built site
    python bench/rebuild_bench.py          # then: change 1 % of the records, rebuild, diff, verify
    python bench/rebuild_bench.py --verify-only   # verify the built site alone

Takes the city dataset and the site `site_bench.py --keep` left in --work,
makes one export per night, each with 1 % of the decision and result records of
the night before changed (a text field edited: the kind of correction a nightly
export carries), spread over every year (``uniform``: the worst case for the
search shards) or over the last twelve months' records (``recent``), hard-links the
built site into a scratch folder as the published site, and rebuilds
incrementally into it once per night: night 1 has no standby tree and no
validation cache yet (the previous site is linked into a new tree of folders),
later nights run in the steady state (the standby, the site the night before
replaced, turned into the new one). After each build `liushuang verify` runs
with its cache, as the nightly job does. Reports per-stage times, how many
pages were written and how many reused, how many search shards were indexed
again, and what `liushuang diff` would upload and delete. Every build and
verify in a fresh process, with the peak PSS of its process tree. Targets
(issue 6): rebuild <= 60 s with only changed files rewritten; verify <= 5 minutes.

    python bench/rebuild_bench.py --pattern recent,recent,uniform
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from site_bench import run_sampled

CHANGED = {"licenses": "content", "penalties": "penalty_content", "inspection_results": "result_text"}
DATED = {"licenses": "decided_on", "penalties": "decided_on", "inspection_results": "completed_on"}
BUILD_DATE = "2026-11-30"
RECENT_FROM = "2025-12-01"  # the pattern "recent": edits fall on the last twelve months' records

REBUILD = r"""
import datetime as dt, json, sys, time
from pathlib import Path
from liushuang.policy import load_policy
from liushuang.generator.site import build
t0 = time.perf_counter()
report = build(Path(sys.argv[1]), Path(sys.argv[2]), load_policy(), build_date=dt.date(2026, 11, 30), progress=False,
               echo=lambda m: print(m, file=sys.stderr, flush=True))
print(json.dumps({"stages": report.stages, "pages": report.pages, "linked": report.linked, "total_s": time.perf_counter() - t0,
                  "shards": len(report.search_shards), "reused": len(report.search_reused), "cache": report.validation_cache,
                  "search_s": getattr(report, "search_seconds", None), "early": getattr(report, "early", None)}))
"""

VERIFY = r"""
import json, sys, time
from pathlib import Path
from liushuang.policy import load_policy
from liushuang.generator.verify import default_cache, verify
t0 = time.perf_counter()
cache = default_cache(Path(sys.argv[1])) if sys.argv[3] == "cache" else None if sys.argv[3] == "none" else Path(sys.argv[3])
r = verify(Path(sys.argv[1]), Path(sys.argv[2]), load_policy(), echo=lambda m: print(m, file=sys.stderr, flush=True), cache=cache)
print(json.dumps({"ok": r.ok, "findings": len(r.findings), "checked": r.checked, "total_s": time.perf_counter() - t0}))
"""


def _recent(kind: str, line: bytes) -> bool:
    m = re.search(rb'"%s":\s*"(\d{4}-\d\d-\d\d)' % DATED[kind].encode(), line)
    return bool(m) and m.group(1).decode() >= RECENT_FROM


def change(src: Path, dst: Path, share: float, seed: int, pattern: str = "uniform") -> int:
    """Copy the dataset, editing ``share`` of the decision and result records:
    drawn from all of them (``uniform``), or from the last twelve months' only
    (``recent``: as many edits, all on records a night's export typically corrects)."""
    rng = random.Random(seed)
    dst.mkdir(parents=True)
    changed = 0
    for f in sorted(src.iterdir()):
        kind = f.name.removesuffix(".jsonl")
        if kind not in CHANGED:
            os.link(f, dst / f.name)
            continue
        p = share
        if pattern == "recent":
            with open(f, "rb") as fh:
                total = eligible = 0
                for line in fh:
                    total += 1
                    eligible += _recent(kind, line)
            p = min(1.0, share * total / max(1, eligible))
        with open(f, "rb") as fh, open(dst / f.name, "wb") as out:
            for line in fh:
                if (pattern == "uniform" or _recent(kind, line)) and rng.random() < p:
                    rec = json.loads(line)
                    rec[CHANGED[kind]] = (rec.get(CHANGED[kind]) or "") + "（更正）"
                    line = json.dumps(rec, ensure_ascii=False).encode() + b"\n"
                    changed += 1
                out.write(line)
    return changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=300_000)
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--pattern", default="uniform,uniform",
                    help="one word per night, comma-separated: on which records that night's edits fall: uniform (any: the "
                         "worst case for the search shards) or recent (the last twelve months')")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "liushuang-bench")
    ap.add_argument("--verify-only", action="store_true", help="Only run verify on the site site_bench.py --keep left.")
    ap.add_argument("--verify-cache", type=Path,
                    help="With --verify-only: verify's cache folder (default: none). Run twice for the steady state; give each "
                         "version of liushuang its own folder")
    ap.add_argument("--no-verify", action="store_true",
                    help="Rebuild only, without verify after each night (to compare the rebuilds of two versions of liushuang: "
                         "run this script with each one's Python)")
    args = ap.parse_args()
    data = args.work / f"city-{args.entities}-{args.years}"
    built = args.work / f"site-{args.entities}-{args.years}"
    if not (built / "manifest.json").exists():
        raise SystemExit(f"{built} is missing: run python bench/site_bench.py --keep first")
    if args.verify_only:
        v, vpeak = run_sampled(VERIFY, str(built), str(data), str(args.verify_cache) if args.verify_cache else "none")
        print(f"\n## verify on the built city site{' with the cache in ' + str(args.verify_cache) if args.verify_cache else ''}"
              f"\n\n{v['total_s']:.1f} s, peak {vpeak / 2**30:.2f} GiB, "
              f"{'consistent' if v['ok'] else str(v['findings']) + ' findings'}; checked: "
              + ", ".join(f"{k} {n:,}" for k, n in v["checked"].items()))
        return
    scratch = Path(tempfile.mkdtemp(dir=args.work, prefix="rebuild-"))
    try:
        patterns = args.pattern.split(",")
        if not patterns or set(patterns) - {"uniform", "recent"}:
            raise SystemExit("--pattern: uniform or recent, one per night")
        nights = [scratch / f"night{n}" for n in range(1, len(patterns) + 1)]
        changed = []
        for n, (folder, pattern) in enumerate(zip(nights, patterns)):  # each night edits the night before's export
            changed.append(change(nights[n - 1] if n else data, folder, args.share, seed=7 + n, pattern=pattern))
        site = scratch / "site"
        print("linking the previous build …", file=sys.stderr)
        subprocess.run(["cp", "-al", str(built), str(site)], check=True)
        results = []
        checks = []
        for n, (folder, count) in enumerate(zip(nights, changed), 1):
            print(f"rebuilding, night {n} …", file=sys.stderr)
            before = scratch / f"manifest-before-{n}.json"
            shutil.copyfile(site / "manifest.json", before)
            r, peak = run_sampled(REBUILD, str(folder), str(site))
            diff = json.loads(subprocess.run([sys.executable, "-m", "liushuang.cli", "diff", str(before), str(site), "--json"],
                                             check=True, capture_output=True, text=True).stdout)
            results.append((r, peak, diff, count))
            if not args.no_verify:  # as the nightly job does: verify right after each build, keeping verify's cache beside the site
                print(f"verifying, night {n} …", file=sys.stderr)
                checks.append(run_sampled(VERIFY, str(site), str(folder), "cache"))
        for n, (r, peak, diff, count) in enumerate(results, 1):
            how = ("the previous site hard-linked into a new tree of folders (no standby yet)" if n == 1 else
                   f"the standby tree (the site night {n - 1} replaced) turned into the new site")
            print(f"\n## Night {n}: {count:,} of the decision and result records changed ({args.share:.0%}, "
                  f"pattern {patterns[n - 1]}); {how}\n")
            print("| stage | wall (s) |\n|---|---:|")
            for stage, seconds in r["stages"].items():
                print(f"| {stage} | {seconds:.1f} |")
            print(f"| **total** | **{r['total_s']:.1f}** |")
            if r.get("search_s"):  # liushuang after 3b251af: the search index is made alongside the pages
                print(f"\nthe search index took {r['search_s']:.1f} s of its own, beside the pages (or after them, when it had much "
                      "to index again); the search row is what was left of it after them")
            if r.get("early"):  # liushuang after e01dca0: the decisions' pages and shards made while validating the rest
                e = r["early"]
                print(f"\nwhile validation went on past the decisions: {e['pages']:,} decision pages made in {e['pages_seconds']:.1f} s"
                      + (f", then their {e['shards']} search shards in {e['search_seconds']:.1f} s" if "shards" in e else ""))
            if r.get("cache"):
                print(f"\nvalidation: {r['cache']['hits']:,} lines taken from the last build's cache, {r['cache']['misses']:,} validated")
                if "appended" in r["cache"]:  # liushuang after 914941c
                    print(f"validation cache: {r['cache']['appended']:,} entries appended, {r['cache']['rewritten']} files written whole")
            print(f"\npages: {r['pages']:,}, of which {r['pages'] - r['linked']:,} rendered and written, {r['linked']:,} reused "
                  f"(no rendering); search shards indexed again: {r['shards'] - r['reused']} of {r['shards']}")
            print(f"diff against the night before: upload {len(diff['upload']):,}, delete {len(diff['delete']):,}, unchanged {diff['unchanged']:,}")
            print(f"peak memory (PSS of the process tree): {peak / 2**30:.2f} GiB")
        for n, (v, vpeak) in enumerate(checks, 1):
            how = "its cache empty (the first night)" if n == 1 else "with the cache the verify of the night before left (the steady state)"
            print(f"\n## verify after night {n}, {how}\n\n{v['total_s']:.1f} s, peak {vpeak / 2**30:.2f} GiB, "
                  f"{'consistent' if v['ok'] else str(v['findings']) + ' findings'}; checked: "
                  + ", ".join(f"{k} {n:,}" for k, n in v["checked"].items()))
    finally:
        started = time.perf_counter()
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"(scratch removed in {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
