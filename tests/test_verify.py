"""`liushuang verify`, `liushuang diff` and the build's reliability: each verify
check against a site broken in exactly that way, manifests, atomic replacement,
a build killed mid-way."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from liushuang.generator import manifest, site, verify

from liushuang.cli import main
from liushuang.policy import load_policy
from liushuang.urls import record_path

DAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def good_site(tmp_path_factory, clean_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("verify") / "site"
    site.build(clean_dir, out, load_policy(), build_date=DAY)
    return out


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory, good_site: Path, clean_dir: Path) -> Path:
    """What verify keeps after checking the good site."""
    folder = tmp_path_factory.mktemp("warm") / "cache"
    assert verify.verify(good_site, clean_dir, load_policy(), cache=folder).ok
    return folder


@pytest.fixture(params=["uncached", "warm cache"])
def broken(request, tmp_path: Path, good_site: Path, monkeypatch) -> Path:
    """A private copy of the good site, to break. Each breakage must be found by a verify
    that has no cache, and by one whose cache holds the good site's facts."""
    out = tmp_path / "site"
    shutil.copytree(good_site, out)
    if request.param == "warm cache":
        folder = tmp_path / "cache"
        shutil.copytree(request.getfixturevalue("warm_cache"), folder)
        monkeypatch.setattr(verify, "verify", functools.partial(verify.verify, cache=folder))
    return out


def _remanifest(out: Path) -> None:
    """As if the build itself had produced the broken site: the manifest agrees with it."""
    manifest.write(out, manifest.compute(out))


def _checks(out: Path, data: Path) -> set[str]:
    report = verify.verify(out, data, load_policy())
    return {f.check for f in report.findings}


def _published(out: Path, kind: str) -> list[dict]:
    return [orjson.loads(line) for path in sorted((out / "downloads" / kind).glob("*.jsonl")) for line in path.read_bytes().splitlines()]


def test_good_site_verifies(good_site: Path, clean_dir: Path, warm_cache: Path, tmp_path: Path):
    report = verify.verify(good_site, clean_dir, load_policy())
    assert report.ok, report.render_text()
    assert report.checked["published records"] > 1000 and report.checked["internal links"] > 10_000
    assert report.checked["search anchors"] >= report.checked["published records"] - len(_published(good_site, "inspection_tasks"))
    # Again with the cache of a run on the same site: every file's facts come from it, and the report is the same.
    folder = tmp_path / "cache"
    shutil.copytree(warm_cache, folder)
    again = verify.verify(good_site, clean_dir, load_policy(), cache=folder)
    assert again.checked.pop("files taken from the scan cache") == again.checked["files"]
    again.checked.pop("files not read again (same inode, size and time)")
    assert again.as_json() == report.as_json()


def test_removed_page(broken: Path, clean_dir: Path):
    p = _published(broken, "penalties")[0]
    shutil.rmtree(broken / record_path("penalties", p["decision_number"]))
    _remanifest(broken)
    # The lists and the entity page still link to it: that is a broken link too.
    assert _checks(broken, clean_dir) == {"missing-page", "broken-link"}


