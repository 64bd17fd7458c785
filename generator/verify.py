"""``liushuang verify OUT DATA``: reconcile a built site with its input.

The check reads what the build wrote — pages, search index, downloads, feeds,
manifest — never the builder's memory, and compares it with what the
publication rules say about DATA on the site's build date:

* every publishable record has its page (naming it), appears on its entity's
  page, in the search index and in every download format;
* nothing withheld (warnings only, summary procedure, expired, revoked, not yet
  due) or rejected by validation has a page, a link, a search entry, a feed
  entry or a download row;
* no full ID number, mobile phone number or street address anywhere in the
  output (pages, search index, downloads including Parquet, feeds);
* every internal link and asset resolves; nothing is fetched from elsewhere;
* ``manifest.json`` matches the files exactly.

Files are scanned in forked workers (two cores: the scan is CPU-bound).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import os
import pickle
import posixpath
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson

from liushuang import ids, schemas
from liushuang.locations import RemotePath, location
from liushuang.parallel import fork_map, shared
from liushuang.policy import Policy
from liushuang.urls import record_path, slug

from . import manifest
from .pages import KEY
from .publish import DIGIT_RUN, Publisher
from .validate import LineCache, Validator

CHECKS = {
    "missing-page": "应公开的记录没有页面，或页面没有写明该记录",
    "missing-on-entity-page": "应公开的记录没有出现在其主体页面上",
    "missing-in-search": "应公开的记录不在搜索索引中",
    "missing-in-downloads": "应公开的记录不在下载文件中",
    "withheld-present": "不应公开的记录（未通过校验、仅警告、简易程序、公示期满、已撤销或未到公示日期）出现在网站上",
    "personal-data": "网站上出现了完整的身份证号码、手机号码或住址",
    "broken-link": "内部链接或资源指向不存在的文件",
    "external-request": "页面从站外加载资源",
    "manifest-mismatch": "manifest.json 与实际文件不一致",
}
KEYED = KEY  # kinds with a page of their own, by their key field
DOWNLOADED = ("licenses", "penalties", "inspection_tasks", "inspection_results")
# A file changed within this long before a scan began is read again by the next one, whatever
# its stat says: file times are kept to a clock tick (a few ms), and a build may rewrite a file
# in the same tick with the same size. Git's index has the same rule ("racy git").
RACY_NS = 2_000_000_000
# A street address: two Chinese characters, a street word, a number, 号. The regex
# looks for the street word and number only (four times faster than starting from
# every Chinese character); the two characters before are checked on each hit.
_ADDRESS = re.compile(r"(?:路|街|大道|巷|弄|胡同)\d{1,5}号")
_CJK = re.compile(r"[\u4e00-\u9fa5]{2}")
# An ID number or a mobile number, in one pass; told apart by length.
_NUMBER = re.compile(r"(?<![0-9A-Za-z*])(?:\d{17}[0-9Xx]|1[3-9]\d{9})(?![0-9A-Za-z])")
_REF = re.compile(rb'<(a|link|script|img|iframe|source)\b[^>]*?\b(href|src)="([^"]*)"[^>]*>', re.S)
_H1 = re.compile(rb"<h1[^>]*>(.*?)</h1>", re.S)
_REL = re.compile(rb'\brel="([^"]*)"')
FETCHED_RELS = {b"stylesheet", b"icon", b"preload", b"modulepreload", b"manifest", b"prefetch"}


@dataclass
class Finding:
    check: str
    path: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "title": CHECKS[self.check], "path": self.path, "detail": self.detail}


@dataclass
class VerifyReport:
    site: str
    data: str
    build_date: str
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, check: str, path: str, detail: str) -> None:
        self.findings.append(Finding(check, path, detail))

    def as_json(self) -> dict[str, Any]:
        by_check: dict[str, int] = defaultdict(int)
        for f in self.findings:
            by_check[f.check] += 1
        return {"site": self.site, "data": self.data, "build_date": self.build_date, "ok": self.ok, "checked": self.checked,
                "counts": {c: by_check.get(c, 0) for c in CHECKS}, "findings": [f.as_json() for f in self.findings]}

    def render_text(self, limit: int = 20) -> str:
        lines = [f"核对网站 {self.site} 与数据 {self.data}（构建日期 {self.build_date}）"]
        lines += [f"  已核对 {k}：{v}" for k, v in self.checked.items()]
        if self.ok:
            lines.append("结论：一致，没有发现问题。")
            return "\n".join(lines)
        groups: dict[str, list[Finding]] = defaultdict(list)
        for f in self.findings:
            groups[f.check].append(f)
        lines.append(f"结论：发现 {len(self.findings)} 处问题。")
        for check, items in groups.items():
            lines.append(f"\n[{check}] {CHECKS[check]}：{len(items)} 处")
            lines += [f"  {f.path}：{f.detail}" for f in items[:limit]]
            if len(items) > limit:
                lines.append(f"  ……另有 {len(items) - limit} 处（完整列表见 --json）")
        return "\n".join(lines)


@dataclass
class _Expected:
    published: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))   # kind -> keys
    withheld: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))  # kind -> key -> reason
    decisions_of: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))  # uscc -> {(kind, key)}
    entities: set[str] = field(default_factory=set)
    results: set[tuple[str, str]] = field(default_factory=set)  # (task_id, uscc)


def _key(kind: str, rec: dict[str, Any]) -> str | None:
    if kind in KEYED:
        return rec.get(KEYED[kind])
    if kind == "entities":
        return rec.get("uscc")
    if kind == "inspection_results":
        return f"{rec.get('task_id')}/{rec.get('uscc')}"
    return None


@dataclass(frozen=True)
class _Facts:
    """What verify needs of one valid record: [key, withheld reason, uscc, task id], or None for
    kinds it does not check. Computed where the record is validated (the workers) without
    the build date, as [key, timeline, uscc, task id], which a ``validate.LineCache`` may
    keep; ``settle`` applies the date in the main process."""

    publisher: Publisher

    def __call__(self, kind: str, rec: dict[str, Any]) -> list[Any] | None:
        key = _key(kind, rec)
        return None if key is None else [key, self.publisher.timeline(kind, rec), rec.get("uscc"), rec.get("task_id")]

    def settle(self, kind: str, facts: list[Any] | None) -> list[Any] | None:
        return None if facts is None else [facts[0], self.publisher.reason_at(facts[1]), *facts[2:]]

    def salt(self) -> bytes:
        return b"verify:" + orjson.dumps(self.publisher.policy.raw, option=orjson.OPT_SORT_KEYS, default=str)


def _expected(data: Path | RemotePath, policy: Policy, build_date: dt.date, cache: Path | None = None) -> tuple[_Expected, int]:
    exp = _Expected()

    def sink(kind: str, facts: list[Any] | None) -> None:
        if facts is None:
            return
        key, reason, uscc, task_id = facts
        if reason:
            exp.withheld[kind][key] = reason
            return
        exp.published[kind].add(key)
        if kind in ("licenses", "penalties") and uscc:
            exp.decisions_of[uscc].add((kind, key))
            exp.entities.add(uscc)
        elif kind == "inspection_results":
            exp.results.add((task_id, uscc))
            exp.entities.add(uscc)
        elif kind == "entities":
            exp.entities.add(key)

    facts = _Facts(Publisher(policy, build_date))
    lines = LineCache(cache / "validation", facts.salt()) if cache is not None else None
    report = Validator(policy, progress=False).validate_dir(data, sink=sink, prepare=facts, cache=lines)
    for issue in report.issues:
        if issue.severity == "error" and issue.record_id and issue.kind in KEYED:
            exp.withheld[issue.kind].setdefault(issue.record_id, f"rejected:{issue.rule}")
    # A key both published and withheld (a rejected duplicate of a published record) is published.
    for kind, keys in exp.withheld.items():
        for key in list(keys):
            if key in exp.published[kind]:
                del keys[key]
    return exp, sum(k.read for k in report.kinds.values())


# --- scanning the output (forked workers) ---------------------------------------------------

def _read(root: Path, path: str) -> tuple[bytes, str]:
    """A file's bytes (decompressed when gzip) and its text; Parquet as its decoded values."""
    with open(os.path.join(root, path), "rb") as fh:
        return _decoded(path, fh.read())


