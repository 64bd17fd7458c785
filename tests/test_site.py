"""The site builder: conservation, escaping, path safety, atomic replacement, determinism."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest
from audit_fixtures import penalty, write
from liushuang.generator import site

from liushuang.policy import load_policy
from liushuang.urls import record_path

DAY = dt.date(2025, 6, 30)


def _all_text(root: Path) -> str:
    """Every output file as text; Parquet files by their decoded values and the
    search index (gzip) decompressed: compressed bytes would hide anything."""
    import gzip

    import pyarrow.parquet as pq

    parts = []
    for p in sorted(root.rglob("*")):
        if p.suffix == ".parquet":
            parts.append(str(pq.read_table(p).to_pylist()))
        elif p.is_file():
            raw = p.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            parts.append(raw.decode("utf-8", errors="replace"))
    return "".join(parts)


def test_build_counts_and_withholds(tmp_path: Path):
    hostile = penalty("<script>alert(1)</script>", "2025-01-02", "2025-01-03")
    hostile["subject_name"] = "<b>坏</b>公司"
    write(tmp_path / "data", penalties=[
        penalty("P-OK", "2025-01-02", "2025-01-03"),
        penalty("P-WARN", "2025-01-02", "2025-01-03", kinds=("警告",)),
        penalty("P-OLD", "2024-01-02", "2024-01-03", fine_amount_wan=0.1),
        hostile,
    ])
    report = site.build(tmp_path / "data", tmp_path / "site", load_policy(), build_date=DAY)
    assert report.conserved
    assert report.counts["penalties"] == {"input": 4, "published": 2, "withheld": {"expired": 1, "warning-only": 1}, "rejected": 0}
    text = _all_text(tmp_path / "site")
    assert "P-OK" in text and "P-WARN" not in text and "P-OLD" not in text
    html = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html"))
    # Pages escape record text; downloads carry it as data, unchanged.
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>坏</b>" not in html
    assert (tmp_path / "site" / record_path("penalties", "P-OK") / "index.html").exists()
    # A decision number crafted as a path is hashed into a safe name inside the site.
    assert (tmp_path / "site" / record_path("penalties", "<script>alert(1)</script>") / "index.html").exists()
    assert orjson.loads((tmp_path / "site" / "build-report.json").read_bytes())["counts"]["penalties"]["published"] == 2


def test_paths_cannot_escape(tmp_path: Path):
    with pytest.raises(site.UnsafePath):
        site.safe_join(tmp_path, "../outside")
    assert record_path("penalties", "../../etc/passwd").startswith("penalties/h")


def test_failed_build_keeps_the_previous_site(tmp_path: Path, monkeypatch):
    write(tmp_path / "data", penalties=[penalty("P-OK", "2025-01-02", "2025-01-03")])
    site.build(tmp_path / "data", tmp_path / "site", load_policy(), build_date=DAY)
    before = (tmp_path / "site" / "index.html").read_bytes()

    def boom(*a, **kw):
        raise RuntimeError("killed mid-build")

    monkeypatch.setattr(site, "_render", boom)
    with pytest.raises(RuntimeError):
        site.build(tmp_path / "data", tmp_path / "site", load_policy(), build_date=DAY)
    assert (tmp_path / "site" / "index.html").read_bytes() == before
    # No half-written folder left (the validation cache beside the site is written only by a complete validation).
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.") and p.name != ".site.cache"]


def test_same_input_same_bytes(tmp_path: Path, clean_dir: Path, clean_dataset):
    for name in ("a", "b"):
        site.build(clean_dir, tmp_path / name, load_policy(), build_date=dt.date(2026, 11, 30))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    text = _all_text(tmp_path / "a")
    secrets = {e["legal_representative"]["id_number"] for e in clean_dataset.records["entities"]} | {
        e["phone"] for e in clean_dataset.records["entities"]}
    assert len(secrets) > 1000 and not [s for s in secrets if s in text]


class _Refs(HTMLParser):
    """(tag, attribute, rel, url) of every reference in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("href", "src"):
            if a.get(name):
                self.refs.append((tag, name, a.get("rel") or "", a[name]))


FETCHED_LINK_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch"}


