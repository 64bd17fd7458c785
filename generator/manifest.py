"""The site's manifest (path → SHA-256 and size) and the difference between two builds.

Every build writes ``manifest.json`` listing every other file it wrote. A
nightly job uploads what ``liushuang diff OLD NEW`` lists: files that are new
or changed, and files to delete remotely (an expired penalty's page must
disappear from the server too, not only from the new build).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

NAME = "manifest.json"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def site_files(root: Path, known: Collection[str] = (), record_folders: Collection[str] = ()) -> list[str]:
    """Every file under ``root`` but the manifest itself, as sorted POSIX paths.

    ``known`` files (the pages the build wrote) are taken as listed, and a record's
    folder (``F/slug/`` for F in ``record_folders``: most of a city's 600,000
    folders) holding nothing known but its ``index.html`` is not read again:
    only the record's page is ever written there."""
    leaves = _leaves(known, set(record_folders))
    out = [p for p in known if p != NAME]
    # An explicit stack of os.scandir calls rather than os.walk, which checks each of a city's
    # 650,000 folders for being a symbolic link with a system call of its own; a directory
    # entry already says so. Symbolic links to folders are not followed, as with os.walk.
    stack = [(os.fspath(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                path = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if path not in leaves:
                        stack.append((entry.path, path + "/"))
                elif path != NAME and path not in known:
                    out.append(path)
    return sorted(out)


def _leaves(known: Collection[str], record_folders: set[str]) -> set[str]:
    """Record folders whose only known content is their index.html."""
    if not record_folders:
        return set()
    pages = {folder for p in known if p.endswith("/index.html")
             for folder in [p[: -len("/index.html")]] if folder.rpartition("/")[0] in record_folders}
    parents = set()
    for p in known:
        folder = p.rpartition("/")[0]
        if p.endswith("/index.html"):
            folder = folder.rpartition("/")[0]
        while folder and folder not in parents:
            parents.add(folder)
            folder = folder.rpartition("/")[0]
    return pages - parents


def compute(root: Path, *, workers: int = 4, previous: Any = None, known: dict[str, dict[str, Any]] | None = None,
            paths: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """path → {"sha256", "size"} for every file of the site (hashing releases the GIL:
    threads suffice). ``known`` entries (pages hashed as they were written) are
    taken as they are; a file hard-linked from ``previous`` (a ``pages.Previous``)
    is the very same file: its hash is taken from the previous manifest."""
    paths = site_files(root) if paths is None else paths
    known = known or {}
    todo = [p for p in paths if p not in known]

    def one(path: str) -> tuple[str, dict[str, Any]]:
        full = root / path
        st = full.stat()
        if previous is not None and st.st_nlink > 1 and path in previous.files:
            try:
                if os.stat(previous.root / path).st_ino == st.st_ino:
                    return path, previous.files[path]
            except OSError:
                pass
        return path, {"sha256": sha256_file(full), "size": st.st_size}

    with ThreadPoolExecutor(workers) as pool:
        found = dict(pool.map(one, todo, chunksize=256))
    return {p: known[p] if p in known else found[p] for p in paths}


def write(root: Path, files: dict[str, dict[str, Any]]) -> None:
    (root / NAME).write_bytes(orjson.dumps({"version": 1, "files": files}, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))


def load(path: Path) -> dict[str, dict[str, Any]]:
    """A manifest from a site folder or a manifest file."""
    file = path / NAME if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"{file}：没有 manifest.json（不是 liushuang 构建的网站？）")
    return orjson.loads(file.read_bytes())["files"]


@dataclass
class Diff:
    upload: list[str] = field(default_factory=list)   # new or changed in NEW
    delete: list[str] = field(default_factory=list)   # in OLD, gone from NEW
    unchanged: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"upload": self.upload, "delete": self.delete, "unchanged": self.unchanged}


def diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> Diff:
    d = Diff()
    for path, meta in new.items():
        if old.get(path, {}).get("sha256") == meta["sha256"]:
            d.unchanged += 1
        else:
            d.upload.append(path)
    d.delete = sorted(set(old) - set(new))
    d.upload.sort()
    # The manifest itself changes whenever anything does; upload it last.
    if d.upload or d.delete:
        d.upload.append(NAME)
    return d


def publish_remote(site: Path, url: str) -> Diff:
    """Like ``publish`` for an fsspec URL (``s3://bucket/prefix``, ``memory://…``, any
    filesystem fsspec knows): only changed files are uploaded, removed ones deleted,
    the manifest last. Object stores have no rename: each object is replaced whole."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    manifest_path = f"{root}/{NAME}"
    old = orjson.loads(fs.cat_file(manifest_path))["files"] if fs.exists(manifest_path) else {}
    d = diff(old, load(site))
    for path in d.upload:
        if path != NAME:
            fs.put_file(str(site / path), f"{root}/{path}")
    for path in d.delete:
        if fs.exists(f"{root}/{path}"):
            fs.rm_file(f"{root}/{path}")
    fs.put_file(str(site / NAME), manifest_path)
    return d


def publish(site: Path, dest: Path | str) -> Diff:
    """Bring the folder ``dest`` (a web server's document root) from what it holds
    to ``site``, touching only what changed: changed and new files are copied
    (each to a temporary name, then renamed over the old one, so a reader never
    sees half a file), removed files are deleted, and the manifest goes last —
    until then ``dest`` still describes itself correctly as the old site."""
    import shutil

    if isinstance(dest, str) and "://" in dest:
        return publish_remote(site, dest)
    dest = Path(dest)
    new = load(site)
    old = load(dest) if (dest / NAME).exists() else {}
    d = diff(old, new)
    dest.mkdir(parents=True, exist_ok=True)
    for path in d.upload:
        if path == NAME:
            continue
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.liushuang-tmp")
        shutil.copyfile(site / path, tmp)
        os.replace(tmp, target)
    for path in d.delete:
        (dest / path).unlink(missing_ok=True)
        parent = (dest / path).parent
        while parent != dest and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    tmp = dest / f".{NAME}.liushuang-tmp"
    shutil.copyfile(site / NAME, tmp)
    os.replace(tmp, dest / NAME)
    return d
