"""What the site's pages and catalogues say: listings, task pages, DCAT and
schema.org, the data dictionary, the search shards."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
from pathlib import Path

import orjson
import pytest
from liushuang.generator import narrative, pages, search, site
from liushuang.generator.publish import NEVER

from liushuang import schemas
from liushuang.policy import load_policy
from liushuang.urls import record_path, slug


@pytest.fixture(scope="module")
def built(tmp_path_factory, clean_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("pages") / "site"
    site.build(clean_dir, out, load_policy(), build_date=dt.date(2026, 11, 30))
    return out


def _jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _dataset(out: Path, kind: str) -> list[dict]:
    """Every published record of a kind, from its yearly JSON Lines downloads."""
    return [r for path in sorted((out / "downloads" / kind).glob("*.jsonl")) for r in _jsonl(path)]


def _rows(html: str) -> int:
    return len(re.findall(r"<tbody>.*?</tbody>", html, re.S)[0].split("<tr>")) - 1


def _list_total(out: Path, base: str) -> int:
    return int(re.search(r"共 (\d+) 条", (out / base / "index.html").read_text(encoding="utf-8")).group(1))


def test_year_and_department_listings_partition_each_list(built: Path):
    for kind in ("penalties", "licenses", "inspection_tasks"):
        published = _dataset(built, kind)
        assert _list_total(built, kind) == len(published) > 0
        years = sorted({(r[pages.DATE_FIELD[kind]] or "")[:4] for r in published})
        assert sum(_list_total(built, f"{kind}/year/{y}") for y in years) == len(published)
        departments = {r[pages.DEPARTMENT_FIELD[kind]] for r in published}
        assert sum(_list_total(built, f"departments/{slug(d)}/{kind}") for d in departments) == len(published)
        # Every page of the full list together shows every record once, newest first.
        n_pages = -(-len(published) // 50)
        shown = []
        for page in range(1, n_pages + 1):
            html = (built / (kind if page == 1 else f"{kind}/page/{page}") / "index.html").read_text(encoding="utf-8")
            shown += re.findall(rf'href="(?:\.\./)*({kind}/[^/"]+/)"', html.split("<tbody>")[1].split("</tbody>")[0])
        assert sorted(shown) == sorted(record_path(kind, r[pages.KEY[kind]]) for r in published)
        assert not (built / kind / "page" / str(n_pages + 1)).exists()


def test_task_page_shows_everything_needed_to_rederive_the_draw(built: Path, clean_dataset):
    tasks = _dataset(built, "inspection_tasks")
    task = next(t for t in tasks if t.get("seed") and t.get("commitment"))
    html = (built / record_path("inspection_tasks", task["task_id"]) / "index.html").read_text(encoding="utf-8")
    for needle in (task["seed"]["value"], task["seed"]["source"], task["commitment"]["hash"], task["frame"]["hash"],
                   f"{task['frame']['size']} 户", "liushuang audit draws"):
        assert needle in html, needle
    for s in task["strata"]:
        assert f"<td>{s['stratum']}</td><td>{s['size']}</td>" in html
    for sel in task["selections"]:
        assert sel["uscc"] in html
    # The downloadable task file is the published task record itself.
    assert orjson.loads((built / "downloads" / "tasks" / f"{slug(task['task_id'])}.json").read_bytes()) == task
    unseeded = [t for t in tasks if not t.get("seed")]
    if unseeded:
        text = (built / record_path("inspection_tasks", unseeded[0]["task_id"]) / "index.html").read_text(encoding="utf-8")
        assert "无法复核抽取过程" in text


def test_entity_page_gathers_its_records(built: Path):
    penalties = _dataset(built, "penalties")
    uscc = next(p["uscc"] for p in penalties if p.get("uscc"))
    html = (built / record_path("entities", uscc) / "index.html").read_text(encoding="utf-8")
    for p in penalties:
        if p.get("uscc") == uscc:
            assert p["decision_number"] in html
    for r in _dataset(built, "inspection_results"):
        if r["uscc"] == uscc:
            assert r["completed_on"] in html


def test_dcat_catalogue_and_schema_org_describe_the_downloads(built: Path):
    package = orjson.loads((built / "datapackage.json").read_bytes())
    hashes = {r["path"]: r["hash"].split(":")[1] for r in package["resources"]}
    catalog = orjson.loads((built / "catalog.jsonld").read_bytes())
    assert catalog["@type"] == "dcat:Catalog" and "dcat" in catalog["@context"]
    seen = {}
    for ds in catalog["dcat:dataset"]:
        assert ds["dct:license"]["@id"].startswith("https://creativecommons.org/") and ds["dct:modified"]["@value"] == "2026-11-30"
        for dist in ds["dcat:distribution"]:
            path = dist["dcat:downloadURL"]["@id"].split("/", 3)[3]
            seen[path] = dist["spdx:checksum"]["spdx:checksumValue"]
            assert dist["dcat:byteSize"]["@value"] == (built / path).stat().st_size
    assert seen == hashes
    for path, digest in hashes.items():
        assert hashlib.sha256((built / path).read_bytes()).hexdigest() == digest
    html = (built / "downloads" / "index.html").read_text(encoding="utf-8")
    jsonld = orjson.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert {d["@type"] for d in jsonld} == {"Dataset"} and len(jsonld) == len(catalog["dcat:dataset"])
    assert all(d["license"] and d["dateModified"] == "2026-11-30" and d["distribution"] for d in jsonld)


def test_json_ld_cannot_close_its_script_element():
    from liushuang.generator.catalog import write_catalog

    resource = {"dataset": "penalties", "dataset_title": "行政处罚", "year": "2025", "name": "penalties-2025-csv", "title": "x", "path": "downloads/p.csv",
                "format": "csv", "bytes": 1, "hash": "sha256:00", "rows": 1, "schema": {"fields": [{"title": "</script><script>alert(1)"}]}}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = write_catalog(Path(tmp), [resource], "http://x/", "2026-11-30")
    assert "</script>" not in out["jsonld"] and orjson.loads(out["jsonld"])[0]["variableMeasured"] == ["</script><script>alert(1)"]


def test_data_dictionary_lists_every_field_of_every_schema():
    sections = {s.split("`")[1]: s for s in narrative.data_dictionary().split("\n## ")[1:]}
    assert sorted(sections) == sorted(schemas.KINDS)
    for kind in schemas.KINDS:
        for name, prop in schemas.load(kind)["properties"].items():
            row = next(line for line in sections[kind].splitlines() if line.startswith(f"| `{name}` | {prop.get('title', '')}"))
            cells = [c.strip() for c in row.strip("|").split(" | ")]
            assert cells[4] == ("否" if name in NEVER else "是"), row
            assert cells[3] == ("是" if name in schemas.load(kind).get("required", []) else "否"), row


def test_narrative_pages_are_built_in_the_site(built: Path):
    dictionary = (built / "about" / "data-dictionary" / "index.html").read_text(encoding="utf-8")
    assert "legal_rep_id_number" in dictionary and "数据字典" in dictionary
    assert (built / "about" / "methodology" / "index.html").exists()
    assert not (built / "about" / "search" / "search_index.json").exists()  # Material's own search is off; Pagefind serves the site


def test_search_shards_cover_every_published_record(built: Path):
    manifest = orjson.loads((built / "search" / "shards.json").read_bytes())
    counts: dict[str, int] = {}
    for shard in manifest["shards"]:
        counts[shard["kind"]] = counts.get(shard["kind"], 0) + shard["records"]
        entry = orjson.loads((built / shard["bundle"] / "pagefind-entry.json").read_bytes())
        assert entry["languages"]["zh-cn"]["page_count"] == -(-shard["records"] // search.SHEET_SIZE) or shard["departments"]
    assert counts["penalties"] == len(_dataset(built, "penalties"))
    assert counts["licenses"] == len(_dataset(built, "licenses"))
    assert counts["inspection_results"] == len(_dataset(built, "inspection_results"))
    assert counts["entities"] == len(list((built / "entities").iterdir()))
    # The search documents themselves are never published.
    assert not list(built.rglob("s000001.html")) and not (built / ".search-documents").exists()


def test_search_index_holds_no_withheld_record(tmp_path: Path):
    from audit_fixtures import penalty, write

    write(tmp_path / "data", penalties=[penalty("PUBLISHED-1", "2025-01-02", "2025-01-03"),
                                        penalty("EXPIRED-1", "2024-01-02", "2024-01-03", fine_amount_wan=0.1)])
    site.build(tmp_path / "data", tmp_path / "site", load_policy(), build_date=dt.date(2025, 6, 30), narrative=False)
    text = b"".join(gzip.decompress(p.read_bytes()) for p in (tmp_path / "site" / "pagefind").rglob("*.pf_fragment"))
    assert b"PUBLISHED" in text and b"EXPIRED" not in text


def _docs(n: int, kind: str = "penalties", year: str = "2025") -> list[search.Doc]:
    return [search.Doc(kind, year, f"部门{i % 3}", f"{kind}--k{i}", f"t{i}", f"text {i}") for i in range(n)]


def test_shards_split_by_kind_year_and_size_independently_of_order():
    docs = _docs(25) + _docs(7, year="2024") + _docs(4, kind="entities", year="")
    plan = search.plan_shards(docs, shard_records=10)
    names = [s.name for s in plan]
    assert names == ["entities", "penalties-2024", "penalties-2025-0", "penalties-2025-1", "penalties-2025-2"]
    assert sum(len(s.docs) for s in plan) == 36 and all(len(s.docs) <= 16 for s in plan)
    again = search.plan_shards(list(reversed(docs)), shard_records=10)
    assert [(s.name, s.docs) for s in again] == [(s.name, s.docs) for s in plan]


def test_search_documents_escape_record_text():
    doc = search.docs_for("penalties", {"decision_number": "X<script>1", "subject_name": "<img src=x onerror=alert(1)>",
                                        "uscc": None, "decided_on": "2025-01-02", "authority": "局\"><b>"})
    html = "".join(t for _, t in search._sheets(search.Shard("p", "penalties", "2025", [doc])))
    assert "<script>1" not in html and "<img" not in html and '"><b>' not in html
    assert doc.anchor == f"penalties--{slug('X<script>1')}"


def test_search_fingerprints_follow_the_search_code_and_labels_not_the_page_code(tmp_path: Path, monkeypatch):
    """A change of the page code re-renders pages, not the search index; a change of the
    labels search documents show (kinds, result codes) re-indexes every shard."""
    from liushuang.generator import labels

    shard = search.Shard("entities", "entities", "", [search.LazyDoc("entities", {"uscc": "91210200MA0000000X", "name": "某"})])
    before = search._fingerprint(shard)
    other_pages = tmp_path / "pages.py"
    other_pages.write_text(Path(pages.__file__).read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    monkeypatch.setattr(pages, "__file__", str(other_pages))
    search._code_digest.cache_clear()
    assert search._fingerprint(shard) == before
    other_labels = tmp_path / "labels.py"
    other_labels.write_text(Path(labels.__file__).read_text(encoding="utf-8").replace("未发现问题", "未发现违法问题"), encoding="utf-8")
    monkeypatch.setattr(labels, "__file__", str(other_labels))
    search._code_digest.cache_clear()
    assert search._fingerprint(shard) != before
    monkeypatch.undo()
    search._code_digest.cache_clear()


@pytest.mark.parametrize(("page", "pages_", "want"), [
    (1, 1, [1]), (1, 5, [1, 2, None, 5]), (3, 5, [1, 2, 3, 4, 5]), (5, 9, [1, None, 4, 5, 6, None, 9]), (9, 9, [1, None, 8, 9])])
def test_pagination_numbers(page, pages_, want):
    assert pages.pagination(page, pages_) == want


def test_a_lazy_search_document_is_the_eager_one_and_its_fingerprint_follows_the_record():
    from liushuang.generator.records import Unpacker, pack

    public = {"decision_number": "连市监罚〔2025〕7号", "subject_name": "大连某某有限公司", "uscc": "91210200MA0000000X",
              "decided_on": "2025-01-02", "authority": "大连市市场监督管理局", "violation_type": "虚假宣传", "penalty_content": "罚款"}
    rec = Unpacker()("penalties", *pack("penalties", public))
    lazy, eager = search.LazyDoc("penalties", rec), search.docs_for("penalties", public)
    assert (lazy.year, lazy.department, lazy.anchor) == (eager.year, eager.department, eager.anchor)
    assert lazy.words() == eager.words()
    shard = search.Shard("penalties-2025", "penalties", "2025", [lazy])
    edited = Unpacker()("penalties", *pack("penalties", {**public, "penalty_content": "罚款（更正）"}))
    assert search._fingerprint(shard) == search._fingerprint(search.Shard("penalties-2025", "penalties", "2025", [search.LazyDoc("penalties", rec)]))
    assert search._fingerprint(shard) != search._fingerprint(search.Shard("penalties-2025", "penalties", "2025", [search.LazyDoc("penalties", edited)]))
    result = {"uscc": "91210200MA0000000X", "task_id": "RW1", "completed_on": "2025-02-01", "result_codes": ["1"], "entity_name": "某"}
    a, b = search.LazyDoc("inspection_results", result, "甲局"), search.LazyDoc("inspection_results", result, "乙局")
    assert a.department == "甲局" and a.content() != b.content()   # the task's department is part of the document


def test_pagination_shows_first_last_and_neighbours():
    from liushuang.generator.pages import pagination

    assert pagination(1, 1) == [1]
    assert pagination(1, 2) == [1, 2]
    assert pagination(5, 9) == [1, None, 4, 5, 6, None, 9]
    assert pagination(3, 9) == [1, 2, 3, 4, None, 9]
    assert pagination(9, 9) == [1, None, 8, 9]
    assert pagination(2, 5920) == [1, 2, 3, None, 5920]  # a city's licence list: thousands of pages
    for n_pages in range(1, 12):
        for page in range(1, n_pages + 1):
            shown = [n for n in pagination(page, n_pages) if n is not None]
            assert shown == sorted({1, n_pages, page - 1, page, page + 1} & set(range(1, n_pages + 1)))


def test_search_index_waits_for_the_pages_only_when_much_must_be_indexed(tmp_path: Path):
    """build_search's hold: a few shards to index again run at once (alongside the pages);
    past a quarter of the documents, the index waits until the pages are done."""
    def corpus(*changed: str) -> list[search.Doc]:  # five shards (one per year) of ten documents
        return [search.Doc("penalties", str(year), "", f"penalties--{year}-{i}", f"决定 {year}-{i}",
                           "更正" if f"{year}-{i}" in changed else f"罚款 {i}")
                for year in range(2020, 2025) for i in range(10)]

    holds: list[str] = []

    def index(name: str, docs: list[search.Doc], previous: pages.Previous | None) -> dict:
        _, _, files = search.build_search(tmp_path / name, tmp_path / "work", docs, previous=previous, hold=lambda: holds.append(name))
        return files

    previous = pages.Previous(tmp_path / "all", index("all", corpus(), None))  # everything to index
    index("none", corpus(), previous)  # nothing
    index("one-shard", corpus("2022-3"), previous)  # 10 of 50 documents: 20 %
    index("two-shards", corpus("2022-3", "2024-0"), previous)  # 40 %
    assert holds == ["all", "two-shards"]


def test_narrative_pages_go_where_a_relative_folder_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """mkdocs reads a relative site_dir from mkdocs.yml's folder: the pages must still land
    under the working directory's folder, not in the source checkout."""
    if not narrative.available():
        pytest.skip("mkdocs.yml is not part of this install")
    monkeypatch.chdir(tmp_path)
    narrative.build_narrative(Path("out") / "about", "http://127.0.0.1:8000/about/")
    assert (tmp_path / "out" / "about" / "index.html").is_file()
    assert not (narrative.SOURCE_ROOT / "out").exists()


def test_pagefind_runs_without_starting_python_first():
    """With ``pagefind[extended]`` installed, each shard runs Pagefind's own binary, not the
    package's Python wrapper that execs it (0.1 s of CPU per shard), and it is the extended
    build, which segments Chinese."""
    pytest.importorskip("pagefind_bin_extended")
    import os
    import subprocess

    (exe,) = search.pagefind_command()
    assert Path(exe).name == "pagefind_extended" and os.access(exe, os.X_OK)
    assert subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout.startswith("pagefind")