def test_expired_penalty_left_in(broken: Path, clean_dir: Path, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(clean_dir, data)
    lines = (data / "penalties.jsonl").read_bytes().splitlines()
    target = _published(broken, "penalties")[0]["decision_number"]
    for i, line in enumerate(lines):
        rec = orjson.loads(line)
        if rec["decision_number"] == target:
            rec["publicity_until"] = "2026-01-01"  # its publicity period has ended: the site still shows it
            lines[i] = orjson.dumps(rec)
    (data / "penalties.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    report = verify.verify(broken, data, load_policy())
    assert {f.check for f in report.findings} == {"withheld-present"}
    assert any(target in f.detail and "expired" in f.detail for f in report.findings)


def test_unmasked_id_in_a_download(broken: Path, clean_dir: Path):
    path = next(p for p in sorted((broken / "downloads" / "penalties").glob("*.csv")) if "经查，" in p.read_text(encoding="utf-8-sig"))
    text = path.read_text(encoding="utf-8-sig")
    path.write_text(text.replace("经查，", "经查，当事人身份证号码11010519491231002X，", 1), encoding="utf-8-sig")
    _remanifest(broken)
    report = verify.verify(broken, clean_dir, load_policy())
    assert {(f.check, f.path) for f in report.findings} == {("personal-data", f"downloads/penalties/{path.name}")}


@pytest.mark.parametrize("kind, column", [("penalties", "violation_facts"), ("inspection_results", "inspectors")])
def test_unmasked_id_in_a_parquet_download(broken: Path, clean_dir: Path, kind: str, column: str):
    """Parquet is read as its values, plain and inside lists: an ID number in either is found."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = sorted((broken / "downloads" / kind).glob("*.parquet"))[-1]
    table = pq.read_table(path)
    values = table.column(column).to_pylist()
    leaked = "11010519491231002X"
    values[0] = [*values[0], leaked] if isinstance(values[0], list) else f"{values[0]}当事人身份证号码{leaked}。"
    table = table.set_column(table.column_names.index(column), column, pa.array(values, table.schema.field(column).type))
    pq.write_table(table, path)
    _remanifest(broken)
    report = verify.verify(broken, clean_dir, load_policy())
    assert [(f.check, f.path) for f in report.findings] == [("personal-data", f"downloads/{kind}/{path.name}")]


def test_phone_number_in_the_search_index(broken: Path, clean_dir: Path):
    fragment = next((broken / "pagefind").rglob("*.pf_fragment"))
    raw = gzip.decompress(fragment.read_bytes()).replace("有限公司".encode(), "有限公司 13912345678".encode(), 1)
    fragment.write_bytes(gzip.compress(raw))
    _remanifest(broken)
    assert _checks(broken, clean_dir) == {"personal-data"}


def test_street_address_on_a_page(broken: Path, clean_dir: Path):
    page = next((broken / "penalties").glob("*/index.html"))
    page.write_text(page.read_text(encoding="utf-8").replace("</main>", "<p>住所：大连市中山区人民路12号</p></main>"), encoding="utf-8")
    _remanifest(broken)
    report = verify.verify(broken, clean_dir, load_policy())
    assert [(f.check, f.detail) for f in report.findings] == [("personal-data", "住址 市中山区人民路12号")]


def test_broken_link(broken: Path, clean_dir: Path):
    home = broken / "index.html"
    home.write_text(home.read_text(encoding="utf-8").replace("</main>", '<a href="penalties/nowhere/">x</a></main>'), encoding="utf-8")
    _remanifest(broken)
    report = verify.verify(broken, clean_dir, load_policy())
    assert [(f.check, f.path, f.detail) for f in report.findings] == [("broken-link", "index.html", "penalties/nowhere/")]


def test_external_request(broken: Path, clean_dir: Path):
    home = broken / "index.html"
    home.write_text(home.read_text(encoding="utf-8").replace("</head>", '<script src="https://cdn.example.com/a.js"></script></head>'),
                    encoding="utf-8")
    _remanifest(broken)
    assert _checks(broken, clean_dir) == {"external-request"}


def test_manifest_mismatch(broken: Path, clean_dir: Path):
    (broken / "robots.txt").write_text("User-agent: *\nDisallow: /\n", encoding="utf-8")
    (broken / "extra.txt").write_text("x", encoding="utf-8")
    report = verify.verify(broken, clean_dir, load_policy())
    assert {(f.check, f.path) for f in report.findings} == {("manifest-mismatch", "robots.txt"), ("manifest-mismatch", "extra.txt")}


def _aged(out: Path) -> Path:
    """Every file of ``out`` as if written an hour ago: older than verify's racy window."""
    hour_ago = time.time_ns() - 3600 * 10**9
    for p in out.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(hour_ago, hour_ago))
    return out


def _phone_in_place(page: Path, keep_time: bool) -> None:
    """A mobile number written into ``page`` over text of the same byte length, in the same inode."""
    st = page.stat()
    raw = page.read_bytes()
    assert "有限公司".encode() in raw
    with open(page, "r+b") as fh:  # not a new file: the inode stays
        fh.write(raw.replace("有限公司".encode(), b" 13912345678", 1))
    assert page.stat().st_size == st.st_size and page.stat().st_ino == st.st_ino
    if keep_time:
        os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))


def _page_with_a_company(out: Path) -> Path:
    return next(p for p in sorted((out / "penalties").glob("*/index.html")) if "有限公司".encode() in p.read_bytes())


def test_unchanged_files_are_not_read_again(tmp_path: Path, good_site: Path, clean_dir: Path):
    """With the cache, a file whose inode, size and modification time are those of the last run
    is not read: a change that keeps all three goes unseen by the scan (as by rsync's quick
    check), and is then caught by the manifest, which the build wrote from the new bytes;
    --no-cache reads every file."""
    out = tmp_path / "site"
    shutil.copytree(good_site, out)
    _aged(out)
    cache = tmp_path / "cache"
    first = verify.verify(out, clean_dir, load_policy(), cache=cache)
    assert first.ok and first.checked["files not read again (same inode, size and time)"] == 0
    again = verify.verify(out, clean_dir, load_policy(), cache=cache)
    assert again.ok and again.checked["files not read again (same inode, size and time)"] == again.checked["files"]
    _phone_in_place(_page_with_a_company(out), keep_time=True)
    _remanifest(out)
    cached = verify.verify(out, clean_dir, load_policy(), cache=cache)
    assert {f.check for f in cached.findings} == {"manifest-mismatch"}
    assert {f.check for f in verify.verify(out, clean_dir, load_policy()).findings} == {"personal-data"}