def _decoded(path: str, raw: bytes) -> tuple[bytes, str]:
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return raw, str(pq.read_table(io.BytesIO(raw)).to_pylist())
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw, raw.decode("utf-8", errors="replace")


def _personal(text: str) -> list[str]:
    found: list[str] = []
    if DIGIT_RUN.search(text):  # both an ID number and a mobile number hold a run of 11 digits
        for m in _NUMBER.finditer(text):
            number = m.group(0)
            if len(number) == 11:
                found.append(f"手机号码 {number[:3]}…")
            elif ids.is_valid_id_number(number.upper()):
                found.append(f"身份证号码 {number[:6]}…")
    if "号" in text:  # every street address this looks for ends in 号
        found += [f"住址 {text[max(0, m.start() - 6):m.end()]}" for m in _ADDRESS.finditer(text)
                  if m.start() >= 2 and _CJK.fullmatch(text, m.start() - 2, m.start())]
    return found


def _normal(path: str) -> str:
    resolved = posixpath.normpath(path)
    return "" if resolved == "." else resolved


class _FileFacts(NamedTuple):
    """What the scan learns from one file by itself (its checks against the other files,
    such as whether a link resolves, are made afresh every time). A tuple, not a
    dataclass: a city's cache holds 680,000 of them, and a tuple unpickles ten times faster."""

    findings: tuple[tuple[str, str], ...]   # (check, detail) found in the file alone
    anchors: tuple[str, ...]                # search anchors of a Pagefind fragment
    title: str | None                       # a record page's h1 (a task page's whole text)
    resolved: tuple[str, ...]               # every internal link, resolved to a site path
    links: int                              # internal links counted (including those leaving the site)
    keys: tuple[str, ...] = ()              # a download file's record keys (``_download_file_keys``)


