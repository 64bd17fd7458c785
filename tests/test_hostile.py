"""Hostile and broken input through the whole pipeline: validate → build → verify.

Each case puts one hostile record among good ones: the hostile record gets a
clear error naming its file, line and field (or is published harmlessly,
escaped and inside the site), the good records are all published, the build
completes and `verify` finds the site consistent. A hypothesis property test
then puts generated hostile text into every text field of a penalty.
"""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from audit_fixtures import penalty
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liushuang.generator import site, verify
from liushuang.generator.validate import Validator

from liushuang.policy import load_policy
from liushuang.urls import record_path

DAY = dt.date(2025, 6, 30)
GOOD = [penalty(f"GOOD-{i}", "2025-01-02", "2025-01-03") for i in range(3)]


def _line(rec: dict[str, Any]) -> bytes:
    return orjson.dumps(rec)


def _hostile_lines() -> dict[str, tuple[bytes, str, str]]:
    """case → (the hostile line, the rule it must raise, the JSON pointer it must name or "")."""
    base = penalty("BAD-1", "2025-01-02", "2025-01-03")
    good_json = _line(base)
    return {
        "truncated JSON": (good_json.decode()[: len(good_json.decode()) // 2].encode(), "record-parse", ""),
        "GB18030 bytes in a UTF-8 file": (good_json.replace("虚假宣传".encode(), "虚假宣传".encode("gb18030")), "file-decode", ""),
        "NUL byte": (good_json.replace(b"BAD-1", b"BAD\x00-1"), "record-parse", ""),
        "10 MB field": (_line({**base, "violation_facts": "经" * (10 * 2**20 // 3)}), "schema", "/violation_facts"),
        "duplicate JSON key": (good_json.replace(b'{"subject_name"', b'{"decision_number":"OTHER","subject_name"', 1), "record-parse",
                               "/decision_number"),
        "date 0000-00-00": (_line({**base, "decided_on": "0000-00-00"}), "schema", "/decided_on"),
        "duplicate record": (_line(GOOD[0]), "duplicate", ""),
    }


CASES = _hostile_lines()


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_record_is_rejected_clearly_and_costs_nothing_else(tmp_path: Path, case: str):
    line, rule, pointer = CASES[case]
    data = tmp_path / "data"
    data.mkdir()
    (data / "penalties.jsonl").write_bytes(b"\n".join([*map(_line, GOOD), line]) + b"\n")
    report = Validator(load_policy()).validate_dir(data)
    issues = [i for i in report.issues if i.line == 4]
    assert issues, [(i.rule, i.line, i.message) for i in report.issues]
    assert all(i.file == "penalties.jsonl" for i in issues)
    assert any(i.rule == rule or i.rule.startswith(rule) for i in issues), [(i.rule, i.message) for i in issues]
    if pointer:
        assert any(i.pointer == pointer for i in issues), [(i.rule, i.pointer) for i in issues]
    assert report.kinds["penalties"].read == 4 and report.kinds["penalties"].rejected == 1
    out = tmp_path / "site"
    built = site.build(data, out, load_policy(), build_date=DAY, narrative=False)
    assert built.conserved and built.counts["penalties"]["published"] == 3
    for rec in GOOD:
        assert (out / record_path("penalties", rec["decision_number"]) / "index.html").exists()
    result = verify.verify(out, data, load_policy())
    assert result.ok, result.render_text()


def test_id_crafted_as_a_path_stays_inside_the_site(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    evil = penalty("../../../../etc/passwd", "2025-01-02", "2025-01-03")
    (data / "penalties.jsonl").write_bytes(b"\n".join(map(_line, [*GOOD, evil])) + b"\n")
    out = tmp_path / "site"
    site.build(data, out, load_policy(), build_date=DAY, narrative=False)
    page = out / record_path("penalties", evil["decision_number"]) / "index.html"
    assert page.exists() and out.resolve() in page.resolve().parents
    assert not (tmp_path / "etc").exists() and not list(tmp_path.glob("**/passwd"))
    assert verify.verify(out, data, load_policy()).ok


HOSTILE_TEXT = [
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", "{{ 7*7 }}", "{% raw %}",
    "../../etc/passwd", "javascript:alert(1)", "\u202egnp.exe", "\x01\x02\x7f", "'; DROP TABLE t;--", "&lt;b&gt;", "]]></x>",
    "\U0001F600" * 3, "a" * 5000,
]
TEXT_FIELDS = ["subject_name", "violation_type", "violation_facts", "legal_basis", "penalty_content", "authority", "remarks",
               "decision_number", "legal_representative"]


@st.composite
def hostile_penalty(draw) -> dict[str, Any]:
    rec = penalty("HOSTILE-1", "2025-01-02", "2025-01-03")
    for name in draw(st.lists(st.sampled_from(TEXT_FIELDS), min_size=1, max_size=len(TEXT_FIELDS), unique=True)):
        rec[name] = draw(st.one_of(st.sampled_from(HOSTILE_TEXT),
                                   st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
                                   st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE_TEXT), st.text(max_size=10))))
    return rec


class _Markup(HTMLParser):
    """The markup a page is made of: each tag name and each (tag, attribute) pair."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: set[tuple[str, str]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update((tag, a) for a, _ in attrs)

    handle_startendtag = handle_starttag


def _markup(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    parser.close()
    return parser


def _raw(value: str, html: str) -> bool:
    """Whether ``value`` stands unescaped in ``html``. A value whose markup characters
    are all at its edges (``{{ 7*7 }}<``, ``"x``) is also found where its plain middle is
    shown, escaped, beside a tag or quote of the page's own; such a value is checked by
    the markup it would have added instead (``_markup``)."""
    middle = value.lstrip('>"').rstrip('<"')
    return any(c in middle for c in '<>"') and value in html


@pytest.fixture(scope="module")
def template_html(tmp_path_factory) -> str:
    """The HTML of a site of the good records alone: the markup every page holds."""
    tmp = tmp_path_factory.mktemp("template")
    (tmp / "data").mkdir()
    (tmp / "data" / "penalties.jsonl").write_bytes(b"\n".join(map(_line, GOOD)) + b"\n")
    site.build(tmp / "data", tmp / "site", load_policy(), build_date=DAY, narrative=False)
    return "".join(p.read_text(encoding="utf-8") for p in (tmp / "site").rglob("*.html"))


def test_the_oracle_tells_escaped_text_from_injected_markup():
    page = '<td title="x">{{ 7*7 }}</td><p>&lt;script&gt;</p>'
    assert not _raw("{{ 7*7 }}<", page) and not _raw("<script>", page)  # shown escaped
    assert _raw("<script>", page.replace("&lt;script&gt;", "<script>"))
    assert _raw('a"><b', '<td title="a"><b>')
    # edge-only values that were injected add markup the page does not have
    template = _markup(page)
    injected = _markup('<td title=""onmouseover=alert(1) x"><img src=x onerror=alert(1)></td>')
    assert not injected.tags <= template.tags and not injected.attrs <= template.attrs


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rec=hostile_penalty())
def test_hostile_text_in_any_field_never_breaks_the_site(tmp_path_factory, template_html, rec):
    tmp = tmp_path_factory.mktemp("hostile")
    data = tmp / "data"
    data.mkdir()
    (data / "penalties.jsonl").write_bytes(b"\n".join(map(_line, [*GOOD, rec])) + b"\n")
    out = tmp / "site"
    built = site.build(data, out, load_policy(), build_date=DAY, narrative=False)
    assert built.conserved and built.counts["penalties"]["published"] >= 3
    html = "".join(p.read_text(encoding="utf-8") for p in out.rglob("*.html"))
    for value in rec.values():
        if isinstance(value, str) and value not in template_html:
            assert not _raw(value, html)  # shown only escaped (text the pages hold anyway, such as "<", proves nothing)
    # and no tag or attribute the good records' pages do not have: nothing was injected
    template, built_markup = _markup(template_html), _markup(html)
    assert built_markup.tags <= template.tags and built_markup.attrs <= template.attrs
    root = out.resolve()
    assert all(root in p.resolve().parents for p in out.rglob("*"))
    result = verify.verify(out, data, load_policy())
    assert result.ok, result.render_text()