def test_a_file_rewritten_in_place_is_read_again(tmp_path: Path, good_site: Path, clean_dir: Path):
    out = tmp_path / "site"
    shutil.copytree(good_site, out)
    _aged(out)
    cache = tmp_path / "cache"
    assert verify.verify(out, clean_dir, load_policy(), cache=cache).ok
    page = _page_with_a_company(out)
    _phone_in_place(page, keep_time=False)  # its modification time is now
    _remanifest(out)
    report = verify.verify(out, clean_dir, load_policy(), cache=cache)
    assert [(f.check, f.path) for f in report.findings] == [("personal-data", str(page.relative_to(out)))]
    assert report.checked["files not read again (same inode, size and time)"] == report.checked["files"] - 1


def test_a_file_written_just_before_the_scan_is_not_trusted_by_its_time(tmp_path: Path, good_site: Path, clean_dir: Path):
    """Racy files: one written less than RACY_NS before a scan may be written again in the same
    clock tick with the same size, so the next scan reads it whatever its stat says."""
    out = tmp_path / "site"
    shutil.copytree(good_site, out)
    _aged(out)
    page = _page_with_a_company(out)
    os.utime(page)  # written now: within the window of the scan below
    cache = tmp_path / "cache"
    assert verify.verify(out, clean_dir, load_policy(), cache=cache).ok
    _phone_in_place(page, keep_time=True)  # same inode, size and time as that scan saw
    _remanifest(out)
    report = verify.verify(out, clean_dir, load_policy(), cache=cache)
    assert [(f.check, f.path) for f in report.findings] == [("personal-data", str(page.relative_to(out)))]


@pytest.mark.parametrize("text", [b'{"version": 1, "files": {"index.html": {"sha', b'{"version": 1}', b'{"files": ["index.html"]}'])
def test_unreadable_manifest(broken: Path, clean_dir: Path, text: bytes):
    (broken / manifest.NAME).write_bytes(text)
    report = verify.verify(broken, clean_dir, load_policy())
    assert not report.ok and {f.check for f in report.findings} == {"manifest-mismatch"}
    assert any(f.path == manifest.NAME and "无法读取" in f.detail for f in report.findings)
    assert sum(f.detail == "文件存在，但不在清单中" for f in report.findings) == report.checked["files"]


def test_unreadable_download(broken: Path, clean_dir: Path):
    path = sorted((broken / "downloads" / "licenses").glob("*.jsonl"))[-1]
    path.write_bytes(path.read_bytes()[:-40])  # cut short inside its last record
    _remanifest(broken)
    report = verify.verify(broken, clean_dir, load_policy())
    name = f"downloads/licenses/{path.name}"
    assert [f.detail for f in report.findings if f.path == name][0].startswith("下载文件无法读取")
    assert {f.check for f in report.findings} == {"missing-in-downloads"}


def test_record_missing_from_downloads(broken: Path, clean_dir: Path):
    path = sorted((broken / "downloads" / "licenses").glob("*.jsonl"))[-1]
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(lines[1:]) + b"\n")
    _remanifest(broken)
    report = verify.verify(broken, clean_dir, load_policy())
    assert [(f.check, f.path) for f in report.findings] == [("missing-in-downloads", "downloads/licenses/*.jsonl")]
    assert orjson.loads(lines[0])["decision_number"] in report.findings[0].detail


def test_record_missing_from_search(broken: Path, clean_dir: Path):
    shutil.rmtree(next(p for p in (broken / "pagefind").iterdir() if p.name.startswith("penalties-")))
    _remanifest(broken)
    assert _checks(broken, clean_dir) == {"missing-in-search"}


def test_record_missing_from_its_entity_page(broken: Path, clean_dir: Path):
    p = next(p for p in _published(broken, "penalties") if p.get("uscc"))
    page = broken / record_path("entities", p["uscc"]) / "index.html"
    html = page.read_text(encoding="utf-8")
    link = f'href="../../{record_path("penalties", p["decision_number"])}"'
    assert link in html
    page.write_text(html.replace(link, 'href="../../penalties/"'), encoding="utf-8")
    _remanifest(broken)
    assert _checks(broken, clean_dir) == {"missing-on-entity-page"}


