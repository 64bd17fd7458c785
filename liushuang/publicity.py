"""What may be published, and for how long (DOMAIN.md §4; policy file [publicity]).

Shared by the public site (what to show) and the deadline audit (which
decisions owe publication, and which should have been taken down).
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
from typing import Any

from liushuang.policy import Policy


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, _cal.monthrange(year, month)[1]))


def exempt_from_publication(penalty: dict[str, Any]) -> str | None:
    """Why a penalty is not published, or None. SAMR 2021 penalty-publicity
    rules (policy default): warnings alone, and summary-procedure decisions."""
    if penalty.get("procedure") == "简易程序":
        return "summary-procedure"
    if penalty.get("penalty_kinds") == ["警告"]:
        return "warning-only"
    return None


def publicity_end(penalty: dict[str, Any], policy: Policy) -> dt.date | None:
    """Last day a published penalty stays public; None if it was never published.

    An explicit 公示截止期 wins. Otherwise 3 months for 通报批评 alone or a low
    fine (with or without a warning), else 3 years; special-equipment,
    work-safety and fire penalties at least 1 year.
    """
    explicit = penalty.get("publicity_until")
    if explicit:
        return dt.date.fromisoformat(explicit)
    published = penalty.get("published_on")
    if not published:
        return None
    p = policy.raw["publicity"]
    start = dt.date.fromisoformat(published)
    kinds = set(penalty.get("penalty_kinds") or [])
    fine = penalty.get("fine_amount_wan") or 0
    short = bool(kinds) and kinds <= {"通报批评", "警告", "罚款"} and ("罚款" not in kinds or fine <= p["low_fine_wan"])
    end = add_months(start, int(p["short_months"]) if short else 12 * int(p["long_years"]))
    if penalty.get("sector") in p["minimum_years_sectors"]:
        end = max(end, add_months(start, 12))
    return end
