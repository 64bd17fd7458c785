"""Policy values (not law) with their sources, overridable per city."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Policy:
    raw: dict[str, Any] = field(repr=False)
    source: str = "default"

    @property
    def known_regions(self) -> dict[str, str]:
        return dict(self.raw["regions"]["known"])

    @property
    def long_term_date(self) -> str:
        return str(self.raw["validation"]["long_term_date"])

    def deadline(self, name: str) -> int:
        return int(self.raw["deadlines"][name])


def default_policy_text() -> str:
    return resources.files("liushuang").joinpath("policy.toml").read_text("utf-8")


def load_policy(path: str | Path | None = None) -> Policy:
    raw = tomllib.loads(default_policy_text())
    if path is None:
        return Policy(raw)
    with open(path, "rb") as fh:
        override = tomllib.load(fh)
    return Policy(_merge(raw, override), source=str(path))
