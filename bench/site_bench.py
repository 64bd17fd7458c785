"""Benchmark: build the public site for a city-scale synthetic dataset.

    python bench/site_bench.py                         # 300,000 entities, 15 years (about 1M decisions and results)
    python bench/site_bench.py --entities 20000        # a quick run

Synthesises the city once (cached in --work), then builds the whole site
(validation, pages, downloads, feeds, Pagefind search, narrative pages) in a
fresh process while sampling the proportional set size (PSS) of the build's
whole process tree — the parent, its forked page workers and the Pagefind
indexers — every second; PSS counts pages shared after fork once, so the sum is
the memory the build really holds. Reports per-stage times, pages per second,
output size and file count, and the peak.

Then, with Debian's Chromium, it serves the built site on loopback and
measures what the first search query downloads: a fragment of an entity's
name, a full USCC and a decision number, each in a fresh browser context.

In the same run it renders 2,000 of the same decision pages through
mkdocs-material (every page in the nav, as mkdocs does) and through
liushuang's jinja2 renderer in one process, and reports the pages-per-second
ratio. Targets (issue 3): full build <= 10 minutes, peak <= 8 GB, first query
<= 1 MB, on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _child import city

BUILD = r"""
import datetime as dt, json, sys, time
from pathlib import Path
from liushuang.policy import load_policy
from liushuang.generator.site import build
t0 = time.perf_counter()
# A full build: no validation cache an earlier run left beside the site, no previous site.
report = build(Path(sys.argv[1]), Path(sys.argv[2]), load_policy(), build_date=dt.date(2026, 11, 30), progress=False,
               echo=lambda m: print(m, file=sys.stderr, flush=True), incremental=False)
print(json.dumps({"stages": report.stages, "pages": report.pages, "total_s": time.perf_counter() - t0,
                  "counts": report.counts, "shards": len(report.search_shards)}))
"""

COMPARE = r"""
import datetime as dt, json, subprocess, sys, time, tempfile
from pathlib import Path
import orjson
from liushuang import schemas
from liushuang.generator import pages
from liushuang.generator.pages import display
site, n = Path(sys.argv[1]), int(sys.argv[2])
records = []
for path in sorted((site / "downloads" / "penalties").glob("*.jsonl"), reverse=True):  # one file per year, latest first
    with open(path, "rb") as fh:
        records += [orjson.loads(line) for line, _ in zip(fh, range(n - len(records)))]
titles = schemas.titles("penalties")
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    docs = tmp / "docs"
    docs.mkdir()
    nav = []
    for i, r in enumerate(records):
        rows = "\n".join(f"| {titles.get(k, k)} | {display(v).replace('|', '/')} |" for k, v in r.items())
        (docs / f"p{i:05d}.md").write_text(f"# 行政处罚：{r['decision_number']}\n\n| 字段 | 内容 |\n|---|---|\n{rows}\n", encoding="utf-8")
        nav.append(f"  - 'p{i:05d}': p{i:05d}.md")
    (tmp / "mkdocs.yml").write_text("site_name: bench\ntheme:\n  name: material\n  language: zh\n  font: false\nplugins: []\n"
                                    "markdown_extensions:\n  - tables\nnav:\n" + "\n".join(nav) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(tmp / "mkdocs.yml"), "-d", str(tmp / "out")], check=True)
    mk = time.perf_counter() - t0
    mk_bytes = sum(p.stat().st_size for p in (tmp / "out").rglob("p*/index.html"))
    data = pages.SiteData({"penalties": records, "licenses": [], "inspection_tasks": [], "inspection_results": [], "entities": [],
                           "inspection_items": []}, dt.date(2026, 11, 30))
    pages.warm(data)
    w = pages.Writer(tmp / "jinja", data.build_date)
    t0 = time.perf_counter()
    pages._decisions(w, data, "penalties", 0, n)
    jj = time.perf_counter() - t0
    jj_bytes = sum(p.stat().st_size for p in (tmp / "jinja").rglob("index.html"))