def test_verify_and_diff_commands(broken: Path, good_site: Path, clean_dir: Path, tmp_path: Path):
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", str(good_site), str(clean_dir), "--json", str(tmp_path / "v.json")])
    assert ok.exit_code == 0 and "一致" in ok.output and orjson.loads((tmp_path / "v.json").read_bytes())["ok"] is True
    p = _published(broken, "penalties")[0]
    shutil.rmtree(broken / record_path("penalties", p["decision_number"]))
    (broken / "robots.txt").write_text("changed", encoding="utf-8")
    _remanifest(broken)
    bad = runner.invoke(main, ["verify", str(broken), str(clean_dir)])
    assert bad.exit_code == 1 and "missing-page" in bad.output
    d = runner.invoke(main, ["diff", str(good_site), str(broken / "manifest.json"), "--json"])
    changes = orjson.loads(d.output)
    gone = record_path("penalties", p["decision_number"]) + "index.html"
    assert gone in changes["delete"] and "robots.txt" in changes["upload"] and changes["upload"][-1] == "manifest.json"
    assert not set(changes["upload"]) & set(changes["delete"])
    same = runner.invoke(main, ["diff", str(good_site), str(good_site), "--json"])
    assert orjson.loads(same.output) == {"upload": [], "delete": [], "unchanged": len(manifest.load(good_site))}


def test_verify_refuses_a_folder_that_is_not_a_built_site(tmp_path: Path, clean_dir: Path):
    (tmp_path / "other").mkdir()
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "other"), str(clean_dir)])
    assert result.exit_code == 2 and "build-report.json" in result.output and "--build-date" in result.output


def test_manifest_lists_every_file_exactly(good_site: Path):
    listed = manifest.load(good_site)
    assert sorted(listed) == manifest.site_files(good_site) and manifest.NAME not in listed
    robots = good_site / "robots.txt"
    assert listed["robots.txt"] == {"sha256": manifest.sha256_file(robots), "size": robots.stat().st_size}


def test_listing_with_known_pages_skips_only_record_folders(good_site: Path):
    from liushuang.generator.pages import RECORD_FOLDERS

    everything = manifest.site_files(good_site)
    known = [p for p in everything if p.endswith("index.html")]
    # The build's shortcut (known pages, record folders not read again) lists the same files,
    # including those beside a known page in folders that are not record folders (search/shards.json).
    assert manifest.site_files(good_site, known, record_folders=RECORD_FOLDERS) == everything
    assert "search/shards.json" in everything and "search/index.html" in known
    # A record folder is not read again: a stray file there is not listed (verify, which reads everything, finds it).
    record = next(p for p in known if p.startswith("penalties/") and p.count("/") == 2)
    stray = good_site / record.replace("index.html", "stray.txt")
    stray.write_text("x")
    try:
        assert record.replace("index.html", "stray.txt") not in manifest.site_files(good_site, known, record_folders=RECORD_FOLDERS)
        assert record.replace("index.html", "stray.txt") in manifest.site_files(good_site)
    finally:
        stray.unlink()


def test_source_date_epoch_sets_the_build_date(tmp_path: Path, clean_dir: Path):
    # 2026-11-29 20:00 UTC is already 2026-11-30 in China Standard Time.
    epoch = str(int(dt.datetime(2026, 11, 29, 20, 0, tzinfo=dt.UTC).timestamp()))
    result = CliRunner().invoke(main, ["build", str(clean_dir), "-o", str(tmp_path / "s"), "--no-search"], env={"SOURCE_DATE_EPOCH": epoch})
    assert result.exit_code == 0, result.output
    assert orjson.loads((tmp_path / "s" / "build-report.json").read_bytes())["build_date"] == "2026-11-30"


def test_swap_is_atomic_and_recovers_from_a_death_between_renames(tmp_path: Path):
    out, new = tmp_path / "site", tmp_path / ".site.building-1"
    out.mkdir()
    (out / "old").write_text("old")
    new.mkdir()
    (new / "new").write_text("new")
    site._replace(new, out)
    assert os.listdir(out) == ["new"]
    deadline = time.monotonic() + 20
    while new.exists() and time.monotonic() < deadline:  # the replaced site is deleted in the background
        time.sleep(0.05)
    assert not new.exists()
    # A build that died after moving OUT aside and before moving its own folder in:
    dead = 2 ** 22 + 12345  # beyond pid_max on this kernel: certainly not running
    shutil.move(out, tmp_path / f".site.previous-{dead}")
    (tmp_path / f".site.building-{dead}").mkdir()
    site._recover(out)
    assert os.listdir(out) == ["new"] and sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def _pages_in(folder: Path) -> int:
    """Pages a running build has written so far (its search scratch folder comes and goes meanwhile)."""
    try:
        return sum(1 for _ in folder.rglob("index.html"))
    except FileNotFoundError:
        return 0