def _file_facts(path: str, raw: bytes, text: str, from_root: dict[str, str], with_hrefs: bool = False) -> tuple[_FileFacts, list[str]]:
    """The facts of one file, and (``with_hrefs``) each resolved link's href as written."""
    findings = [("personal-data", what) for what in _personal(text)]
    if path.endswith(".pf_fragment"):
        try:
            frag = orjson.loads(text.removeprefix("pagefind_dcd"))
        except orjson.JSONDecodeError:
            return _FileFacts((*findings, ("manifest-mismatch", "搜索索引片段无法解析")), (), None, (), 0), []
        return _FileFacts(tuple(findings), tuple(a["id"] for a in frag.get("anchors", []) if a.get("id")), None, (), 0), []
    if not path.endswith(".html"):
        keys, unreadable = _download_file_keys(path, raw)
        if unreadable:
            findings.append(("missing-in-downloads", unreadable))
        return _FileFacts(tuple(findings), (), None, (), 0, keys), []
    page_dir = posixpath.dirname(path)
    up = "../" * (page_dir.count("/") + 1) if page_dir else ""
    parts = path.split("/")
    title = None
    if len(parts) == 3 and parts[0] in ("penalties", "licenses", "inspection_tasks") and parts[2] == "index.html":
        # A decision page names its number in its title; a task page names its id in its table.
        m = _H1.search(raw)
        title = text if parts[0] == "inspection_tasks" else (m.group(1).decode("utf-8", errors="replace") if m else "")
    resolved_links: list[str] = []
    hrefs: list[str] = []
    links = 0
    for m in _REF.finditer(raw):
        tag, attr, href = m.group(1), m.group(2), m.group(3).decode("utf-8", errors="replace")
        if href.startswith(("http:", "https:", "//")):
            rel = _REL.search(m.group(0))
            if attr == b"src" or (tag == b"link" and rel and rel.group(1) in FETCHED_RELS):
                findings.append(("external-request", href))
            continue
        if not href or href.startswith(("data:", "mailto:", "#")):
            continue
        target = unquote(href.split("#")[0].split("?")[0])
        if up and target.startswith(up) and not target.startswith("../", len(up)):
            # Relative to the site root (the pages' own links are): the same for every page.
            rest = target[len(up):]
            resolved = from_root.get(rest)
            if resolved is None:
                resolved = from_root[rest] = _normal(rest)
        else:
            resolved = _normal(target.lstrip("/") if target.startswith("/") else posixpath.join(page_dir, target))
        links += 1
        if resolved.startswith("../") or resolved == "..":
            findings.append(("broken-link", f"{href}（指向网站之外）"))
            continue
        resolved_links.append(resolved)
        if with_hrefs:
            hrefs.append(href)
    return _FileFacts(tuple(findings), (), title, tuple(resolved_links), links), hrefs


