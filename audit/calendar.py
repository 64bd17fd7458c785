"""Chinese working days, from a versioned data file of State Council notices.

Convention (DOMAIN.md §6, AUDIT-METHOD.md §4): the deadline of "within N
working days" is the N-th working day strictly after the trigger date; weekends
and statutory holidays are off, make-up days (调休) are on. A year the calendar
does not cover makes any computation that needs it ``NotComputable``: it is
never guessed.

Everything is precomputed as a cumulative count of working days per day, so
deadlines and delays for a million records are two array look-ups each
(``deadlines`` and ``working_days_between`` take numpy arrays).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

EPOCH = dt.date(1970, 1, 1)


class NotComputable(ValueError):
    """The calendar has no arrangement for a year the computation needs."""

    def __init__(self, year: int):
        super().__init__(f"{year} 年的节假日安排不在工作日历中，无法计算（可用 --calendar 补充该年的国务院通知）")
        self.year = year


def _day(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[dt.date]
    makeup_workdays: frozenset[dt.date]
    years: frozenset[int]
    notices: dict[int, str] = field(default_factory=dict)
    version: str = ""

    # --- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, extra: Iterable[str | Path] = ()) -> Calendar:
        """The built-in calendar, with years from user files added or replaced."""
        text = resources.files("liushuang.audit").joinpath("calendars/china.toml").read_text("utf-8")
        docs = [tomllib.loads(text)] + [tomllib.loads(Path(p).read_text("utf-8")) for p in extra]
        by_year: dict[int, dict] = {}
        versions = []
        for doc in docs:
            versions.append(str(doc.get("version", "user")))
            for y in doc.get("years", []):
                by_year[int(y["year"])] = y
        holidays: set[dt.date] = set()
        makeup: set[dt.date] = set()
        for year, y in by_year.items():
            for h in y.get("holidays", []):
                start, end = _day(h["from"]), _day(h["to"])
                if end < start:
                    raise ValueError(f"{year}: holiday {h.get('name')} ends before it starts")
                holidays.update(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
            makeup.update(_day(m["date"]) for m in y.get("makeup_workdays", []))
        clash = holidays & makeup
        if clash:
            raise ValueError(f"days both holiday and make-up working day: {sorted(clash)[:3]}")
        return cls(frozenset(holidays), frozenset(makeup), frozenset(by_year),
                   {y: str(v.get("notice", "")) for y, v in by_year.items()}, "+".join(versions))

    # --- single days ---------------------------------------------------------------
    def covers(self, day: dt.date) -> bool:
        return day.year in self.years

    def is_workday(self, day: dt.date) -> bool:
        if day.year not in self.years:
            raise NotComputable(day.year)
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, trigger: dt.date, n: int) -> dt.date:
        """The n-th working day strictly after ``trigger`` (n ≥ 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day = trigger
        while n:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    # --- arrays ----------------------------------------------------------------------
    @property
    def _table(self) -> _Table:
        table = self.__dict__.get("_cached_table")
        if table is None:
            table = _Table.build(self)
            object.__setattr__(self, "_cached_table", table)
        return table

    def deadlines(self, triggers: np.ndarray, n: int | np.ndarray) -> np.ndarray:
        """Deadlines (days since 1970-01-01) for trigger days; -1 where not computable."""
        return self._table.deadlines(np.asarray(triggers, dtype=np.int64), n)

    def working_days_between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Working days in (start, end]; negative when end is before start; a
        sentinel of -10**9 where a needed year is not covered."""
        return self._table.between(np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64))


NOT_COVERED = -(10**9)


@dataclass(frozen=True)
class _Table:
    first: int  # day number of the first covered day
    cum: np.ndarray  # cum[i] = working days in [first, first + i]
    covered: np.ndarray  # covered[i] = day first + i is in a covered year
    cum_uncovered: np.ndarray  # running count of uncovered days, for range checks

    @classmethod
    def build(cls, cal: Calendar) -> _Table:
        if not cal.years:
            return cls(0, np.zeros(1, np.int64), np.zeros(1, bool), np.ones(1, np.int64))
        start = dt.date(min(cal.years), 1, 1)
        end = dt.date(max(cal.years), 12, 31)
        n = (end - start).days + 1
        first = (start - EPOCH).days
        days = [start + dt.timedelta(days=i) for i in range(n)]
        covered = np.array([d.year in cal.years for d in days])
        work = np.array([c and (d in cal.makeup_workdays or (d.weekday() < 5 and d not in cal.holidays))
                         for d, c in zip(days, covered)])
        return cls(first, np.cumsum(work, dtype=np.int64), covered, np.cumsum(~covered, dtype=np.int64))

    def _index(self, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = days - self.first
        inside = (idx >= 0) & (idx < len(self.cum))
        return np.clip(idx, 0, len(self.cum) - 1), inside

    def _all_covered(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Every day in (lo, hi] covered (lo < hi, indexes already clipped)."""
        return self.cum_uncovered[hi] - self.cum_uncovered[lo] == 0

    def deadlines(self, triggers: np.ndarray, n: int | np.ndarray) -> np.ndarray:
        idx, inside = self._index(triggers)
        target = self.cum[idx] + np.asarray(n, dtype=np.int64)
        pos = np.searchsorted(self.cum, target, side="left")
        ok = inside & (pos < len(self.cum))
        pos = np.clip(pos, 0, len(self.cum) - 1)
        ok &= self.covered[idx] & self._all_covered(idx, pos) & (self.cum[pos] == target)
        return np.where(ok, pos + self.first, -1)

    def between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        si, s_in = self._index(start)
        ei, e_in = self._index(end)
        lo, hi = np.minimum(si, ei), np.maximum(si, ei)
        ok = s_in & e_in & self.covered[si] & self.covered[ei] & self._all_covered(lo, hi)
        return np.where(ok, self.cum[ei] - self.cum[si], NOT_COVERED)


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def from_day_number(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))
