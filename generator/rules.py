"""The catalogue of validation rules: errors are data.

Every problem the validator reports is an :class:`Issue` naming one rule of
this catalogue by its slug, with a Chinese message and its location (file,
line or row, record id, JSON pointer). Reports, quarantine files, the CLI and
the tests all read these objects; nothing is printed on the way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Rule:
    slug: str
    title: str  # zh-CN, shown to users
    severity: Severity
    scope: Literal["file", "record"]
    explanation: str  # English, for the docs and the data dictionary
    basis: str = ""  # legal or standard basis, where there is one


_RULES = [
    # --- files -------------------------------------------------------------
    Rule("file-unreadable", "文件无法读取", "error", "file", "The file could not be opened or read (permissions, missing, I/O error)."),
    Rule("file-format", "文件格式损坏", "error", "file", "The file is not a valid document of its format (corrupt xlsx/parquet, JSON that is not an array of objects)."),
    Rule("file-unknown-kind", "未识别的文件", "warning", "file", "A file in the data directory whose name is not a record kind; it is not read."),
    Rule("column-unknown", "未识别的列", "warning", "file", "A column that maps to no schema field; its values are not read."),
    Rule("column-duplicate", "重复的列", "error", "file", "Two columns map to the same field; the later one is not read."),
    Rule("file-decode", "字符解码失败", "error", "record", "Bytes that are neither valid UTF-8 nor GB18030; the record containing them is rejected.", "GB 18030-2022"),
    # --- record shape ------------------------------------------------------
    Rule("record-parse", "记录无法解析", "error", "record", "A JSON Lines line that is not valid JSON (truncated, NUL bytes, stray text)."),
    Rule("record-not-object", "记录不是对象", "error", "record", "A record that is not a JSON object."),
    # --- JSON Schema keywords ---------------------------------------------------
    Rule("schema-required", "缺少必填字段", "error", "record", "A mandatory field is missing or empty.", "JSON Schema `required`"),
    Rule("schema-type", "字段类型错误", "error", "record", "A value of the wrong type (text where a number is expected, …).", "JSON Schema `type`"),
    Rule("schema-enum", "不在代码表中", "error", "record", "A value outside the field's code list.", "JSON Schema `enum`/`const`"),
    Rule("schema-format", "日期或时间格式错误", "error", "record", "A date or date-time that is not a real ISO 8601 / RFC 3339 value (e.g. 2024-02-30, 0000-00-00).", "JSON Schema `format`"),
    Rule("schema-pattern", "格式不符", "error", "record", "A value that does not match the field's pattern (e.g. a USCC with a forbidden letter).", "JSON Schema `pattern`"),
    Rule("schema-length", "长度超出范围", "error", "record", "Text shorter or longer than allowed.", "JSON Schema `minLength`/`maxLength`"),
    Rule("schema-range", "数值超出范围", "error", "record", "A number outside its allowed range (e.g. a negative fine).", "JSON Schema `minimum`/`maximum`"),
    Rule("schema-items", "列表不符合要求", "error", "record", "A list that is empty, too long or has repeated items.", "JSON Schema `minItems`/`uniqueItems`"),
    Rule("schema-additional", "多余字段", "error", "record", "A field the schema does not define.", "JSON Schema `additionalProperties`"),
    Rule("schema-other", "不符合数据规范", "error", "record", "Any other JSON Schema violation."),
    # --- identifiers -------------------------------------------------------
    Rule("uscc-checksum", "统一社会信用代码校验位错误", "error", "record", "The 18th character of a USCC does not match its check character.", "GB 32100-2015"),
    Rule("org-code-checksum", "组织机构代码校验位错误", "error", "record", "The check character of an organisation code is wrong.", "GB 11714-1997"),
    Rule("org-code-mismatch", "组织机构代码与统一社会信用代码不一致", "error", "record", "The organisation code differs from USCC positions 9-17.", "GB 32100-2015 §4"),
    Rule("id-checksum", "身份证号码无效", "error", "record", "A mainland ID number whose check character or birth date is wrong.", "GB 11643-1999"),
    Rule("region-unknown", "行政区划代码未知", "error", "record", "A region code that is not in the policy's list of the city's codes.", "GB/T 2260"),
    # --- cross-field -------------------------------------------------------
    Rule("date-order", "日期先后顺序错误", "error", "record", "Two dates in the wrong order (valid from after valid to, published before decided, claimed before pushed, …)."),
    Rule("fine-consistency", "罚款类别与罚款金额不一致", "error", "record", "罚款 is among the sanctions exactly when the fine amount is greater than zero.", "national 双公示 standard"),
    Rule("subject-kind-mismatch", "主体类型与代码不一致", "error", "record", "A USCC starting with 92 belongs to a 个体工商户 and only then; a natural person has no USCC.", "GB 32100-2015 §4.2"),
    Rule("revocation-consistency", "撤销信息不完整", "error", "record", "A revocation date without its kind, or a kind without a date."),
    Rule("frame-inconsistent", "抽查名单不一致", "error", "record", "Frame size, strata sizes and sample sizes disagree with the frame members and the selections."),
    Rule("selection-not-in-frame", "抽中对象不在名单中", "error", "record", "A selected entity that is not in the task's frame (or in another stratum)."),
    Rule("assignment-not-selected", "分配对象未被抽中", "error", "record", "Inspectors assigned to an entity that was not selected, or a selection without inspectors."),
    # --- across records and files ---------------------------------------------
    Rule("duplicate-key", "重复记录", "error", "record", "A second record with the key of an earlier one (e.g. the same decision number twice); the first is kept."),
    Rule("ref-missing", "引用的记录不存在", "error", "record", "A reference to a record that no input file holds (feedback → notification, result → task, inspector → roster, …)."),
    Rule("ref-rejected", "引用的记录未通过校验", "error", "record", "A reference to a record that exists but was itself rejected."),
]

RULES: dict[str, Rule] = {r.slug: r for r in _RULES}


@dataclass(slots=True)
class Issue:
    """One problem found in the input."""

    rule: str
    message: str
    file: str = ""
    line: int | None = None  # physical line (CSV, JSON Lines)
    row: int | None = None  # data row (xlsx sheet row, parquet row, JSON array index; 1-based)
    record_id: str | None = None
    pointer: str = ""  # JSON pointer into the record
    byte_offset: int | None = None
    kind: str = ""

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity

    @property
    def where(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.row is not None:
            return f"{self.file}#{self.row}"
        return self.file

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity
        return {k: v for k, v in d.items() if v is not None and v != ""}


def json_pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""