def _stat_key(st: os.stat_result, started_ns: int) -> tuple[int, int, int] | None:
    """What identifies a file's bytes without reading them, as rsync's quick check and git's
    index do: its inode, size and modification time (ns), or None when that time is too close
    to the scan's start (``RACY_NS``) to tell a later write of the same size from it."""
    return None if st.st_mtime_ns >= started_ns - RACY_NS else (st.st_ino, st.st_size, st.st_mtime_ns)


def _scan(paths: list[str]) -> dict[str, Any]:
    """Scan some files: each is hashed and checked against the manifest; its facts come from
    the cache (``known``: path → (stat key, SHA-256, facts) of an earlier scan) when its bytes
    are the same. A file whose stat key is the cached one is not read at all."""
    root, files, known, listed, started_ns = shared()
    findings: list[tuple[str, str, str]] = []
    linked: set[str] = set()                # internal targets of links to record pages (site paths)
    entity_links: set[tuple[str, str]] = set()  # (entity page dir, linked record page dir)
    titles: dict[str, str] = {}             # record page dir -> h1 text
    anchors: set[str] = set()               # search anchors
    keys: dict[str, tuple[str, ...]] = {}   # download file -> its record keys
    from_root: dict[str, str] = {}           # resolved links relative to the site root
    fresh: dict[str, tuple[Any, str, _FileFacts]] = {}  # cache entries made or renewed here
    links = unread = 0
    for path in paths:
        full = os.path.join(root, path)
        cached = known.get(path)
        st = os.stat(full)
        stat_key = _stat_key(st, started_ns)
        if cached is not None and stat_key is not None and cached[0] == stat_key:
            digest, size, facts = cached[1], st.st_size, _FileFacts._make(cached[2])
            unread += 1
        else:
            with open(full, "rb") as fh:
                raw = fh.read()
            digest, size = hashlib.sha256(raw).hexdigest(), len(raw)
            if cached is not None and cached[1] == digest:
                facts = _FileFacts._make(cached[2])
            else:
                raw, text = _decoded(path, raw)
                facts = _file_facts(path, raw, text, from_root)[0]
            fresh[path] = (stat_key, digest, facts)
        entry = listed.get(path)
        if entry is None:
            findings.append(("manifest-mismatch", path, "文件存在，但不在清单中"))
        elif entry != (digest, size):
            findings.append(("manifest-mismatch", path, "内容与清单中的 SHA-256 不符"))
        findings += [(check, path, detail) for check, detail in facts.findings]
        anchors.update(facts.anchors)
        if facts.keys:
            keys[path] = facts.keys
        links += facts.links
        if not facts.resolved:
            continue
        page_dir = posixpath.dirname(path)
        if facts.title is not None:
            titles[page_dir] = facts.title
        on_entity = path.startswith("entities/")
        broken = False
        for resolved in facts.resolved:
            record = resolved.partition("/")[0] in KEYED  # only links to record pages are looked up by the main process
            if on_entity and record:
                entity_links.add((page_dir, resolved))  # listed on the entity page, even if its link is broken
            if resolved not in files and (f"{resolved}/index.html" if resolved else "index.html") not in files:
                broken = True
                continue
            if record:
                linked.add(resolved)
        if broken:  # name the links as written: read the file again
            raw, text = _read(root, path)
            again, hrefs = _file_facts(path, raw, text, from_root, with_hrefs=True)
            findings += [("broken-link", path, href) for resolved, href in zip(again.resolved, hrefs)
                         if resolved not in files and (f"{resolved}/index.html" if resolved else "index.html") not in files]
    return {"findings": findings, "linked": linked, "entity_links": entity_links, "titles": titles, "anchors": anchors, "links": links,
            "keys": keys, "fresh": fresh, "unread": unread}


