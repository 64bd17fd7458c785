"""Every input format and encoding, and the conventions of real exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import validate
from liushuang.generator.validate import Validator

from liushuang.synth.defects import ALL, JSON_ONLY
from liushuang.synth.generate import SynthConfig, generate, write_dataset

FORMATS = [
    ("jsonl", "utf-8", "en"), ("json", "utf-8", "en"),
    ("csv", "utf-8", "en"), ("csv", "utf-8-sig", "zh"), ("csv", "gb18030", "zh"),
    ("xlsx", "utf-8", "zh"), ("parquet", "utf-8", "en"), ("parquet", "utf-8", "zh"),
]


@pytest.mark.parametrize("fmt,encoding,headers", FORMATS, ids=["-".join(f) for f in FORMATS])
def test_every_format_finds_exactly_the_injected_defects(tmp_path: Path, fmt, encoding, headers):
    defects = {k: 1 for k in ALL if k not in JSON_ONLY or fmt == "jsonl"}
    if fmt != "jsonl":
        defects.pop("record-parse", None)
    data = generate(SynthConfig(entities=500, years=2, seed=5, defects=defects))
    write_dataset(data, tmp_path, fmt=fmt, encoding=encoding, style=headers)
    report = validate(tmp_path)
    got = sorted((i.rule, i.kind, i.record_id or "") for i in report.issues)
    expected = sorted((e["rule"], e["kind"], e["record_id"]) for e in data.expected)
    assert got == expected
    read = sum(len(v) for v in data.records.values()) + defects.get("record-parse", 0)
    assert report.stats()["read"] == read
    if fmt == "csv":
        assert {f.encoding for f in report.files if f.format == "csv"} == {encoding}


NATIONAL_HEADER = ("行政相对人名称,行政相对人类别,行政相对人代码_1(统一社会信用代码),行政相对人代码_3（组织机构代码）,法定代表人,"
                   "行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,罚款金额(万元),"
                   "处罚决定日期,处罚有效期,公示截止期,处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码,当前状态\n")
ROW = ("大连海韵餐饮有限公司,法人及非法人组织,91110108551385082Q,55138508-2,王伟,连市监罚字〔2024〕1号,食品安全,"
       "经查……,《食品安全法》第一百二十四条,警告、罚款,罚款0.5万元,0.5,{decided},2025/03/05,长期,大连市市场监督管理局,"
       "91230500MA1B3N1N2M,大连市市场监督管理局,91230500MA1B3N1N2M,1\n")


def _only_penalties(tmp_path: Path, text: str, encoding: str) -> Path:
    d = tmp_path / "exp"
    d.mkdir()
    (d / "penalties.csv").write_bytes(text.encode(encoding))
    return d


@pytest.mark.parametrize("decided", ["2024年3月5日", "2024/3/5", "2024-03-05", "2024.03.05"])
def test_national_standard_csv_as_exported(tmp_path: Path, decided):
    d = _only_penalties(tmp_path, NATIONAL_HEADER + ROW.format(decided=decided), "gb18030")
    records: list[dict] = []
    report = Validator(progress=False).validate_dir(d, sink=lambda kind, rec: records.append(rec))
    assert report.valid, [i.message for i in report.issues]
    (rec,) = records
    assert rec["decided_on"] == "2024-03-05"
    assert rec["publicity_until"] == "2099-12-31"  # 长期
    assert rec["penalty_kinds"] == ["警告", "罚款"]
    assert rec["fine_amount_wan"] == 0.5
    assert rec["status"] == "有效"  # code 1
    assert rec["org_code"] == "55138508-2"
    assert report.files[0].encoding == "gb18030"


def test_gb18030_decode_error_names_line_and_byte_offset(tmp_path: Path):
    good = (NATIONAL_HEADER + ROW.format(decided="2024/03/05")).encode("gb18030")
    bad_row = ROW.format(decided="2024/03/05").replace("连市监罚字〔2024〕1号", "连市监罚字〔2024〕2号").encode("gb18030")
    cut = bad_row.index("王伟".encode("gb18030"))
    bad_row = bad_row[:cut] + b"\xff" + bad_row[cut + 1:]  # 0xFF never starts a GB18030 character
    third = ROW.format(decided="2024/03/05").replace("1号", "3号").encode("gb18030")
    d = tmp_path / "exp"
    d.mkdir()
    (d / "penalties.csv").write_bytes(good + bad_row + third)
    report = validate(d)
    (issue,) = report.issues
    assert (issue.rule, issue.line, issue.byte_offset) == ("file-decode", 3, len(good) + cut)
    assert "gb18030" in issue.message and str(len(good) + cut) in issue.message
    assert report.kinds["penalties"].accepted == 2  # the rows around it are not lost


def test_utf8_with_bom_and_multiline_cells(tmp_path: Path):
    row = ROW.format(decided="2024/03/05").replace("经查……", '"经查，\n当事人……"')
    d = _only_penalties(tmp_path, NATIONAL_HEADER + row + ROW.format(decided="2024/03/05").replace("1号", "9号").replace("0.5,", "-1,", 1), "utf-8-sig")
    report = validate(d)
    assert report.files[0].encoding == "utf-8-sig"
    # A negative fine breaks the range and the fine rule; the quoted cell spans lines 2-3, so it is line 4.
    assert sorted((i.rule, i.line) for i in report.issues) == [("fine-consistency", 4), ("schema-range", 4)]


def test_xlsx_numbers_and_dates_are_coerced(tmp_path: Path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["item_id", "name", "basis", "department", "item_kind", "ratio"])
    ws.append([20240001, "食品检查", "依据", "大连市市场监督管理局", "一般检查事项", 0.05])  # id typed as a number
    ws.append([None, None, None, None, None, None])  # blank rows are skipped, not counted
    ws.append(["SX2", "检查", "依据", "大连市市场监督管理局", "一般检查事项", "百分之五"])
    d = tmp_path / "x"
    d.mkdir()
    wb.save(d / "inspection_items.xlsx")
    report = validate(d)
    assert [(i.rule, i.row) for i in report.issues] == [("schema-type", 4)]
    assert report.kinds["inspection_items"].read == 2


def test_folder_of_files_for_one_kind(tmp_path: Path, clean_dir: Path):
    d = tmp_path / "d"
    (d / "penalties").mkdir(parents=True)
    lines = (clean_dir / "penalties.jsonl").read_bytes().splitlines(keepends=True)
    (d / "penalties" / "2024.jsonl").write_bytes(b"".join(lines[:10]))
    (d / "penalties" / "2025.jsonl").write_bytes(b"".join(lines[10:20]) + lines[0])
    report = validate(d)
    assert [f.name for f in report.files] == ["penalties/2024.jsonl", "penalties/2025.jsonl"]
    (dup,) = report.issues
    assert dup.rule == "duplicate-key" and dup.file == "penalties/2025.jsonl" and "penalties/2024.jsonl 第 1 行" in dup.message
