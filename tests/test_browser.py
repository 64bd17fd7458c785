"""The built demo site in a real browser: Debian's Chromium driven by Playwright.

Opens the home page, a list, an entity page, a task page and the search page;
searches a fragment of a Chinese name, a full USCC, a USCC's first digits, an
organisation code and a decision number and follows the first hit to the right
page; checks for console errors and runs axe-core (no serious or critical
violations). Skipped only when Chromium or Playwright is missing; `.ci/run`
installs both, so in CI these tests always run.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from liushuang.generator import site

from liushuang.policy import load_policy
from liushuang.urls import record_path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)

# Flags for a sandboxed root session on a closed network (../.library/env).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory, clean_dir: Path) -> Iterator[tuple[str, Path]]:
    out = tmp_path_factory.mktemp("browser") / "site"
    site.build(clean_dir, out, load_policy(), build_date=dt.date(2026, 11, 30))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", out
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, served) -> Iterator[Any]:
    """A page that records console errors, failed requests and requests leaving the site."""
    base, _ = served
    context = browser.new_context()
    pg = context.new_page()
    pg.problems = []
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    # A request cut short by navigating on (net::ERR_ABORTED) is not a failure of the site.
    pg.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "") else pg.problems.append(f"failed: {r.url} {r.failure}"))
    pg.on("request", lambda r: None if r.url.startswith((base, "data:")) else pg.problems.append(f"left the site: {r.url}"))
    yield pg
    context.close()


def _axe(pg: Any) -> list[dict[str, Any]]:
    import axe_playwright_python

    script = Path(axe_playwright_python.__file__).with_name("axe.min.js").read_text(encoding="utf-8")
    pg.add_script_tag(content=script)
    result = pg.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _first_line(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return orjson.loads(fh.readline())


def _pages(served, clean_dir: Path) -> dict[str, str]:
    base, out = served
    task = next(p for p in sorted((out / "inspection_tasks").iterdir()) if p.name != "page" and (p / "index.html").exists())
    entity = next(p for p in sorted((out / "entities").iterdir()) if (p / "index.html").exists())
    return {"home": base, "list": base + "penalties/", "list page 2": base + "penalties/page/2/", "entity": base + f"entities/{entity.name}/",
            "task": base + f"inspection_tasks/{task.name}/", "search": base + "search/", "departments": base + "departments/",
            "downloads": base + "downloads/", "stats": base + "stats/", "audit": base + "audit/"}


@pytest.mark.parametrize("name", ["home", "list", "list page 2", "entity", "task", "search", "departments", "downloads", "stats", "audit"])
def test_page_opens_clean_and_accessible(page, served, clean_dir, name):
    url = _pages(served, clean_dir)[name]
    response = page.goto(url)
    assert response.status == 200
    assert page.locator("main h1").count() == 1 and page.locator("header[role=banner]").count() == 1
    assert page.locator("nav[aria-label='主导航'] a").count() >= 6
    violations = _axe(page)
    assert not violations, violations
    assert not page.problems, page.problems


def test_narrative_pages_open_without_leaving_the_site(page, served):
    base, _ = served
    for path in ("about/", "about/methodology/", "about/data-dictionary/"):
        assert page.goto(base + path).status == 200
        page.wait_for_load_state("networkidle")
    assert "penalties" in page.content() and "决定书文号" in page.content()  # the dictionary is generated from the schemas
    assert not page.problems, page.problems


def _search(page, base: str, query: str, **params: str) -> list[str]:
    from urllib.parse import urlencode

    page.goto(base + "search/?" + urlencode({"q": query, **params}))
    page.wait_for_function("() => /^(已显示|没有|所选|搜索出错)/.test(document.getElementById('status').textContent)", timeout=20_000)
    status = page.inner_text("#status")
    assert not status.startswith("搜索出错"), status
    return [a.get_attribute("href") for a in page.query_selector_all("#results li > a")]


def test_search_finds_an_entity_by_name_fragment_and_uscc(page, served, clean_dir):
    base, out = served
    entity = _first_line(clean_dir / "entities.jsonl")
    want = base + record_path("entities", entity["uscc"])
    # Part of the name (the city prefix and the legal form left out), the full code,
    # its first ten characters and the nine-character organisation code.
    fragment = entity["name"][2:6]
    for query in (fragment, entity["uscc"], entity["uscc"][:10], entity["uscc"][8:17]):
        hits = _search(page, base, query)
        if query == fragment:
            page_hits = hits
            while want not in page_hits and page.is_visible("#more"):
                page.click("#more")
                page.wait_for_timeout(300)
                page_hits = [a.get_attribute("href") for a in page.query_selector_all("#results li > a")]
            assert want in page_hits, (query, page_hits[:5])
        else:
            assert hits and hits[0] == want, (query, hits[:3])
    page.click("#results li > a")
    page.wait_for_url(want)
    assert entity["name"] in page.inner_text("h1")
    assert not page.problems, page.problems


def test_search_finds_a_decision_by_number_and_filters_by_department(page, served, clean_dir):
    base, out = served
    shards = orjson.loads((out / "search" / "shards.json").read_bytes())["shards"]
    penalties = [orjson.loads(line) for path in sorted((out / "downloads" / "penalties").glob("*.jsonl")) for line in path.read_bytes().splitlines()]
    target = penalties[0]
    want = base + record_path("penalties", target["decision_number"])
    # A decision number routes to that year's decisions, whatever kind is chosen.
    hits = _search(page, base, target["decision_number"])
    assert hits and hits[0] == want, hits[:3]
    # The first query loads only the shards it needs.
    loaded = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    year = target["decided_on"][:4]
    bundles = {s["bundle"] for s in shards}
    used = {b for b in bundles if any(f"/{b}" in u for u in loaded)}
    assert used and all(b.startswith((f"pagefind/penalties-{year}", f"pagefind/licenses-{year}")) for b in used), used
    # Department filter: every hit is one of that department's decisions.
    other = next(p for p in penalties if p["authority"] != target["authority"])
    hits = _search(page, base, target["decision_number"], kind="penalties", year=year, department=other["authority"])
    assert want not in hits
    hits = _search(page, base, target["decision_number"], kind="penalties", year=year, department=target["authority"])
    assert hits and hits[0] == want
    assert not page.problems, page.problems


def test_search_shows_record_text_as_text(page, served):
    """The excerpt is built from record text: markup in it must never become elements."""
    base, _ = served
    _search(page, base, "有限公司")
    assert page.locator("#results script, #results img, #results iframe").count() == 0
    assert page.locator("#results li").count() > 0


def test_pagination_follows_the_govuk_pattern(page, served):
    base, out = served
    kind = next(k for k in ("penalties", "licenses", "inspection_tasks") if (out / k / "page" / "3").is_dir())
    page.goto(base + f"{kind}/page/2/")
    nav = page.locator("nav.pagination[aria-label='分页']")
    assert nav.locator("[aria-current=page]").inner_text() == "2"
    assert nav.locator("a[rel=prev]").get_attribute("href").endswith(f"{kind}/")
    assert nav.locator("a[rel=next]").get_attribute("href").endswith(f"{kind}/page/3/")
    page.click("a[rel=next]")
    assert page.locator("nav.pagination [aria-current=page]").inner_text() == "3"
    assert not page.problems, page.problems
