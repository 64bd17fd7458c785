"""Shared by the benchmark scripts: run a measured stage in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys


def run_child(code: str, *args: str) -> dict:
    """Run ``code`` with ``args`` in a new interpreter; its last stdout line is JSON."""
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_stages(result: dict, stages: tuple[str, ...]) -> None:
    print("| stage | wall (s) |\n|---|---:|")
    for stage in stages:
        print(f"| {stage} | {result[stage + '_s']:.1f} |")
    print(f"\npeak memory (VmHWM): {result['peak_bytes'] / 2**30:.2f} GiB")


def cached(path, label: str, make) -> None:
    """Run ``make(folder)`` once: into a temporary folder renamed to ``path`` only
    when complete, so an interrupted synthesis is never mistaken for a cache."""
    import shutil
    import time
    from pathlib import Path

    path = Path(path)
    if path.exists():
        return
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"synthesising {label} …", file=sys.stderr)
    started = time.perf_counter()
    make(tmp)
    tmp.rename(path)
    print(f"  synthesised in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def city(work, entities: int, years: int):
    """The synthetic city of ``entities`` over ``years`` (seed 2026), synthesised once
    into WORK/city-ENTITIES-YEARS and reused; returns the folder and its per-file record counts."""
    import json
    from pathlib import Path

    data = Path(work) / f"city-{entities}-{years}"
    cached(data, f"a city of {entities:,} entities over {years} years", lambda folder: subprocess.run(
        [sys.executable, "-m", "liushuang.cli", "synth", str(folder), "--entities", str(entities),
         "--years", str(years), "--seed", "2026"], check=True))
    files = json.loads((data / "synth-manifest.json").read_text())["files"]
    return data, {name: entry["records"] for name, entry in files.items()}