print(json.dumps({"n": len(records), "mkdocs_s": mk, "jinja_s": jj, "mkdocs_bytes": mk_bytes, "jinja_bytes": jj_bytes}))
"""


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def _pss(pid: int, field: str = "Pss:") -> int:
    """PSS of the process tree; with ``field="Pss_Anon:"`` only its anonymous memory (without
    mapped files: the build's spill file, generator/records.py, is page cache the kernel can drop)."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field))
        except (OSError, StopIteration):
            pass
    return total


STAGE_LINE = "… "  # how the build announces a stage on stderr (site.py, _Stages)


def run_sampled(code: str, *args: str, stages: dict[str, int] | None = None) -> tuple[dict, int]:
    """Run ``code`` in a fresh interpreter; returns its JSON result and the peak PSS of
    its process tree (the result's ``peak_anon``: the peak of its anonymous part). Its
    stderr is passed through; with ``stages``, the peak of each stage it announces (a
    line starting "… ") is recorded there."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    anon = [0]
    current = ["start"]

    def sample() -> None:
        while proc.poll() is None:
            pss = _pss(proc.pid)
            peak[0] = max(peak[0], pss)
            anon[0] = max(anon[0], _pss(proc.pid, "Pss_Anon:"))
            if stages is not None:
                stages[current[0]] = max(stages.get(current[0], 0), pss)
            time.sleep(1.0)

    def relay() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            sys.stderr.write(line)
            if line.startswith(STAGE_LINE):
                current[0] = line[len(STAGE_LINE):].strip()

    threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=relay, daemon=True)]
    for t in threads:
        t.start()
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    for t in threads:
        t.join()
    if proc.returncode:
        raise SystemExit(f"the measured process failed with exit code {proc.returncode}"
                         + (" (killed: out of memory? see dmesg)" if proc.returncode == -9 else ""))
    result = json.loads(out.strip().splitlines()[-1])
    if isinstance(result, dict):
        result["peak_anon"] = anon[0]
    return result, peak[0]


def first_queries(site: Path, data: Path) -> list[dict]:
    """Bytes the browser downloads for a first search (fresh context, empty cache)."""
    import functools
    import http.server
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    with open(data / "entities.jsonl", "rb") as fh:
        entity = json.loads(fh.readline())
    with open(max((site / "downloads" / "penalties").glob("*.jsonl")), "rb") as fh:  # one file per year: the latest
        penalty = json.loads(fh.readline())
    queries = [("name fragment", entity["name"][2:6]), ("full USCC", entity["uscc"]), ("decision number", penalty["decision_number"])]
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                                          "--disable-sync", "--no-first-run"])
        for label, q in queries:
            ctx = browser.new_context()
            page = ctx.new_page()
            sizes: list[tuple[str, int]] = []
            page.on("requestfinished", lambda r, sizes=sizes: sizes.append((r.url, r.sizes()["responseBodySize"])))
            t0 = time.perf_counter()
            page.goto(base + "search/?q=" + quote(q))
            page.wait_for_function("() => /^(已显示|没有|所选|搜索出错)/.test(document.getElementById('status').textContent)",
                                   timeout=120_000)
            elapsed = time.perf_counter() - t0
            status = page.inner_text("#status")
            search_bytes = sum(n for u, n in sizes if "/pagefind/" in u or u.endswith("shards.json"))
            results.append({"query": label, "text": q, "status": status, "seconds": elapsed, "total_bytes": sum(n for _, n in sizes),
                            "search_bytes": search_bytes, "requests": len(sizes)})
            ctx.close()
        browser.close()
    server.shutdown()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=300_000)
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "liushuang-bench")
    ap.add_argument("--compare-pages", type=int, default=2000, help="Pages rendered through mkdocs-material for the ratio.")
    ap.add_argument("--keep", action="store_true", help="Keep the built site in WORK/site-ENTITIES-YEARS.")
    args = ap.parse_args()
    data, files = city(args.work, args.entities, args.years)
    site = args.work / f"site-{args.entities}-{args.years}"
    shutil.rmtree(site, ignore_errors=True)
    print("building the site …", file=sys.stderr)
    stage_peaks: dict[str, int] = {}
    r, peak = run_sampled(BUILD, str(data), str(site), stages=stage_peaks)
    out_files = out_bytes = 0
    for dirpath, _, names in os.walk(site):
        for name in names:
            out_files += 1
            out_bytes += os.stat(os.path.join(dirpath, name)).st_size
    decisions = sum(files.get(k, 0) for k in ("licenses", "penalties", "inspection_results"))
    print(f"\n## Site build: {args.entities:,} entities, {decisions:,} decision and result records "
          f"({sum(files.values()):,} records of all kinds)\n")
    print("| stage | wall (s) | peak PSS sampled in the stage (GiB) |\n|---|---:|---:|")
    peaks = [v for k, v in stage_peaks.items() if k != "start"]  # in the order the stages ran, like r["stages"]
    for (stage, seconds), p in zip(r["stages"].items(), peaks + [0] * len(r["stages"])):
        print(f"| {stage} | {seconds:.1f} | {p / 2**30:.2f} |")
    print(f"| **total** | **{r['total_s']:.1f}** | **{peak / 2**30:.2f}** |")
    print(f"\npages: {r['pages']:,} ({r['pages'] / r['stages']['pages']:.0f} pages/s in the page stage, "
          f"{r['pages'] / r['total_s']:.0f} pages/s overall); search shards: {r['shards']}")
    print(f"output: {out_bytes / 2**30:.2f} GiB in {out_files:,} files")
    print(f"peak memory (PSS of the whole process tree): {peak / 2**30:.2f} GiB")
    print("\n| published | " + " | ".join(r["counts"]) + " |\n|---|" + "---:|" * len(r["counts"]))
    print("| records | " + " | ".join(f"{c['published']:,}" for c in r["counts"].values()) + " |")
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        print("\n| first query | result | requests | search bytes | all bytes (page included) | seconds |\n|---|---|---:|---:|---:|---:|")
        for q in first_queries(site, data):
            print(f"| {q['query']} | {q['status']} | {q['requests']} | {q['search_bytes']:,} | {q['total_bytes']:,} | {q['seconds']:.1f} |")
    cmp_, _ = run_sampled(COMPARE, str(site), str(args.compare_pages))
    mk, jj = cmp_["n"] / cmp_["mkdocs_s"], cmp_["n"] / cmp_["jinja_s"]
    print(f"\n## {cmp_['n']:,} decision pages, same records, one process\n")
    print("| renderer | seconds | pages/s | bytes per page |\n|---|---:|---:|---:|")
    print(f"| mkdocs-material (all pages in the nav) | {cmp_['mkdocs_s']:.1f} | {mk:.0f} | {cmp_['mkdocs_bytes'] / cmp_['n']:,.0f} |")
    print(f"| liushuang jinja2 | {cmp_['jinja_s']:.2f} | {jj:.0f} | {cmp_['jinja_bytes'] / cmp_['n']:,.0f} |")
    print(f"\nratio: liushuang renders {jj / mk:.0f}× as many pages per second as mkdocs-material")
    if not args.keep:
        shutil.rmtree(site, ignore_errors=True)


if __name__ == "__main__":
    main()
