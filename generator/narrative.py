"""The narrative pages (methodology, data dictionary, data contract, draw
algorithm, calibration) built by mkdocs-material from ``mkdocs.yml``.

The mkdocs layer stays plain: Markdown, the config and a stylesheet. The
data dictionary is generated from ``schemas/`` at every build, so it can never
disagree with the validator. Only these few pages go through mkdocs; the
record pages are rendered by ``pages.py`` (PERFORMANCE.md).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from liushuang import schemas

from .publish import NEVER

# mkdocs.yml and docs/ sit at the root of the source tree (an editable install
# or a checkout); generator/ is one level below it.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _type(prop: dict) -> str:
    t = prop.get("type", "—")
    if isinstance(t, list):
        t = "/".join(x for x in t if x != "null") + ("（可空）" if "null" in t else "")
    if "$ref" in prop:
        t = prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        t += "：" + "、".join(str(v) for v in prop["enum"] if v is not None)
    return t


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def data_dictionary() -> str:
    """Markdown: one table per record kind, one row per field, from the JSON Schemas."""
    lines = ["# 数据字典", "", "本页由 `schemas/` 中的 JSON Schema 自动生成，与校验器使用的规则完全一致。"
             "“公开”一列说明该字段是否出现在本站页面和下载文件中。", ""]
    for kind in schemas.KINDS:
        schema = schemas.load(kind)
        required = set(schema.get("required", []))
        lines += [f"## {schema.get('title', kind)}（`{kind}`）", ""]
        if schema.get("description"):
            lines += [_cell(schema["description"]), ""]
        lines += ["| 字段 | 中文名称 | 类型 | 必填 | 公开 | 说明 |", "|---|---|---|---|---|---|"]
        for name, prop in schema["properties"].items():
            public = "否" if name in NEVER else "是"
            lines.append(f"| `{name}` | {_cell(prop.get('title', ''))} | {_cell(_type(prop))} | {'是' if name in required else '否'} "
                         f"| {public} | {_cell(prop.get('description', ''))} |")
        lines.append("")
    return "\n".join(lines)


def available() -> bool:
    """The narrative sources ship with a source checkout (``pip install -e .``), not in a wheel."""
    return (SOURCE_ROOT / "mkdocs.yml").exists() and (SOURCE_ROOT / "docs").is_dir()


def build_narrative(out: Path, site_url: str) -> str:
    """Build the narrative pages into ``out``; returns where they came from
    (or why they were skipped: mkdocs.yml is not part of a wheel install)."""
    config_file = SOURCE_ROOT / "mkdocs.yml"
    if not available():
        return "skipped: mkdocs.yml not found (install liushuang from a source checkout to build the narrative pages)"
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    # mkdocs takes a relative site_dir from mkdocs.yml's folder, not the working directory:
    # a build into a relative OUT wrote its narrative pages into the source checkout instead.
    out = Path(out).absolute()

    with tempfile.TemporaryDirectory(prefix="liushuang-docs-") as tmp:
        docs = Path(tmp) / "docs"
        shutil.copytree(SOURCE_ROOT / "docs", docs)
        (docs / "data-dictionary.md").write_text(data_dictionary(), encoding="utf-8")
        logging.getLogger("mkdocs").setLevel(logging.WARNING)
        config = load_config(str(config_file), docs_dir=str(docs), site_dir=str(out), site_url=site_url)
        build(config)
    # Material's search plugin is off (the site has its own search); no sitemap of its own either.
    for extra in ("sitemap.xml", "sitemap.xml.gz"):
        (out / extra).unlink(missing_ok=True)
    return str(config_file)
