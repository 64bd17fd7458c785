"""The data contract: one JSON Schema (draft 2020-12) per record kind.

The JSON files beside this module are the source of truth; this module only
loads them, in the order in which records must be validated (a kind may refer
only to kinds before it, so references are checked while streaming).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

# Dependency order: every reference points to an earlier kind.
KINDS: tuple[str, ...] = (
    "entities",
    "inspectors",
    "inspection_items",
    "notifications",
    "licenses",
    "penalties",
    "feedback",
    "tracking",
    "assessments",
    "inspection_tasks",
    "inspection_results",
)

SCHEMA_VERSION = "1.0"
COMMON = "common"


@cache
def load(kind: str) -> dict[str, Any]:
    if kind not in KINDS and kind != COMMON:
        raise KeyError(kind)
    text = resources.files(__name__).joinpath(f"{kind}.schema.json").read_text("utf-8")
    return json.loads(text)


def key_fields(kind: str) -> list[str]:
    return list(load(kind)["x-key"])


def titles(kind: str) -> dict[str, str]:
    """Field name -> Chinese title, for messages and the data dictionary."""
    return {name: prop.get("title", name) for name, prop in load(kind)["properties"].items()}