def _download_file_keys(path: str, raw: bytes) -> tuple[tuple[str, ...], str | None]:
    """The record keys in one download file (``downloads/KIND/YEAR.FORMAT``, KIND one of
    ``DOWNLOADED``): the key field of a kind with pages, ``task_id/uscc`` of a result.
    Only the key columns are read. Other files have none. The second value says why
    the file could not be read (its records are then also reported missing from it)."""
    parts = path.split("/")
    fmt = path.rpartition(".")[2]
    if len(parts) != 3 or parts[0] != "downloads" or parts[1] not in DOWNLOADED or fmt not in ("csv", "jsonl", "parquet"):
        return (), None
    kind = parts[1]
    key_field = KEYED.get(kind)
    fields = [key_field] if key_field else ["task_id", "uscc"]

    def joined(values: list[Any]) -> str:
        return values[0] if key_field else f"{values[0]}/{values[1]}"

    try:
        if fmt == "jsonl":
            return tuple(joined([rec.get(f) for f in fields]) for rec in (orjson.loads(line) for line in raw.splitlines() if line)), None
        if fmt == "csv":
            titles = schemas.titles(kind)
            reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
            header = next(reader, [])
            columns = [header.index(titles[f]) if titles.get(f) in header else header.index(f) if f in header else None for f in fields]
            return tuple(joined([row[c] if c is not None and c < len(row) else "" for c in columns]) for row in reader), None
        import pyarrow.parquet as pq

        buffer = io.BytesIO(raw)
        names = set(pq.read_schema(buffer).names)
        table = pq.read_table(buffer, columns=[f for f in fields if f in names])
        columns = [table.column(f).to_pylist() if f in names else [None] * table.num_rows for f in fields]
        return tuple(joined(list(values)) for values in zip(*columns)), None
    except (ValueError, OSError, UnicodeDecodeError, AttributeError) as e:
        return (), f"下载文件无法读取：{e}"


def default_cache(site: Path) -> Path:
    """Beside the site, never published: verify's memory of the last run (``--no-cache`` to do without)."""
    return site.parent / f".{site.name}.verify-cache"


