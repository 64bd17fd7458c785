"""Machine-readable descriptions of the open data: a DCAT catalogue and schema.org Dataset.

``catalog.jsonld`` describes every dataset and each of its distributions in
the W3C Data Catalog Vocabulary (DCAT 2, https://www.w3.org/TR/vocab-dcat-2/),
as JSON-LD; the downloads page embeds the same datasets as schema.org
``Dataset`` objects (https://schema.org/Dataset) so search engines list them.
Both are derived from the same resource list as ``datapackage.json``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from .downloads import DATASETS

LICENSE = "https://creativecommons.org/licenses/by/4.0/"
PUBLISHER = "市场监督管理部门（依据本站数据生成）"
MEDIA = {"csv": "text/csv", "jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}
DESCRIPTION = {
    "licenses": "本市公示期内的行政许可决定（双公示），已按公开规则去除身份证号、电话和住址。",
    "penalties": "本市公示期内的行政处罚决定（双公示）；仅警告、简易程序和公示期满的决定不在其中。",
    "inspection_tasks": "双随机抽查任务：抽查事项、名录库规模与分层、样本量、承诺哈希、随机种子及抽中对象。",
    "inspection_results": "双随机抽查结果（一公开），按全国信用信息公示系统的检查结果代码。",
}


def write_catalog(root: Path, resources: list[dict[str, Any]], site_url: str, build_date: str) -> dict[str, Any]:
    """Write catalog.jsonld (DCAT) and return it with the schema.org JSON-LD for the downloads page."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in resources:
        by_kind[r["dataset"]].append(r)
    datasets, schema_org = [], []
    for kind, title in DATASETS.items():
        dists = by_kind.get(kind, [])
        if not dists:
            continue
        url = f"{site_url}downloads/#{kind}"
        datasets.append({
            "@id": url, "@type": "dcat:Dataset", "dct:identifier": kind, "dct:title": {"@value": title, "@language": "zh-CN"},
            "dct:description": {"@value": DESCRIPTION[kind], "@language": "zh-CN"}, "dct:license": {"@id": LICENSE},
            "dct:modified": {"@value": build_date, "@type": "xsd:date"}, "dct:publisher": {"@type": "foaf:Agent", "foaf:name": PUBLISHER},
            "dcat:landingPage": {"@id": f"{site_url}downloads/"}, "dcat:keyword": ["双公示", "双随机一公开", "市场监管"],
            "dcat:distribution": [{
                "@type": "dcat:Distribution", "dct:title": d["title"], "dcat:downloadURL": {"@id": site_url + d["path"]},
                "dcat:mediaType": MEDIA[d["format"]], "dcat:byteSize": {"@value": d["bytes"], "@type": "xsd:nonNegativeInteger"},
                "spdx:checksum": {"@type": "spdx:Checksum", "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                                  "spdx:checksumValue": d["hash"].split(":", 1)[1]},
                "dct:license": {"@id": LICENSE}} for d in dists],
        })
        schema_org.append({
            "@context": "https://schema.org", "@type": "Dataset", "name": title, "description": DESCRIPTION[kind], "url": url,
            "license": LICENSE, "dateModified": build_date, "inLanguage": "zh-CN", "isAccessibleForFree": True,
            "creator": {"@type": "Organization", "name": PUBLISHER},
            "distribution": [{"@type": "DataDownload", "encodingFormat": MEDIA[d["format"]], "contentUrl": site_url + d["path"],
                              "contentSize": f"{d['bytes']} B", "sha256": d["hash"].split(":", 1)[1]} for d in dists],
            "variableMeasured": [f["title"] for f in dists[0]["schema"]["fields"]],
        })
    catalog = {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
                     "xsd": "http://www.w3.org/2001/XMLSchema#", "spdx": "http://spdx.org/rdf/terms#"},
        "@id": f"{site_url}catalog.jsonld", "@type": "dcat:Catalog",
        "dct:title": {"@value": "市场监管双公示与双随机抽查公开数据目录", "@language": "zh-CN"},
        "dct:modified": {"@value": build_date, "@type": "xsd:date"}, "dct:license": {"@id": LICENSE},
        "dcat:dataset": datasets,
    }
    (root / "catalog.jsonld").write_bytes(orjson.dumps(catalog, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    # "</" can never occur in orjson output of these values except inside strings; escape it so the script element cannot end early.
    jsonld = orjson.dumps(schema_org, option=orjson.OPT_SORT_KEYS).decode().replace("</", "<\\/")
    return {"catalog": catalog, "jsonld": jsonld}
