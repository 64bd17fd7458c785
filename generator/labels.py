"""The public name of each kind of record the site shows: one table for the pages,
the search index and form, the downloads and the data catalogue; and the labels of
the spot checks' result codes, which pages and search documents show."""

KIND_LABEL = {
    "entities": "市场主体",
    "penalties": "行政处罚",
    "licenses": "行政许可",
    "inspection_tasks": "双随机抽查任务",
    "inspection_results": "双随机抽查结果",
}


def labels(*kinds: str) -> dict[str, str]:
    """The labels of ``kinds``, in that order."""
    return {k: KIND_LABEL[k] for k in kinds}


# Result codes of the national enterprise credit publicity system (DOMAIN.md §5).
RESULT_CODES = {"1": "未发现问题", "3": "违反食品药品相关规定", "4": "违反质量技术监督相关规定", "5": "违反其他部门相关规定",
                "G": "违反公安部门相关规定", "6": "通过登记的住所（经营场所）无法联系", "7": "已关闭停业或正在组织清算",
                "8": "不配合检查情节严重", "9": "注销", "10": "被吊销", "11": "被撤销", "12": "迁出", "B": "未按规定公示应当公示的信息",
                "C": "公示信息隐瞒真实情况弄虚作假", "D": "违反其他行政管理规定行为", "E": "发现问题经责令已改正",
                "F": "未发现开展本次抽查涉及的经营活动"}


def result_labels(codes: list[str]) -> str:
    return "；".join(f"{RESULT_CODES.get(c, c)}（{c}）" for c in codes)
