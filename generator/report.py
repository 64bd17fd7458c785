"""The validation report: counts, issues, and renderings for people and machines."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from liushuang import schemas

from .rules import RULES, Issue


@dataclass
class FileStats:
    name: str
    kind: str
    format: str
    encoding: str = ""
    size: int = 0
    read: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass
class KindStats:
    read: int = 0
    accepted: int = 0
    rejected: int = 0

    @property
    def conserved(self) -> bool:
        return self.read == self.accepted + self.rejected


@dataclass
class Report:
    data_dir: str
    files: list[FileStats] = field(default_factory=list)
    kinds: dict[str, KindStats] = field(default_factory=lambda: {k: KindStats() for k in schemas.KINDS})
    issues: list[Issue] = field(default_factory=list)
    quarantine_dir: str | None = None
    gate_disagreements: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def io_failed(self) -> bool:
        return any(i.rule == "file-unreadable" for i in self.issues)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        if self.io_failed:
            return 2
        return 0 if self.valid else 1

    def rule_counts(self) -> Counter[str]:
        return Counter(i.rule for i in self.issues)

    def flatten(self, fields: list[str]) -> list[list[Any]]:
        """Issues as rows of the named attributes (for tests and tables)."""
        return [[getattr(i, f) for f in fields] for i in self.issues]

    def stats(self) -> dict[str, Any]:
        read = sum(k.read for k in self.kinds.values())
        accepted = sum(k.accepted for k in self.kinds.values())
        return {"files": len(self.files), "read": read, "accepted": accepted, "rejected": read - accepted,
                "errors": len(self.errors), "warnings": len(self.warnings), "seconds": round(self.seconds, 3)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "data_dir": self.data_dir,
            "stats": self.stats(),
            "kinds": {k: {**asdict(v), "conserved": v.conserved} for k, v in self.kinds.items() if v.read},
            "files": [asdict(f) for f in self.files],
            "rules": {slug: {"count": n, "title": RULES[slug].title, "severity": RULES[slug].severity}
                      for slug, n in sorted(self.rule_counts().items())},
            "quarantine_dir": self.quarantine_dir,
            "gate_disagreements": self.gate_disagreements,
            "issues": [i.to_dict() for i in self.issues],
        }

    def render_text(self, max_issues: int = 30) -> str:
        out: list[str] = []
        s = self.stats()
        verdict = "全部记录通过校验" if self.valid else "发现问题"
        out.append(f"校验结果：{verdict}（{self.data_dir}，用时 {s['seconds']} 秒）")
        if not self.files:
            out += [f"  {i.where} {i.rule}: {i.message}" for i in self.issues]
            return "\n".join(out)
        out.append("")
        out.append(_table(["记录类型", "读取", "通过", "拒绝", "守恒"],
                          [[k, v.read, v.accepted, v.rejected, "✓" if v.conserved else "✗"]
                           for k, v in self.kinds.items() if v.read]))
        out.append(f"合计：读取 {s['read']} = 通过 {s['accepted']} + 拒绝 {s['rejected']}")
        out.append("")
        out.append(_table(["文件", "类型", "编码", "读取", "通过", "拒绝"],
                          [[f.name, f.kind, f.encoding or f.format, f.read, f.accepted, f.rejected] for f in self.files]))
        counts = self.rule_counts()
        if counts:
            out.append("")
            out.append(_table(["规则", "说明", "级别", "次数"],
                              [[slug, RULES[slug].title, "错误" if RULES[slug].severity == "error" else "警告", n]
                               for slug, n in counts.most_common()]))
            out.append("")
            shown = self.issues[:max_issues]
            out.append(f"问题明细（前 {len(shown)} 条，共 {len(self.issues)} 条；完整列表见 --json 或隔离文件）：")
            for i in shown:
                rid = f" [{i.record_id}]" if i.record_id else ""
                ptr = f" {i.pointer}" if i.pointer else ""
                out.append(f"  {i.where}{rid}{ptr} {i.rule}: {i.message}")
        if self.quarantine_dir and any(k.rejected for k in self.kinds.values()):
            out.append("")
            out.append(f"被拒绝的记录及原因已写入：{self.quarantine_dir}")
        return "\n".join(out)


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c + " " * (widths[i] - _width(c)) for i, c in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
