"""The command line: exit codes, outputs, and the README that documents it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
from click.testing import CliRunner
from helpers import mutate, read_jsonl
from liushuang.generator.rules import RULES

from liushuang.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_validate_clean_exits_0(clean_dir: Path, tmp_path: Path):
    r = run("validate", str(clean_dir), "--quarantine", str(tmp_path / "q"), "--no-progress")
    assert r.exit_code == 0, r.output
    assert "全部记录通过校验" in r.output
    assert not list((tmp_path / "q").glob("*.jsonl"))


def test_validate_invalid_exits_1_with_quarantine_and_json(data_dir: Path, tmp_path: Path):
    bad = mutate(data_dir, "penalties", lambda r: True, lambda r: r.update(decided_on="2024-02-30"))
    r = run("validate", str(data_dir), "--json", "--quarantine", str(tmp_path / "q"))
    assert r.exit_code == 1
    report = orjson.loads(r.output)
    assert report["valid"] is False
    assert report["kinds"]["penalties"]["rejected"] == 1 and report["kinds"]["penalties"]["conserved"]
    (issue,) = report["issues"]
    assert issue["rule"] == "schema-format" and issue["pointer"] == "/decided_on" and issue["record_id"] == bad["decision_number"]
    (entry,) = read_jsonl(tmp_path / "q" / "penalties.jsonl")
    assert entry["record"] == bad and entry["errors"][0]["rule"] == "schema-format" and entry["line"] == issue["line"]


def test_validate_usage_and_io_errors_exit_2(tmp_path: Path, clean_dir: Path):
    assert run("validate", str(tmp_path / "missing")).exit_code == 2
    assert run("validate").exit_code == 2
    r = run("validate", str(clean_dir), "--policy", str(tmp_path / "nope.toml"))
    assert r.exit_code == 2 and "策略文件" in r.output


def test_quarantine_never_deletes_input(data_dir: Path, tmp_path: Path):
    before = (data_dir / "penalties.jsonl").read_bytes()
    r = run("validate", str(data_dir), "--quarantine", str(data_dir))
    assert r.exit_code == 2 and "隔离目录" in r.output
    assert (data_dir / "penalties.jsonl").read_bytes() == before
    # A quarantine folder that holds other JSON Lines files keeps them.
    q = tmp_path / "q"
    q.mkdir()
    (q / "notes.jsonl").write_text("{}\n")
    assert run("validate", str(data_dir), "--quarantine", str(q)).exit_code == 0
    assert (q / "notes.jsonl").exists()


def test_policy_file_adds_region_codes(data_dir: Path, tmp_path: Path):
    mutate(data_dir, "entities", lambda r: True, lambda r: r.update(region_code="210215"))
    assert run("validate", str(data_dir), "--quarantine", str(tmp_path / "q")).exit_code == 1
    policy = tmp_path / "policy.toml"
    policy.write_text('[regions.known]\n"210215" = "新区"\n', encoding="utf-8")
    r = run("validate", str(data_dir), "--policy", str(policy), "--quarantine", str(tmp_path / "q"))
    assert r.exit_code == 0, r.output


def test_progress_bar_only_when_asked(clean_dir: Path, tmp_path: Path):
    r = CliRunner().invoke(main, ["validate", str(clean_dir), "--progress", "--quarantine", str(tmp_path / "q")])
    assert "校验 " in r.stderr and "100.0%" in r.stderr
    r = CliRunner().invoke(main, ["validate", str(clean_dir), "--quarantine", str(tmp_path / "q")])
    assert "█" not in r.stderr  # not a terminal: no bar


def test_synth_defects_and_errors(tmp_path: Path):
    r = run("synth", str(tmp_path / "s"), "--entities", "200", "--years", "1", "--defect", "uscc-checksum=2", "--defect", "ref-missing")
    assert r.exit_code == 0, r.output
    manifest = orjson.loads((tmp_path / "s" / "synth-manifest.json").read_bytes())
    assert sorted(e["rule"] for e in manifest["expected_issues"]) == ["ref-missing", "uscc-checksum", "uscc-checksum"]
    r = run("synth", str(tmp_path / "t"), "--defect", "bogus")
    assert r.exit_code == 2 and "未知的缺陷类型" in r.output
    r = run("synth", str(tmp_path / "t"), "--until", "2026-13-01")
    assert r.exit_code == 2
    r = run("synth", str(tmp_path / "u"), "--entities", "1500", "--years", "1", "--all-defects", "--format", "csv", "--encoding", "gb18030", "--headers", "zh")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "u" / "penalties.csv").read_bytes().startswith("行政相对人名称".encode("gb18030"))


def test_rules_lists_the_catalogue():
    out = run("rules").output
    for slug in RULES:
        assert re.search(rf"^{re.escape(slug)}\s", out, re.M), slug


def test_demo_runs_end_to_end(tmp_path: Path):
    r = run("demo", str(tmp_path / "demo"), "--entities", "300")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "demo" / "data" / "penalties.jsonl").exists()
    assert "全部记录通过校验" in r.output
    assert (tmp_path / "demo" / "audit" / "index.html").exists()
    assert (tmp_path / "demo" / "audit" / "deadlines.html").exists()
    assert (tmp_path / "demo" / "audit" / "draws.html").exists()
    assert (tmp_path / "demo" / "site" / "index.html").exists() and "liushuang serve" in r.output


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "liushuang.cli", "--version"], capture_output=True, text=True, check=True)
    assert "liushuang" in out.stdout


def test_readme_documents_every_command_and_two_command_quick_start():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert f"liushuang {name}" in readme, name
        for sub in getattr(command, "commands", {}):
            if sub != "all":
                assert f"liushuang {name} {sub}" in readme, sub
    quick = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [ln for ln in quick.splitlines()[1:] if ln.strip() and not ln.strip().startswith("#")]
    assert len(commands) == 2 and "liushuang demo" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1].strip() in ci, "CI must run the README's test command"


def test_every_command_has_an_example():
    for name, command in main.commands.items():
        assert "Example: liushuang " + name in (command.help or ""), name
        for sub, subcommand in getattr(command, "commands", {}).items():
            assert f"Example: liushuang {name} {sub}" in (subcommand.help or ""), sub


def test_audit_writes_reports_and_index(clean_dir: Path, tmp_path: Path):
    r = run("audit", str(clean_dir), "-o", str(tmp_path / "rep"), "--as-of", "2026-11-30")
    assert r.exit_code == 0, r.output
    for name in ("deadlines.html", "deadlines.md", "deadlines.json", "draws.html", "draws.md", "draws.json", "index.html"):
        assert (tmp_path / "rep" / name).stat().st_size > 0, name
    doc = orjson.loads((tmp_path / "rep" / "deadlines.json").read_bytes())
    assert doc["meta"]["审计截止日"] == "2026-11-30"
    assert "claim" in doc["results"]["rules"]
    html = (tmp_path / "rep" / "deadlines.html").read_text(encoding="utf-8")
    assert "<svg" in html and "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    # The draws audit's steps, each announced and then timed, on stderr (not in the reports).
    for label in ("逐次复算抽取", "设计与零假设模型", "蒙特卡罗重抽 999 次", "人员配对与工作量检验", "检验力"):
        assert "… " in r.stderr and any(line.startswith("✓ ") and label in line and line.endswith("秒）")
                                        for line in r.stderr.splitlines()), label
    assert "蒙特卡罗" not in r.stdout


def test_audit_fail_on_and_usage_errors(clean_dir: Path, tmp_path: Path):
    # The synthetic city has late steps (late_share): high-grade findings exist.
    assert run("audit", "deadlines", str(clean_dir), "-o", str(tmp_path / "r"), "--fail-on", "high").exit_code == 1
    assert run("audit", "deadlines", str(clean_dir), "-o", str(tmp_path / "r")).exit_code == 0
    assert run("audit", "deadlines", str(clean_dir), "-o", str(tmp_path / "r"), "--as-of", "30/11/2026").exit_code == 2
    assert run("audit", str(tmp_path / "missing"), "-o", str(tmp_path / "r")).exit_code == 2
    assert run("audit", "deadlines", str(clean_dir)).exit_code == 2  # -o is required


def test_build_to_a_url_uploads_only_what_changed(data_dir: Path, tmp_path: Path):
    import fsspec

    url, work = f"memory://liushuang-test-{tmp_path.name}/site", tmp_path / "work"
    args = ("build", str(data_dir), "-o", url, "--work", str(work), "--build-date", "2026-11-30", "--no-search", "--no-progress")
    first = run(*args)
    assert first.exit_code == 0, first.output
    fs, root = fsspec.core.url_to_fs(url)
    files = orjson.loads((work / "manifest.json").read_bytes())["files"]
    uploaded = int(re.search(r"已上传 (\d+) 个文件，删除 0 个", first.output).group(1))
    assert uploaded == len(files) + 1  # every file and the manifest
    for path in list(files)[::97] + ["manifest.json"]:
        assert fs.cat_file(f"{root}/{path}") == (work / path).read_bytes()
    # The next night one penalty is corrected: only the files that show it go up again.
    mutate(data_dir, "penalties", lambda r: True, lambda r: r.update(penalty_content=r["penalty_content"] + "（更正）"))
    second = run(*args)
    assert second.exit_code == 0, second.output
    changed = {p for p, e in orjson.loads((work / "manifest.json").read_bytes())["files"].items()
               if files.get(p, {}).get("sha256") != e["sha256"]}
    assert 0 < len(changed) < len(files) / 10
    assert f"已上传 {len(changed) + 1} 个文件，删除 0 个" in second.output
    for path in changed:
        assert fs.cat_file(f"{root}/{path}") == (work / path).read_bytes()
    fs.rm(root, recursive=True)


def test_build_to_a_url_usage_errors(clean_dir: Path, tmp_path: Path):
    r = run("build", str(clean_dir), "-o", str(tmp_path / "site"), "--work", str(tmp_path / "w"), "--no-search")
    assert r.exit_code == 2 and "--work 只用于以 URL 指定的输出" in r.output
    r = run("build", str(clean_dir), "-o", "nosuchprotocol://bucket/site", "--work", str(tmp_path / "w"), "--no-search",
            "--build-date", "2026-11-30", "--no-progress")
    assert r.exit_code == 2 and "无法写入 nosuchprotocol://bucket/site" in r.output
