"""Audit reports: graded findings, sections with tables and charts, rendered
as self-contained HTML, Markdown (for the public site) and JSON.

The draws audit and the deadlines audit both produce an :class:`AuditReport`;
``liushuang audit`` writes every report it runs into one directory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

GRADES = ("info", "low", "medium", "high")
GRADE_ZH = {"info": "提示", "low": "轻微", "medium": "中等", "high": "严重"}


@dataclass
class Finding:
    rule: str
    title: str
    grade: str
    department: str
    count: int
    message: str
    basis: str = ""

    def __post_init__(self) -> None:
        if self.grade not in GRADES:
            raise ValueError(f"unknown grade {self.grade!r}")


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""
    links: list[str | None] | None = None  # per row, for the first cell


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)  # inline SVG
    anchor: str = ""


@dataclass
class AuditReport:
    name: str  # file stem: "deadlines", "draws"
    title: str
    meta: list[tuple[str, str]]
    findings: list[Finding]
    sections: list[Section]
    data: dict[str, Any]  # the machine-readable results
    notes: list[str] = field(default_factory=list)

    def worst(self) -> str | None:
        present = [f.grade for f in self.findings]
        return max(present, key=GRADES.index) if present else None

    def fails(self, level: str) -> bool:
        return any(GRADES.index(f.grade) >= GRADES.index(level) for f in self.findings)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (-GRADES.index(f.grade), -f.count, f.rule, f.department))

    # --- renderings ---------------------------------------------------------------------
    def to_json(self) -> bytes:
        doc = {"title": self.title, "meta": dict(self.meta), "findings": [asdict(f) for f in self.sorted_findings()],
               "notes": self.notes, "results": self.data}
        return orjson.dumps(doc, default=_plain, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
                            | orjson.OPT_SERIALIZE_NUMPY)

    def to_markdown(self) -> str:
        return _env().get_template("report.md").render(r=self, grade_zh=GRADE_ZH)

    def to_html(self) -> str:
        return _env().get_template("report.html").render(r=self, grade_zh=GRADE_ZH)

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        out = []
        for ext, content in (("html", self.to_html().encode()), ("md", self.to_markdown().encode()), ("json", self.to_json())):
            path = directory / f"{self.name}.{ext}"
            path.write_bytes(content)
            out.append(path)
        return out


def _plain(value: Any) -> Any:
    """numpy scalars (from the statistics) as plain numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not serialisable: {type(value).__name__}")


def _env() -> Environment:
    env = Environment(loader=PackageLoader("liushuang.audit", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cell"] = _cell
    env.filters["md"] = lambda v: _cell(v).replace("|", "\\|").replace("\n", " ")
    return env


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