def test_killed_build_leaves_the_previous_site_and_the_next_build_succeeds(tmp_path: Path, good_site: Path, clean_dir: Path):
    out = tmp_path / "site"
    shutil.copytree(good_site, out)
    before = manifest.compute(out)
    code = ("import datetime as dt, sys; from pathlib import Path; from liushuang.policy import load_policy; "
            "from liushuang.generator.site import build; "
            "build(Path(sys.argv[1]), Path(sys.argv[2]), load_policy(), build_date=dt.date(2026, 11, 30), workers=1)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(clean_dir), str(out)])
    building = tmp_path / f".site.building-{proc.pid}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if building.is_dir() and _pages_in(building) > 200:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert building.exists()  # the half-written build is still there …
    assert manifest.compute(out) == before  # … and the published site is untouched
    site.build(clean_dir, out, load_policy(), build_date=DAY)
    assert not building.exists() and verify.verify(out, clean_dir, load_policy()).ok
    assert manifest.load(out) == manifest.load(good_site)  # byte-identical to an uninterrupted build


def test_incremental_rebuild_rewrites_only_what_changed(tmp_path: Path, good_site: Path, clean_dir: Path):
    data = tmp_path / "data"
    shutil.copytree(clean_dir, data)
    out = tmp_path / "site"
    shutil.copytree(good_site, out, copy_function=os.link)  # the published site, as the previous build
    lines = (data / "licenses.jsonl").read_bytes().splitlines()
    changed = orjson.loads(lines[0])
    changed["content"] = "变更后的许可内容"
    lines[0] = orjson.dumps(changed)
    (data / "licenses.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    report = site.build(data, out, load_policy(), build_date=DAY)
    assert report.linked > 0.9 * report.pages  # nearly every page reused as it was
    d = manifest.diff(manifest.load(good_site), manifest.load(out))
    page = record_path("licenses", changed["decision_number"]) + "index.html"
    year = changed["decided_on"][:4]
    assert page in d.upload
    assert not [p for p in d.upload if p.startswith(("penalties/", "inspection_tasks/"))]
    # Pagefind's files are named by content: the changed shard's old files are deleted, nothing else.
    assert d.delete and all(p.startswith(f"pagefind/licenses-{year}/") for p in d.delete)
    # Only the licence shard of that year was indexed again; the others were reused.
    assert f"licenses-{year}" not in report.search_reused and "entities" in report.search_reused
    # The incremental result is byte-identical to a full build of the same input.
    full = tmp_path / "full"
    site.build(data, full, load_policy(), build_date=DAY, incremental=False)
    assert manifest.load(full) == manifest.load(out)
    assert verify.verify(out, data, load_policy()).ok


def _edit(data: Path, kind: str, index: int, **fields) -> dict:
    """Change one record of DATA/KIND.jsonl in place (``None`` removes the record); returns it."""
    lines = (data / f"{kind}.jsonl").read_bytes().splitlines()
    rec = orjson.loads(lines[index])
    if fields.pop("remove", False):
        del lines[index]
    else:
        rec.update(fields)
        lines[index] = orjson.dumps(rec)
    (data / f"{kind}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return rec


def _unchanged_on_disk(folder: Path) -> bool:
    """Every file of FOLDER is as its manifest says, and there is no other."""
    listed = {p: (e["sha256"], e["size"]) for p, e in manifest.load(folder).items()}
    return listed == {p: (e["sha256"], e["size"]) for p, e in manifest.compute(folder).items()}


def test_nightly_builds_reuse_the_standby_tree(tmp_path: Path, good_site: Path, clean_dir: Path):
    """Night 1 replaces the site and keeps the old one as the standby; night 2 turns the
    standby into its build by changing only what changed. Each night's site is byte for
    byte a full build of its input, and no build writes into another tree's files."""
    data, out = tmp_path / "data", tmp_path / "site"
    shutil.copytree(clean_dir, data)
    shutil.copytree(good_site, out, copy_function=os.link)
    standby = tmp_path / ".site.standby"
    first = _edit(data, "licenses", 0, content="第一晚更正的许可内容")
    assert site.build(data, out, load_policy(), build_date=DAY).standby == "none"  # none yet
    assert standby.is_dir() and manifest.load(standby) == manifest.load(good_site) and _unchanged_on_disk(standby)
    night1 = manifest.load(out)
    # Night 2: another edit, and a penalty that is no longer in the export (its page must go).
    second = _edit(data, "licenses", 1, content="第二晚更正的许可内容")
    gone = _edit(data, "penalties", 0, remove=True)
    report = site.build(data, out, load_policy(), build_date=DAY)
    assert report.linked > 0.9 * report.pages and report.standby == "adopted"
    assert standby.is_dir() and manifest.load(standby) == night1 and _unchanged_on_disk(standby)  # night 1's site, intact
    assert _unchanged_on_disk(out)  # every file as the manifest says, and nothing else
    page = lambda kind, rec: out / record_path(kind, rec["decision_number"]) / "index.html"  # noqa: E731
    assert "第一晚" in page("licenses", first).read_text(encoding="utf-8") and "第二晚" in page("licenses", second).read_text(encoding="utf-8")
    assert not page("penalties", gone).exists() and not page("penalties", gone).parent.exists()
    full = tmp_path / "full"
    site.build(data, full, load_policy(), build_date=DAY, incremental=False)
    assert manifest.load(full) == manifest.load(out)
    assert verify.verify(out, data, load_policy()).ok
    # Night 3, nothing changed: every page, download, task file and search bundle file is
    # night 2's very file (the same inode), none rendered, written or indexed again.
    report = site.build(data, out, load_policy(), build_date=DAY)
    assert report.validation_cache == {} or report.validation_cache["misses"] == 0
    assert report.linked == report.pages and len(report.search_reused) == len(report.search_shards)
    kept = {p: e for p, e in manifest.load(out).items() if "input" in e}
    assert {p.split("/")[0] for p in kept} >= {"penalties", "entities", "downloads", "pagefind"}
    assert all(os.stat(out / p).st_ino == os.stat(standby / p).st_ino for p in kept)


def test_killed_build_on_the_standby_tree(tmp_path: Path, good_site: Path, clean_dir: Path):
    """A build killed while it turns the standby into the new site: the published site
    is untouched, the half-changed tree is never taken for a standby again, and the
    next build succeeds from scratch."""
    data, out = tmp_path / "data", tmp_path / "site"
    shutil.copytree(clean_dir, data)
    shutil.copytree(good_site, out, copy_function=os.link)
    _edit(data, "licenses", 0, content="更正的许可内容")
    site.build(data, out, load_policy(), build_date=DAY)
    before = manifest.compute(out)
    assert (tmp_path / ".site.standby").is_dir()
    _edit(data, "licenses", 1, content="再次更正的许可内容")
    code = ("import datetime as dt, sys; from pathlib import Path; from liushuang.policy import load_policy; "
            "from liushuang.generator import site; "
            "real = site.pages.run_job\n"
            "def slow(job):\n"
            "    import time; time.sleep(0.05); return real(job)\n"
            "site.pages.run_job = slow\n"
            "site.build(Path(sys.argv[1]), Path(sys.argv[2]), load_policy(), build_date=dt.date(2026, 11, 30), workers=1)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(data), str(out)])
    building = tmp_path / f".site.building-{proc.pid}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (building.is_dir() and not (tmp_path / ".site.standby").exists()
                                                                          and not (building / "manifest.json").exists()):
        time.sleep(0.02)
    time.sleep(0.3)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert manifest.compute(out) == before  # the published site is untouched
    assert building.is_dir() and not (building / "manifest.json").exists()
    site.build(data, out, load_policy(), build_date=DAY)
    assert not building.exists() and _unchanged_on_disk(out)
    full = tmp_path / "full"
    site.build(data, full, load_policy(), build_date=DAY, incremental=False)
    assert manifest.load(full) == manifest.load(out) and verify.verify(out, data, load_policy()).ok


@pytest.mark.parametrize("when", ["at once", "half way"])
def test_standby_adopted_beside_validation_falls_back_when_it_fails(tmp_path: Path, good_site: Path, clean_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, when: str):
    """The standby is turned into the build folder by a forked child while the build
    validates. Should that child fail, the build starts from an empty folder and still
    makes the same site, linking the unchanged pages from the published one."""
    data, out = tmp_path / "data", tmp_path / "site"
    shutil.copytree(clean_dir, data)
    shutil.copytree(good_site, out, copy_function=os.link)
    _edit(data, "licenses", 0, content="更正的许可内容")
    site.build(data, out, load_policy(), build_date=DAY)
    assert (tmp_path / ".site.standby").is_dir()
    _edit(data, "licenses", 1, content="再次更正的许可内容")

    def broken(out: Path, tmp: Path, previous: object) -> None:
        if when == "half way":  # the standby taken over and partly changed
            (tmp_path / ".site.standby").rename(tmp)
            for page in list(tmp.glob("licenses/*/index.html"))[:3]:
                page.unlink()
        raise OSError("the disk said no")

    monkeypatch.setattr(site, "_adopt_standby", broken)
    report = site.build(data, out, load_policy(), build_date=DAY)
    assert report.standby == "failed: 接管备用目录的子进程退出码 2"  # the child raised
    assert 0.9 * report.pages < report.linked < report.pages
    assert (tmp_path / ".site.standby").is_dir() and _unchanged_on_disk(out)  # the untouched standby stays one
    if when == "at once":  # the standby is still there: the command says it could not use it
        result = CliRunner().invoke(main, ["build", str(data), "-o", str(out), "--build-date", "2026-11-30", "--no-progress"])
        assert result.exit_code == 0 and "未能沿用上次构建留下的备用目录（接管备用目录的子进程退出码 2）" in result.output
    full = tmp_path / "full"
    site.build(data, full, load_policy(), build_date=DAY, incremental=False)
    assert manifest.load(full) == manifest.load(out)


def _kill_build_with_its_child(proc: subprocess.Popen, child: object, who: str) -> None:
    """Kill the build outright and check that its forked ``child`` (a psutil.Process) dies with it."""
    import psutil

    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs([child], timeout=10)
    assert not alive, f"{who} outlived the build"


def test_killed_build_takes_its_standby_child_along(tmp_path: Path, good_site: Path, clean_dir: Path):
    """A build killed while its child is still adopting the standby: the child dies too
    (it would otherwise go on changing a folder the next build removes), the published
    site is untouched, and the next build succeeds."""
    psutil = pytest.importorskip("psutil")
    data, out = tmp_path / "data", tmp_path / "site"
    shutil.copytree(clean_dir, data)
    shutil.copytree(good_site, out, copy_function=os.link)
    site.build(data, out, load_policy(), build_date=DAY)
    before = manifest.compute(out)
    _edit(data, "licenses", 1, content="再次更正的许可内容")
    code = ("import datetime as dt, sys, time; from pathlib import Path; from liushuang.policy import load_policy; "
            "from liushuang.generator import site; "
            "real = site._adopt_standby\n"
            "def slow(*args):\n"
            "    time.sleep(60); return real(*args)\n"
            "site._adopt_standby = slow\n"
            "site.build(Path(sys.argv[1]), Path(sys.argv[2]), load_policy(), build_date=dt.date(2026, 11, 30), workers=1)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(data), str(out)])
    deadline = time.monotonic() + 60
    children: list = []
    while time.monotonic() < deadline and proc.poll() is None and not children:
        children = psutil.Process(proc.pid).children()
        time.sleep(0.05)
    assert children, "no child process adopting the standby"
    _kill_build_with_its_child(proc, children[0], "the standby's child")
    assert manifest.compute(out) == before
    site.build(data, out, load_policy(), build_date=DAY)
    assert _unchanged_on_disk(out) and not list(tmp_path.glob(".site.building-*"))
    full = tmp_path / "full"
    site.build(data, full, load_policy(), build_date=DAY, incremental=False)
    assert manifest.load(full) == manifest.load(out)


@pytest.fixture
def city_like(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation of these small files as of a city's: in parts, by worker processes, with the line cache."""
    from liushuang.generator import validate

    monkeypatch.setattr(validate, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(validate, "PART_BYTES", 20_000)


def _night_with_a_cache(tmp_path: Path, good_site: Path, clean_dir: Path) -> tuple[Path, Path]:
    """A copy of the input and the published site, built once more so that the next build
    finds a standby tree and a validation cache: the nightly steady state."""
    data, out = tmp_path / "data", tmp_path / "site"
    shutil.copytree(clean_dir, data)
    shutil.copytree(good_site, out, copy_function=os.link)
    first = site.build(data, out, load_policy(), build_date=DAY, workers=2)
    assert first.early == {}  # no cache yet: the validation's workers kept both cores busy
    return data, out


def test_decisions_are_made_while_the_rest_is_validated(tmp_path: Path, good_site: Path, clean_dir: Path, city_like: None):
    """A night whose validation takes its lines from the cache makes the decisions' pages
    and search shards in a forked child while it validates the kinds after them. The site
    is byte for byte a full build's: an edited licence, a penalty gone from the export."""
    data, out = _night_with_a_cache(tmp_path, good_site, clean_dir)
    edited = _edit(data, "licenses", 0, content="提前生成时更正的许可内容")
    gone = _edit(data, "penalties", 0, remove=True)
    report = site.build(data, out, load_policy(), build_date=DAY, workers=2)
    assert report.early["pages"] == len(_published(out, "licenses")) + len(_published(out, "penalties"))
    assert report.early["shards"] == sum(1 for s in report.search_shards if s["kind"] in ("licenses", "penalties"))
    year = edited["decided_on"][:4]
    assert f"licenses-{year}" not in report.search_reused and "entities" in report.search_reused
    page = out / record_path("licenses", edited["decision_number"]) / "index.html"
    assert "提前生成时更正" in page.read_text(encoding="utf-8")
    assert not (out / record_path("penalties", gone["decision_number"])).exists()
    full = tmp_path / "full"
    site.build(data, full, load_policy(), build_date=DAY, incremental=False)
    assert manifest.load(full) == manifest.load(out) and _unchanged_on_disk(out)
    assert verify.verify(out, data, load_policy()).ok


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_failure_while_making_the_decisions_early_fails_the_build(tmp_path: Path, good_site: Path, clean_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, how: str, city_like: None):
    """The child making the decisions' pages fails (an exception, or it dies): the build
    fails with the child's error, the published site stays as it was, and the next build
    makes the same site as a full build."""
    data, out = _night_with_a_cache(tmp_path, good_site, clean_dir)
    before = manifest.compute(out)
    _edit(data, "licenses", 0, content="更正的许可内容")
    real = site.pages.run_job

    def broken(job: tuple) -> object:
        if job[0] == "decisions":
            if how == "dies":
                os._exit(3)
            raise OSError("磁盘已满")
        return real(job)

    monkeypatch.setattr(site.pages, "run_job", broken)
    error, message = (OSError, "磁盘已满") if how == "raises" else (RuntimeError, "提前生成决定页面与检索索引的子进程异常退出（退出码 3）")
    with pytest.raises(error, match=message):
        site.build(data, out, load_policy(), build_date=DAY, workers=2)
    assert manifest.compute(out) == before and not list(tmp_path.glob(".site.building-*"))
    monkeypatch.setattr(site.pages, "run_job", real)
    site.build(data, out, load_policy(), build_date=DAY, workers=2)
    full = tmp_path / "full"
    site.build(data, full, load_policy(), build_date=DAY, incremental=False)
    assert manifest.load(full) == manifest.load(out)


def test_killed_build_takes_its_early_child_along(tmp_path: Path, good_site: Path, clean_dir: Path, city_like: None):
    """A build killed while its child makes the decisions' pages: the child dies with it."""
    psutil = pytest.importorskip("psutil")
    data, out = _night_with_a_cache(tmp_path, good_site, clean_dir)
    before = manifest.compute(out)
    _edit(data, "licenses", 0, content="更正的许可内容")
    marker = tmp_path / "early-pid"
    code = ("import datetime as dt, os, sys, time; from pathlib import Path; from liushuang.policy import load_policy; "
            "from liushuang.generator import site; "
            "real = site.pages.run_job\n"
            "def slow(job):\n"
            "    if job[0] == 'decisions':\n"
            "        Path(sys.argv[3]).write_text(str(os.getpid())); time.sleep(60)\n"
            "    return real(job)\n"
            "site.pages.run_job = slow\n"
            "site.build(Path(sys.argv[1]), Path(sys.argv[2]), load_policy(), build_date=dt.date(2026, 11, 30), workers=2)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(data), str(out), str(marker)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not marker.exists():
        time.sleep(0.05)
    time.sleep(0.2)
    assert marker.exists(), "no child making the decisions' pages"
    child = psutil.Process(int(marker.read_text()))
    assert child.ppid() == proc.pid
    _kill_build_with_its_child(proc, child, "the early child")
    assert manifest.compute(out) == before
    site.build(data, out, load_policy(), build_date=DAY)
    assert _unchanged_on_disk(out) and not list(tmp_path.glob(".site.building-*"))


def test_search_made_beside_the_pages_reports_its_failure(tmp_path: Path, good_site: Path, clean_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    """The search index is made by a forked child while the pages are written: a
    Pagefind failure there fails the build with Pagefind's message, as it would in
    the build's own process, and leaves the published site as it was."""
    from liushuang.generator import search

    out = tmp_path / "site"
    shutil.copytree(good_site, out, copy_function=os.link)
    before = manifest.compute(out)
    monkeypatch.setattr(search, "pagefind_command", lambda: [sys.executable, "-c", "import sys; sys.exit('索引器坏了')"])
    with pytest.raises(search.SearchError, match="索引器坏了"):
        site.build(clean_dir, out, load_policy(), build_date=DAY, incremental=False)
    assert manifest.compute(out) == before and not list(tmp_path.glob(".site.building-*"))


@pytest.mark.parametrize("remote", [False, True])
def test_publish_copies_only_what_changed(tmp_path: Path, good_site: Path, broken: Path, remote: bool):
    """`liushuang publish` to a folder, or to an fsspec URL (here fsspec's in-memory filesystem)."""
    fsspec = pytest.importorskip("fsspec")
    dest = f"memory://publish-{tmp_path.name}" if remote else str(tmp_path / "www")
    runner = CliRunner()
    first = runner.invoke(main, ["publish", str(good_site), dest])
    assert first.exit_code == 0, first.output
    fs, root = fsspec.core.url_to_fs(dest)

    def published() -> dict[str, bytes]:
        return {p[len(root.rstrip("/")) + 1:]: fs.cat_file(p) for p in fs.find(root)}

    assert published() == {p: (good_site / p).read_bytes() for p in [*manifest.site_files(good_site), manifest.NAME]}
    # The next night: one page gone, one file changed.
    p = _published(broken, "penalties")[0]
    shutil.rmtree(broken / record_path("penalties", p["decision_number"]))
    (broken / "robots.txt").write_text("changed", encoding="utf-8")
    _remanifest(broken)
    second = runner.invoke(main, ["publish", str(broken), dest])
    assert second.exit_code == 0 and "上传 2，删除 1" in second.output, second.output
    assert published() == {p: (broken / p).read_bytes() for p in [*manifest.site_files(broken), manifest.NAME]}