class _ScanCache:
    """What the last scan learnt from each file: path → (stat key, SHA-256 of its bytes, facts).
    A file whose inode, size and modification time are those kept (``_stat_key``) is not
    read again; one whose bytes hash the same is not parsed again. Links are resolved, the
    manifest compared and withheld records looked for afresh every time. Tied to this
    module's code. ``--no-cache`` reads and hashes every file."""

    VERSION = 2

    def __init__(self, folder: Path) -> None:
        from liushuang import __version__

        self.path = folder / "files.pickle"
        self.salt = hashlib.sha256(f"{self.VERSION}:{__version__}".encode() + Path(__file__).read_bytes()).hexdigest()

    def load(self) -> dict[str, tuple[Any, str, tuple[Any, ...]]]:
        try:
            with open(self.path, "rb") as fh:
                if pickle.load(fh) != [self.VERSION, self.salt]:
                    return {}
                known = pickle.load(fh)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError, AttributeError, ImportError, IndexError):
            return {}
        # Facts are kept as plain tuples, which unpickle in C (through _FileFacts.__new__ they took
        # seconds for a city); the scan's workers make each a _FileFacts again as they use it.
        return known if isinstance(known, dict) else {}

    def save(self, known: dict[str, tuple[Any, str, _FileFacts]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with open(tmp, "wb") as fh:
            pickle.dump([self.VERSION, self.salt], fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump({path: (stat_key, digest, tuple(facts)) for path, (stat_key, digest, facts) in known.items()}, fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)


def verify(site: str | Path, data: str | Path | RemotePath, policy: Policy, *, build_date: dt.date | None = None, workers: int | None = None,
           echo: Callable[[str], None] | None = None, cache: Path | None = None) -> VerifyReport:
    """Check SITE against DATA (see the module's docstring). With ``cache`` (a folder,
    e.g. ``default_cache(site)``), input lines and output files whose bytes are those
    of the last run are not parsed again, and files whose inode, size and modification
    time are those of the last run not even read; every check is still made on every
    record and file."""
    site, data = Path(site), location(data)
    say = echo or (lambda m: None)
    build_report = site / "build-report.json"
    if build_date is None:
        if not build_report.exists():
            raise FileNotFoundError(f"{build_report} 不存在：请用 --build-date 指定构建日期")
        build_date = dt.date.fromisoformat(orjson.loads(build_report.read_bytes())["build_date"])
    report = VerifyReport(str(site), str(data), build_date.isoformat())
    started = [time.perf_counter()]
    announce = say

    def say(message: str) -> None:  # each step with the time the one before it took
        now = time.perf_counter()
        if message[0] != "1":
            announce(f"  （用时 {now - started[0]:.1f} 秒）")
        started[0] = now
        announce(message)

    say("1/4 按公开规则重新判定每条记录")
    exp, n_input = _expected(data, policy, build_date, cache)
    report.checked["input records"] = n_input

    files_on_disk = manifest.site_files(site)
    report.checked["files"] = len(files_on_disk)

    try:
        listed = manifest.load(site)
        if not isinstance(listed, dict) or not all(isinstance(entry, dict) for entry in listed.values()):
            raise ValueError("files 不是路径到 {sha256, size} 的映射")
    except FileNotFoundError as e:
        report.add("manifest-mismatch", manifest.NAME, str(e))
        listed = {}
    except (ValueError, KeyError, TypeError) as e:  # not JSON, or not a manifest: every file is then unlisted
        report.add("manifest-mismatch", manifest.NAME, f"无法读取：{e}")
        listed = {}
    # (SHA-256, size) tuples, not the manifest's dicts: the scan's workers share them with this
    # process, and each they read is copied into the worker (reference counts); a third the memory.
    listed = {path: (entry.get("sha256"), entry.get("size")) for path, entry in listed.items()}

    say(f"2/4 扫描 {len(files_on_disk)} 个文件（个人信息、链接、搜索索引，SHA-256 与 manifest.json 是否相符）")
    files = frozenset(files_on_disk)
    size = max(200, len(files_on_disk) // 64)
    chunks = [files_on_disk[i:i + size] for i in range(0, len(files_on_disk), size)]
    scan_cache = _ScanCache(cache / "scan") if cache is not None else None
    known = scan_cache.load() if scan_cache is not None else {}
    started_ns = time.time_ns()
    parts = fork_map(_scan, chunks, (site, files, known, listed, started_ns), parallel=len(chunks) > 1, workers=workers)
    fresh_count = sum(len(p["fresh"]) for p in parts)
    if scan_cache is not None:
        if fresh_count or len(known) != len(files_on_disk):  # else the cache is already what it would be written as
            entries = {p: known[p] for p in files_on_disk if p in known}
            for part in parts:
                entries.update(part["fresh"])
            scan_cache.save(entries)
        report.checked["files taken from the scan cache"] = len(files_on_disk) - sum(
            1 for part in parts for path, entry in part["fresh"].items() if known.get(path, (None, None))[1] != entry[1])
        report.checked["files not read again (same inode, size and time)"] = sum(p["unread"] for p in parts)
    del known
    linked: set[str] = set()
    entity_links: set[tuple[str, str]] = set()
    titles: dict[str, str] = {}
    anchors: set[str] = set()
    file_keys: dict[str, tuple[str, ...]] = {}
    for part in parts:
        for check, path, detail in part["findings"]:
            report.add(check, path, detail)
        linked |= part["linked"]
        entity_links |= part["entity_links"]
        titles.update(part["titles"])
        anchors |= part["anchors"]
        file_keys.update(part["keys"])
    report.checked["internal links"] = sum(p["links"] for p in parts)

    say("3/4 核对 manifest.json 列出的文件是否都在")
    for path in sorted(set(listed) - files):
        report.add("manifest-mismatch", path, "清单中有，但文件不存在")

    say("4/4 逐条核对应公开与不应公开的记录")
    import html as html_lib

    downloads: dict[str, dict[str, dict[str, str]]] = {kind: {fmt: {} for fmt in ("csv", "jsonl", "parquet")} for kind in DOWNLOADED}
    for path in sorted(file_keys):  # format → key → the file it is in
        _, kind, name = path.split("/")
        downloads[kind][name.rpartition(".")[2]].update(dict.fromkeys(file_keys[path], path))
    feeds_text = "".join(_read(site, p)[1] for p in files_on_disk if p.startswith("feeds/"))
    for kind in KEYED:
        for key in sorted(exp.published[kind]):
            page = record_path(kind, key).rstrip("/")
            if page not in titles:
                report.add("missing-page", page, f"{key}：页面不存在")
            elif key not in html_lib.unescape(titles[page]):
                report.add("missing-page", page, f"{key}：页面没有写明该记录的编号")
    searchable = (site / "search" / "shards.json").exists()  # a site built with --no-search has no index to check
    report.checked["search anchors"] = len(anchors) if searchable else 0
    for kind in ("licenses", "penalties") if searchable else ():
        for key in sorted(exp.published[kind]):
            if f"{kind}--{slug(key)}" not in anchors:
                report.add("missing-in-search", record_path(kind, key), key)
    for uscc, decisions in sorted(exp.decisions_of.items()):
        entity = record_path("entities", uscc).rstrip("/")
        for kind, key in sorted(decisions):
            if (entity, record_path(kind, key).rstrip("/")) not in entity_links:
                report.add("missing-on-entity-page", entity, f"{key} 不在主体页面上")
    for uscc in sorted(exp.entities):
        page = record_path("entities", uscc).rstrip("/")
        if f"{page}/index.html" not in files:
            report.add("missing-page", page, f"主体 {uscc} 没有页面")
        if searchable and f"entities--{slug(uscc)}" not in anchors:
            report.add("missing-in-search", page, f"主体 {uscc}")
    for task_id, uscc in sorted(exp.results):
        if searchable and f"entities--{slug(uscc)}--{slug(task_id)}" not in anchors:
            report.add("missing-in-search", record_path("entities", uscc), f"抽查结果 {task_id}")
    for kind in DOWNLOADED:
        want = exp.published[kind] if kind in KEYED else {f"{t}/{u}" for t, u in exp.results}
        for fmt, keys in sorted(downloads[kind].items()):
            for key in sorted(want - keys.keys()):
                report.add("missing-in-downloads", f"downloads/{kind}/*.{fmt}", key)
            for key in sorted(keys.keys() - want):
                reason = exp.withheld.get(kind, {}).get(key, "不在应公开的记录中")
                report.add("withheld-present", keys[key], f"{key}（{reason}）")
    for key, reason in sorted(exp.withheld.get("inspection_results", {}).items()):
        task_id, uscc = key.split("/", 1)
        if f"entities--{slug(uscc)}--{slug(task_id)}" in anchors:
            report.add("withheld-present", record_path("entities", uscc), f"抽查结果 {task_id}（{reason}）出现在：搜索索引")
    for kind, keys in exp.withheld.items():
        if kind not in KEYED:
            continue
        for key, reason in sorted(keys.items()):
            page = record_path(kind, key).rstrip("/")
            where = []
            if f"{page}/index.html" in files:
                where.append("页面")
            if page in linked:
                where.append("链接")
            if kind in ("licenses", "penalties") and f"{kind}--{slug(key)}" in anchors:
                where.append("搜索索引")
            if f"/{page}/" in feeds_text:
                where.append("订阅")
            if where:
                report.add("withheld-present", page, f"{key}（{reason}）出现在：{'、'.join(where)}")
    report.checked["published records"] = sum(len(v) for v in exp.published.values())
    report.checked["withheld records"] = sum(len(v) for v in exp.withheld.values())
    announce(f"  （用时 {time.perf_counter() - started[0]:.1f} 秒）")
    return report

