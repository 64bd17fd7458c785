"""Stable, safe URL paths of record pages (shared by the site and the reports)."""

from __future__ import annotations

import hashlib
import re

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def slug(key: str) -> str:
    """A file-system and URL safe name for a record key: the key itself when
    it is plain ASCII, else a hash of it (decision numbers are Chinese, and
    ids crafted as paths must never leave the output directory)."""
    if _PLAIN.fullmatch(key):
        return key
    return "h" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def record_path(kind: str, key: str) -> str:
    return f"{kind}/{slug(key)}/"