def _check_links(out: Path) -> int:
    """Every reference in every page: nothing fetched from outside the site, every internal target exists."""
    from urllib.parse import unquote

    checked = 0
    for page in out.rglob("*.html"):
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, attr, rel, href in parser.refs:
            external = href.startswith(("http:", "https:", "//"))
            fetched = attr == "src" or (tag == "link" and rel in FETCHED_LINK_RELS)
            # Nothing the browser loads by itself may leave the site (intranet use);
            # a hyperlink out (the licence, the canonical address) is the reader's choice.
            assert not (external and fetched), (page.relative_to(out), href)
            if external or href.startswith(("data:", "mailto:", "#")):
                continue
            base = out if href.startswith("/") else page.parent  # the 404 pages link from the site root
            target = (base / unquote(href.split("#")[0].split("?")[0]).lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            assert target.is_file() and out.resolve() in target.parents, (page.relative_to(out), href)
            checked += 1
    return checked


def test_every_internal_link_resolves(tmp_path: Path, clean_dir: Path):
    out = tmp_path / "site"
    site.build(clean_dir, out, load_policy(), build_date=dt.date(2026, 11, 30))
    checked = _check_links(out)
    assert checked > 1000
    assert "发现问题经责令已改正（E）" in "".join(p.read_text(encoding="utf-8") for p in (out / "entities").rglob("*.html"))


def test_downloads_hold_exactly_the_published_records(tmp_path: Path):
    import hashlib

    write(tmp_path / "data", penalties=[
        penalty("P-OK", "2025-01-02", "2025-01-03", legal_rep_id_number="11010519491231002X", legal_representative="王伟"),
        penalty("P-WARN", "2025-01-02", "2025-01-03", kinds=("警告",)),
    ])
    out = tmp_path / "site"
    site.build(tmp_path / "data", out, load_policy(), build_date=DAY)
    # One file per year of decision, in each format.
    assert sorted(p.name for p in (out / "downloads" / "penalties").iterdir()) == ["2025.csv", "2025.jsonl", "2025.parquet"]
    csv_bytes = (out / "downloads" / "penalties" / "2025.csv").read_bytes()
    assert csv_bytes.startswith(b"\xef\xbb\xbf") and "行政处罚决定书文号".encode() in csv_bytes
    import pyarrow.parquet as pq

    for name in ("2025.csv", "2025.jsonl"):
        data = (out / "downloads" / "penalties" / name).read_bytes()
        assert b"P-WARN" not in data and b"11010519491231002X" not in data, name
    rows = pq.read_table(out / "downloads" / "penalties" / "2025.parquet").to_pylist()
    assert [r["decision_number"] for r in rows] == ["P-OK"] and "11010519491231002X" not in str(rows)
    assert b"P-OK" in (out / "downloads" / "penalties" / "2025.jsonl").read_bytes()
    package = orjson.loads((out / "datapackage.json").read_bytes())
    for res in package["resources"]:
        path = out / res["path"]
        assert res["bytes"] == path.stat().st_size and res["hash"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert next(r for r in package["resources"] if r["name"] == "penalties-2025-csv")["rows"] == 1
    assert (out / "robots.txt").exists() and (out / "404.html").exists()


def test_a_nightly_build_rewrites_only_the_download_years_that_changed(tmp_path: Path):
    """Each dataset is written per year; a year whose records did not change keeps the
    previous build's files (the same inodes: neither rewritten nor re-uploaded)."""
    import shutil

    def night(edit: str) -> Path:
        data = tmp_path / f"data-{edit}"
        write(data, penalties=[penalty("P-2024", "2024-03-02", "2024-03-03"),
                               penalty("P-2025", "2025-01-02", "2025-01-03", subject_name=f"某某{edit}公司")])
        return data

    out = tmp_path / "site"
    site.build(night("甲"), out, load_policy(), build_date=DAY, search=False)
    before = {p.name: p.stat().st_ino for p in (out / "downloads" / "penalties").iterdir()}
    first = (out / "downloads" / "penalties" / "2025.jsonl").read_bytes()
    site.build(night("乙"), out, load_policy(), build_date=DAY, search=False)
    after = {p.name: p.stat().st_ino for p in (out / "downloads" / "penalties").iterdir()}
    assert sorted(after) == sorted(before) == ["2024.csv", "2024.jsonl", "2024.parquet", "2025.csv", "2025.jsonl", "2025.parquet"]
    assert {n for n in after if after[n] != before[n]} == {"2025.csv", "2025.jsonl", "2025.parquet"}
    assert "乙".encode() in (out / "downloads" / "penalties" / "2025.jsonl").read_bytes() and "甲".encode() in first
    # The result is the full build's, byte for byte.
    full = tmp_path / "full"
    site.build(night("乙"), full, load_policy(), build_date=DAY, search=False, incremental=False)
    for folder in ("downloads/penalties", "downloads"):
        for p in (full / folder).iterdir():
            if p.is_file():
                assert (out / folder / p.name).read_bytes() == p.read_bytes(), p
    assert (out / "datapackage.json").read_bytes() == (full / "datapackage.json").read_bytes()
    shutil.rmtree(full)


def test_feeds_and_sitemap(tmp_path: Path, clean_dir: Path):
    import xml.etree.ElementTree as ET

    from liushuang.generator.feeds import write_sitemap

    out = tmp_path / "site"
    site.build(clean_dir, out, load_policy(), build_date=dt.date(2026, 11, 30), site_url="https://gongshi.example.gov.cn/")
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.parse(out / "feeds" / "penalties.xml").getroot()
    entries = feed.findall(f"{atom}entry")
    assert 0 < len(entries) <= 50
    published = [e.find(f"{atom}updated").text for e in entries]
    assert published == sorted(published, reverse=True)
    links = [e.find(f"{atom}link").get("href") for e in entries]
    assert all(h.startswith("https://gongshi.example.gov.cn/penalties/") for h in links)
    pages = list(out.rglob("index.html"))
    urls = ET.parse(out / "sitemap.xml").getroot()
    assert len(urls) == len(pages)
    # Past the limit: an index of numbered sitemaps holding every URL once.
    written = write_sitemap(out, "https://x/", limit=500)
    index = ET.parse(out / "sitemap.xml").getroot()
    assert written == [f"sitemap-{n}.xml" for n in range(1, len(index) + 1)] + ["sitemap.xml"]
    assert index.tag.endswith("sitemapindex") and len(index) == -(-len(pages) // 500)
    assert sum(len(ET.parse(out / f"sitemap-{n}.xml").getroot()) for n in range(1, len(index) + 1)) == len(pages)
    assert "Sitemap: https://gongshi.example.gov.cn/sitemap.xml" in (out / "robots.txt").read_text()
    stats_page = (out / "stats" / "index.html").read_text(encoding="utf-8")
    assert stats_page.count("<svg") == 3 and "<script" not in stats_page and "各部门公示用时" in stats_page


def test_without_narrative_pages_nothing_links_to_them(tmp_path: Path):
    """A wheel install has no mkdocs.yml: the site is still complete, without about/ and without links to it."""
    write(tmp_path / "data", penalties=[penalty("P-OK", "2025-01-02", "2025-01-03")])
    report = site.build(tmp_path / "data", tmp_path / "site", load_policy(), build_date=DAY, narrative=False, search=False)
    assert report.narrative == "skipped" and not (tmp_path / "site" / "about").exists()
    assert _check_links(tmp_path / "site") > 20
    assert "about/" not in "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html"))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_decisions_taken_in_validation_workers_build_the_same_site(tmp_path: Path, monkeypatch, fmt):
    """The publication decision runs in the validation workers on large files: forced
    here on small files cut in many parts, with defective records among them, the site
    is byte for byte the one a single process builds."""
    from liushuang.generator import manifest
    from liushuang.generator import validate as engine

    from liushuang.synth.defects import ALL, JSON_ONLY
    from liushuang.synth.generate import SynthConfig, generate, write_dataset

    data = generate(SynthConfig(entities=400, years=2, seed=5, defects={k: 2 for k in ALL if fmt == "jsonl" or k not in JSON_ONLY}))
    write_dataset(data, tmp_path / "d", fmt=fmt)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for f in (tmp_path / "d").glob("*.parquet"):
            pq.write_table(pq.read_table(f), f, row_group_size=100)
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 1)
    serial = site.build(tmp_path / "d", tmp_path / "one", load_policy(), build_date=dt.date(2026, 11, 30), search=False, narrative=False)
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(engine, "PART_BYTES", 20_000)
    parallel = site.build(tmp_path / "d", tmp_path / "two", load_policy(), build_date=dt.date(2026, 11, 30), search=False, narrative=False)
    assert serial.counts == parallel.counts and serial.conserved
    assert sum(c["rejected"] for c in serial.counts.values()) > 0 and sum(c["published"] for c in serial.counts.values()) > 1000
    assert manifest.load(tmp_path / "one") == manifest.load(tmp_path / "two")
