"""Benchmark: why the site indexes search documents, not pages (generator/search.py).

    python bench/search_bench.py                  # 100,000 entity records
    python bench/search_bench.py --records 20000  # a quick run

Indexes the same synthetic entity records with the Pagefind CLI (extended,
Chinese segmentation) twice: one HTML page per record, and search documents
of ``SHEET_SIZE`` records each (what the site does). Reports, side by side,
the indexer's wall time and peak memory (ru_maxrss of the Pagefind process)
and the index metadata every first query downloads (the ``.pf_meta`` file).
"""

from __future__ import annotations

import argparse
import html
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

from liushuang.generator import search

PLACES = "上海 浦东 徐汇 静安 黄浦 长宁 普陀 虹口 杨浦 闵行 宝山 嘉定".split()
SURNAMES = "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗".split()
GIVEN = "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 华 鑫 龙 宇 晨 辉".split()
TRADES = "食品 餐饮 科技 贸易 商贸 服装 五金 建材 医药 电子 网络 文化 传媒 物流 农业 机械 汽车 酒店 超市 便利店".split()


def records(n: int) -> list[search.Doc]:
    rng = random.Random(1)
    out = []
    for _ in range(n):
        uscc = "91310" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(13))
        name = rng.choice(PLACES) + rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) + rng.choice(TRADES) + "有限公司"
        out.append(search.docs_for("entities", {"uscc": uscc, "name": name, "industry_name": rng.choice(TRADES), "kind": "企业",
                                                "status": "存续"}))
    return out


def index(site: Path, out: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([*search.pagefind_command(), "--site", str(site), "--output-path", str(out), "--force-language", "zh-cn",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit("pagefind failed")
    return time.perf_counter() - t0, usage.ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    docs = records(args.records)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pages = tmp / "pages"
        for d in docs:
            folder = pages / d.anchor
            folder.mkdir(parents=True)
            (folder / "index.html").write_text(f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(d.title)}'
                                               f'</title></head><body><h1>{html.escape(d.title)}</h1><p>{html.escape(d.text)}</p></body></html>',
                                               encoding="utf-8")
        sheets = tmp / "sheets"
        sheets.mkdir()
        for name, text in search._sheets(search.Shard("entities", "entities", "", docs)):
            (sheets / name).write_text(text, encoding="utf-8")
        for label, site in (("one page per record", pages), (f"documents of {search.SHEET_SIZE} records (the site)", sheets)):
            seconds, peak = index(site, tmp / f"index-{site.name}")
            meta = sum(p.stat().st_size for p in (tmp / f"index-{site.name}").glob("*.pf_meta"))
            rows.append((label, seconds, peak, meta))
    print(f"\n## Pagefind on {args.records:,} entity records\n")
    print("| indexed as | wall (s) | indexer peak (GiB) | metadata per first query (KB) |\n|---|---:|---:|---:|")
    for label, seconds, peak, meta in rows:
        print(f"| {label} | {seconds:.1f} | {peak / 2**30:.2f} | {meta / 1000:.0f} |")


if __name__ == "__main__":
    main()
