"""Atom feeds of new decisions and results, and the sitemap (an index past 50,000 URLs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from liushuang.urls import record_path

SITEMAP_LIMIT = 50_000  # URLs per sitemap file (sitemaps.org protocol)
FEEDS = {"penalties": ("行政处罚", "decision_number", "subject_name"), "licenses": ("行政许可", "decision_number", "subject_name"),
         "inspection_results": ("双随机抽查结果", "task_id", "entity_name")}


def write_feeds(root: Path, store: dict[str, list[dict[str, Any]]], site_url: str, build_date: str, *, latest: int = 50) -> list[str]:
    folder = root / "feeds"
    folder.mkdir(exist_ok=True)
    written = []
    for kind, (title, key, who) in FEEDS.items():
        records = sorted(store.get(kind, []), key=lambda r: (r.get("published_on") or "", r.get(key) or "", r.get("uscc") or ""),
                         reverse=True)[:latest]
        entries = []
        for r in records:
            if kind == "inspection_results":
                href = site_url + record_path("entities", r["uscc"])
                name = f"{r['task_id']}：{r.get(who, '')}"
                uid = f"{r['task_id']}/{r['uscc']}"
            else:
                href = site_url + record_path(kind, r[key])
                name = f"{r[key]}：{r.get(who, '')}"
                uid = r[key]
            day = r.get("published_on") or build_date
            entries.append(f"<entry><title>{escape(name)}</title><id>{escape(f'tag:liushuang,{day}:{kind}/{uid}')}</id>"
                           f"<updated>{day}T00:00:00+08:00</updated><link href={quoteattr(href)}/></entry>")
        path = folder / f"{kind}.xml"
        path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">'
                        f"<title>{escape(title)}</title><id>{escape(site_url + 'feeds/' + kind + '.xml')}</id>"
                        f"<updated>{build_date}T00:00:00+08:00</updated><link rel=\"self\" href={quoteattr(site_url + 'feeds/' + kind + '.xml')}/>"
                        + "".join(entries) + "</feed>\n", encoding="utf-8")
        written.append(path.name)
    return written


def write_sitemap(root: Path, site_url: str, *, limit: int = SITEMAP_LIMIT, files: list[str] | None = None) -> list[str]:
    """sitemap.xml listing every page (``files``: the site's files, if already listed);
    past ``limit`` URLs, a sitemap index of numbered sitemaps. Returns the files written."""
    if files is None:
        files = [p.relative_to(root).as_posix() for p in root.rglob("index.html")]
    pages = sorted(p[: -len("index.html")] for p in files if p == "index.html" or p.endswith("/index.html"))
    urls = [site_url + p for p in pages]
    head = '<?xml version="1.0" encoding="utf-8"?>\n'
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    chunks = [urls[i:i + limit] for i in range(0, len(urls), limit)] or [[]]
    if len(chunks) == 1:
        (root / "sitemap.xml").write_text(head + f"<urlset {ns}>" + "".join(f"<url><loc>{escape(u)}</loc></url>" for u in urls)
                                          + "</urlset>\n", encoding="utf-8")
        return ["sitemap.xml"]
    for n, chunk in enumerate(chunks, 1):
        (root / f"sitemap-{n}.xml").write_text(head + f"<urlset {ns}>" + "".join(f"<url><loc>{escape(u)}</loc></url>" for u in chunk)
                                               + "</urlset>\n", encoding="utf-8")
    (root / "sitemap.xml").write_text(head + f"<sitemapindex {ns}>" + "".join(
        f"<sitemap><loc>{escape(site_url)}sitemap-{n}.xml</loc></sitemap>" for n in range(1, len(chunks) + 1)) + "</sitemapindex>\n",
        encoding="utf-8")
    return [f"sitemap-{n}.xml" for n in range(1, len(chunks) + 1)] + ["sitemap.xml"]
