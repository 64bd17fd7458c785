"""Build the report of the draws audit (audit.draws → audit.report)."""

from __future__ import annotations

from typing import Any

import numpy as np

from liushuang.urls import record_path

from . import svg
from .draws import ALPHA, DrawsAudit, verdict_counts
from .report import AuditReport, Finding, Section, Table
from .verify import FAILURES

STATUS_ZH = {"verified": "复核一致", "failed": "复核不一致", "not_verifiable": "无法复核"}
GLOBAL_ZH = {"diffuse": "分散偏差（Σz²，蒙特卡罗）", "zeros": "从未被抽中的主体数（蒙特卡罗）", "list-order": "名单顺序偏差（KS）"}


def findings(a: DrawsAudit) -> list[Finding]:
    out: list[Finding] = []
    by_slug: dict[str, list[Any]] = {}
    for v in a.verdicts:
        for slug, msg in v.failures:
            by_slug.setdefault(slug, []).append((v, msg))
    for slug, items in sorted(by_slug.items()):
        title, grade = FAILURES[slug]
        tasks = sorted({v.task_id for v, _ in items})
        out.append(Finding(slug, title, grade, "、".join(sorted({v.department for v, _ in items})), len(tasks),
                           f"涉及任务：{'、'.join(tasks[:5])}" + ("…" if len(tasks) > 5 else "") + f"。例：{items[0][1]}", "AUDIT-METHOD.md §1"))
    # Statistical findings only where the family survives Holm across all families (AUDIT-METHOD.md §2).
    for t in a.global_tests:
        if a.flagged(f"global:{t.name}"):
            out.append(Finding(f"global-{t.name}", GLOBAL_ZH[t.name], "high", "全部", 1,
                               f"统计量 {t.statistic:.3g}，p = {t.pvalue:.3g}（Holm 校正后 {t.adjusted:.3g}）"))
    for g in [g for g in a.groups if a.flagged("groups")] + [g for g in a.inspector_groups if a.flagged("inspector_groups")]:
        if g.adjusted is not None and g.adjusted < ALPHA:
            direction = "偏多" if (g.effect or 1) > 1 else "偏少"
            out.append(Finding("group", "成组主体被抽次数异常", "high", g.name, int(g.statistic),
                               f"被抽 {g.statistic:.0f} 次，期望 {g.detail['expected']:.1f} 次（{direction}，×{g.effect:.2f}）；"
                               f"精确检验 p = {g.pvalue:.3g}，BH q = {g.adjusted:.3g}"))
    for lead in a.entity_leads[:20] if a.flagged("entities") else []:
        out.append(Finding("entity-lead", "单个主体被抽次数异常（线索）", "medium", lead["uscc"], lead["selected"],
                           f"被抽 {lead['selected']} 次，期望 {lead['expected']:.2f} 次；BH q = {lead['q']:.3g}。扫描结果仅为线索，需结合业务核查"))
    for p in a.pairs if a.flagged("pairs") else []:
        if p.adjusted is not None and p.adjusted < ALPHA:
            out.append(Finding("pairing", "检查人员与主体反复配对", "high", p.detail["inspector"], int(p.statistic),
                               f"与同一主体配对 {p.statistic:.0f} 次，期望 {p.detail['expected']:.2f} 次；p = {p.pvalue:.3g}，Tarone 校正后 {p.adjusted:.3g}"))
    for w in a.workload if a.flagged("workload") else []:
        if w.adjusted is not None and w.adjusted < ALPHA:
            out.append(Finding("workload", "检查人员任务量异常", "medium", w.detail["inspector"], int(w.statistic),
                               f"分配 {w.statistic:.0f} 户，期望 {w.detail['expected']:.1f} 户；q = {w.adjusted:.3g}"))
    if not any(f.grade in ("high", "medium") and f.rule not in ("not-verifiable",) for f in out):
        detectable = "；".join(p["text"] for p in a.power if p["kind"] in ("group", "pairing"))
        out.append(Finding("no-anomaly", "未发现统计异常", "info", "全部", len(a.verdicts), f"未发现异常。本审计的检出能力：{detectable}"))
    return out


