"""The public name of each kind of record the site shows: one table for the pages,
the search index and form, the downloads and the data catalogue."""

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
