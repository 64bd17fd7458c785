"""The site builder: conservation, escaping, path safety, atomic replacement, determinism."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from audit_fixtures import penalty, write
from liushuang.generator import site

from liushuang.policy import load_policy
from liushuang.urls import record_path

DAY = dt.date(2025, 6, 30)


def _all_text(root: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file())


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
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>坏</b>" not in text
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
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]  # no half-written folder left


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


def test_every_internal_link_resolves(tmp_path: Path, clean_dir: Path):
    import re
    from urllib.parse import unquote

    out = tmp_path / "site"
    site.build(clean_dir, out, load_policy(), build_date=dt.date(2026, 11, 30))
    checked = 0
    for page in out.rglob("*.html"):
        for href in re.findall(r'(?:href|src)="([^"#]+)"', page.read_text(encoding="utf-8")):
            assert not href.startswith(("http:", "https:", "//")), (page, href)  # nothing leaves the site
            target = (page.parent / unquote(href)).resolve()
            if target.is_dir():
                target = target / "index.html"
            assert target.is_file() and out.resolve() in target.parents, (page.relative_to(out), href)
            checked += 1
    assert checked > 1000
    assert "发现问题经责令已改正（E）" in "".join(p.read_text(encoding="utf-8") for p in (out / "entities").rglob("*.html"))