def build(a: DrawsAudit, meta: list[tuple[str, str]], *, site_url: str = "/") -> AuditReport:
    counts = verdict_counts(a)
    sections = []
    rows = [[v.task_id, v.department, v.algorithm or "—", STATUS_ZH[v.status], "；".join(FAILURES[s][0] for s, _ in v.failures) or "—"]
            for v in a.verdicts]
    sections.append(Section(
        "逐次复核", f"共 {len(a.verdicts)} 次抽取：复核一致 {counts['verified']} 次，不一致 {counts['failed']} 次，无法复核 {counts['not_verifiable']} 次。"
        "可复核的抽取按记录的算法、名单、样本量、人员库和种子重新计算，必须逐一一致；承诺哈希、种子来源和事件先后顺序一并核对。",
        [Table(["任务", "部门", "算法", "结论", "问题"], rows, links=[site_url + record_path("inspection_tasks", v.task_id) for v in a.verdicts])],
        [svg.hbars([(STATUS_ZH[k], counts[k] / max(len(a.verdicts), 1)) for k in ("verified", "failed", "not_verifiable")], "抽取复核结论")]))
    g_rows = [[GLOBAL_ZH[t.name], f"{t.statistic:.4g}", f"{t.pvalue:.3g}"] for t in a.global_tests]
    fam_zh = {"global:diffuse": "分散偏差", "global:zeros": "从未被抽中", "global:list-order": "名单顺序", "groups": "成组检验",
              "entities": "单个主体扫描", "pairs": "人员配对", "workload": "人员任务量", "inspector_groups": "人员经手主体"}
    f_rows = [[fam_zh.get(k, k), f"{p:.3g}", f"{adj:.3g}", "是" if adj < ALPHA else "否"] for k, (p, adj) in a.families.items()]
    sections.append(Section("结论与多重检验", f"各类检验先在类内校正（BH 或 Tarone），再以各类最小校正 p 值在类间用 Holm 方法校正，"
                            f"使整份报告在抽取公平时误报的概率不超过 {ALPHA:.0%}（校准研究见 docs/calibration.md）。"
                            f"整体检验在原设计上重复模拟 {a.resamples} 次公平抽取（随机种子 {a.seed}）作参照。",
                            [Table(["检验类", "类内 p 值", "Holm 校正", "发现异常"], f_rows), Table(["整体检验", "统计量", "p 值"], g_rows)]))
    class_chart = svg.hbars([(c, obs / exp if exp else 0) for c, obs, exp in a.by_class], "各信用风险类别：实际被抽次数 / 期望次数",
                            fmt="{:.2f}", limit=2.0, threshold=1.0)
    hist = np.histogram(a.entity_pvalues, bins=20, range=(0, 1))[0] if len(a.entity_pvalues) else []
    p_chart = svg.columns([(f"{i / 20:.2f}", int(c)) for i, c in enumerate(hist)], "主体上尾 p 值分布（公平时近似均匀，离散分布使高端偏多）")
    grp = sorted(a.groups, key=lambda g: g.pvalue)
    sections.append(Section(
        "成组检验", "区域、行业、信用风险类别、与执法人员有回避关系的主体以及用户提供的名单：各组被抽总次数与精确分布"
        "（每次抽取每层一个超几何分布的卷积）比较，双侧检验，组间用 Benjamini–Hochberg 控制错误发现率。",
        [Table(["组", "主体数", "被抽次数", "期望", "比值", "p 值", "q 值"],
               [[g.name, g.detail["entities"], int(g.statistic), round(g.detail["expected"], 2), round(g.effect or 0, 3), f"{g.pvalue:.3g}", f"{g.adjusted:.3g}"] for g in grp])],
        [class_chart, p_chart]))
    ig = sorted(a.inspector_groups, key=lambda g: g.pvalue)[:30]
    if ig:
        sections.append(Section("检查人员经手主体", "某检查人员某年检查过的主体，在下一年的抽取中是否被多抽（同样为精确的超几何卷积检验，BH 校正）。",
                                [Table(["组", "被抽次数", "期望", "p 值", "q 值"],
                                       [[g.name, int(g.statistic), round(g.detail["expected"], 2), f"{g.pvalue:.3g}", f"{g.adjusted:.3g}"] for g in ig],
                                       caption="p 值最小的 30 组")]))
    leads = [[x["uscc"], x["selected"], round(x["expected"], 2), "偏多" if x["direction"] == "favoured" else "偏少", f"{x['q']:.3g}"] for x in a.entity_leads[:50]]
    sections.append(Section("单个主体扫描", "每个主体被抽次数的精确泊松二项分布检验（上尾、下尾），BH 校正。扫描的结果只是线索，不是结论。",
                            [Table(["主体", "被抽次数", "期望", "方向", "q 值"], leads or [["—", "—", "—", "—", "—"]])]))
    pair_rows = [[p.detail["inspector"], int(p.statistic), round(p.detail["expected"], 2), f"{p.pvalue:.3g}", f"{p.adjusted:.3g}"] for p in sorted(a.pairs, key=lambda p: p.pvalue)[:30]]
    info = a.pairing_info
    sections.append(Section("检查人员与主体配对", f"共 {info['pairs']} 个可能重复的配对；按 Tarone 方法剔除不可能显著的配对后，检验 {info['testable']} 个（阈值 α/{info['tarone_k']}）。",
                            [Table(["检查人员", "配对次数", "期望", "p 值", "校正后"], pair_rows or [["—", "—", "—", "—", "—"]])]))
    w = sorted(a.workload, key=lambda x: x.pvalue)[:30]
    sections.append(Section("检查人员任务量", "每名检查人员被分配的户数与 k/M 的期望比较（泊松二项分布，双侧，BH 校正）。",
                            [Table(["检查人员", "分配户数", "期望", "p 值", "q 值"],
                                   [[x.detail["inspector"], int(x.statistic), round(x.detail["expected"], 2), f"{x.pvalue:.3g}", f"{x.adjusted:.3g}"] for x in w])]))
    sections.append(Section("检出能力", "如果存在以下程度的操纵，本审计在这批数据上有 80% 的把握发现（单个主体用精确分布计算，成组用正态近似，阈值已计入多重检验校正）。",
                            [Table(["情形", "说明"], [[p["kind"], p["text"]] for p in a.power])]))
    data: dict[str, Any] = {
        "verdicts": [{"task_id": v.task_id, "department": v.department, "status": v.status, "algorithm": v.algorithm,
                      "failures": [{"rule": s, "message": m} for s, m in v.failures]} for v in a.verdicts],
        "global": [t.__dict__ for t in a.global_tests],
        "groups": [g.__dict__ for g in a.groups], "inspector_groups": [g.__dict__ for g in a.inspector_groups],
        "entity_leads": a.entity_leads, "pairs": [p.__dict__ for p in a.pairs], "pairing": a.pairing_info,
        "workload": [x.__dict__ for x in a.workload], "power": a.power, "resamples": a.resamples, "seed": a.seed,
    }
    return AuditReport("draws", "六双履职审计：双随机抽取", meta, findings(a), sections, data, a.notes)
