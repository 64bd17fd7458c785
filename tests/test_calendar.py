"""The working-day calendar: data file against chinesecalendar, and the
deadline convention around every Spring Festival and National Day."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import numpy as np
import pytest
from liushuang.audit.calendar import NOT_COVERED, Calendar, NotComputable, day_number, from_day_number

CAL = Calendar.load()
D = dt.date


def test_every_day_2018_2026_agrees_with_chinesecalendar():
    day = D(2018, 1, 1)
    while day <= D(2026, 12, 31):
        assert CAL.is_workday(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


# (trigger, n, expected deadline), each worked out by hand from the year's State Council notice.
CASES = [
    # Spring Festival of every year: the deadline jumps the holiday; make-up weekend days count.
    (D(2018, 2, 9), 2, D(2018, 2, 12)),    # Sun 2-11 is a make-up day → Fri 2-9 + 1 = Sun 2-11, +2 = Mon 2-12
    (D(2018, 2, 14), 1, D(2018, 2, 22)),   # holiday 2-15..2-21
    (D(2019, 2, 1), 1, D(2019, 2, 2)),     # Sat 2-2 is a make-up day
    (D(2019, 2, 3), 1, D(2019, 2, 11)),    # holiday 2-4..2-10
    (D(2020, 1, 23), 1, D(2020, 2, 3)),    # holiday extended to 2-2 (2020 extension notice)
    (D(2020, 1, 18), 1, D(2020, 1, 19)),   # Sun 1-19 is a make-up day
    (D(2021, 2, 10), 1, D(2021, 2, 18)),   # holiday 2-11..2-17
    (D(2021, 2, 6), 1, D(2021, 2, 7)),     # Sun 2-7 make-up
    (D(2022, 1, 30), 1, D(2022, 2, 7)),    # Sun 1-30 itself is a make-up day, but the trigger day never counts
    (D(2023, 1, 20), 1, D(2023, 1, 28)),   # holiday 1-21..1-27, Sat 1-28 make-up
    (D(2024, 2, 8), 1, D(2024, 2, 9)),     # 除夕 2-9 was a working day in 2024
    (D(2024, 2, 9), 1, D(2024, 2, 18)),    # holiday 2-10..2-17, Sun 2-18 make-up
    (D(2025, 1, 27), 1, D(2025, 2, 5)),    # holiday 1-28..2-4
    (D(2025, 1, 25), 1, D(2025, 1, 26)),   # Sun 1-26 make-up
    (D(2026, 2, 14), 1, D(2026, 2, 24)),   # Sat 2-14 is a make-up day but is the trigger; holiday 2-15..2-23
    # National Day of every year.
    (D(2018, 9, 28), 1, D(2018, 9, 29)),   # Sat 9-29 make-up
    (D(2018, 9, 30), 1, D(2018, 10, 8)),
    (D(2019, 9, 30), 1, D(2019, 10, 8)),
    (D(2020, 9, 30), 1, D(2020, 10, 9)),   # 国庆 + 中秋 10-1..10-8
    (D(2021, 9, 30), 1, D(2021, 10, 8)),
    (D(2022, 9, 30), 1, D(2022, 10, 8)),   # Sat 10-8 make-up
    (D(2023, 9, 28), 1, D(2023, 10, 7)),   # 中秋 + 国庆 9-29..10-6, Sat 10-7 make-up
    (D(2024, 9, 30), 1, D(2024, 10, 8)),
    (D(2025, 9, 30), 1, D(2025, 10, 9)),   # 10-1..10-8
    (D(2026, 9, 30), 1, D(2026, 10, 8)),
    # A trigger on a non-working day: counting starts the next day.
    (D(2024, 10, 3), 1, D(2024, 10, 8)),
    (D(2024, 3, 2), 5, D(2024, 3, 8)),     # Saturday
    # Year boundaries.
    (D(2018, 12, 28), 1, D(2018, 12, 29)),  # Sat 12-29 make-up (2019 notice), then 12-30..1-1 off
    (D(2018, 12, 29), 1, D(2019, 1, 2)),
    (D(2025, 12, 31), 1, D(2026, 1, 4)),    # 1-1..1-3 off, Sun 1-4 make-up
    (D(2024, 9, 27), 5, D(2024, 10, 10)),   # 9-29 (Sun) make-up and 9-30 count, holiday, then 10-8, 10-9, 10-10
]


@pytest.mark.parametrize("trigger,n,expected", CASES, ids=[f"{c[0]}+{c[1]}" for c in CASES])
def test_deadline_convention(trigger, n, expected):
    assert CAL.add_working_days(trigger, n) == expected
    # The vectorised path agrees with the day-by-day one.
    assert from_day_number(CAL.deadlines(np.array([day_number(trigger)]), n)[0]) == expected


def test_uncovered_year_is_not_computable():
    with pytest.raises(NotComputable) as err:
        CAL.add_working_days(D(2026, 12, 30), 5)
    assert err.value.year == 2027 and "2027" in str(err.value)
    with pytest.raises(NotComputable):
        CAL.is_workday(D(2017, 6, 1))
    got = CAL.deadlines(np.array([day_number(D(2026, 12, 30)), day_number(D(2017, 3, 1)), day_number(D(2026, 12, 1))]), 5)
    assert got[0] == -1 and got[1] == -1 and from_day_number(got[2]) == D(2026, 12, 8)


def test_working_days_between():
    a, b = day_number(D(2024, 9, 27)), day_number(D(2024, 10, 10))
    assert CAL.working_days_between(np.array([a]), np.array([b]))[0] == 5
    assert CAL.working_days_between(np.array([b]), np.array([a]))[0] == -5
    assert CAL.working_days_between(np.array([day_number(D(2026, 12, 1))]), np.array([day_number(D(2027, 1, 5))]))[0] == NOT_COVERED


def test_user_calendar_adds_a_year(tmp_path):
    extra = tmp_path / "2027.toml"
    extra.write_text('version = "test-2027"\n[[years]]\nyear = 2027\nnotice = "test"\n'
                     'holidays = [ { name = "元旦", from = 2027-01-01, to = 2027-01-01 } ]\nmakeup_workdays = []\n', encoding="utf-8")
    cal = Calendar.load([extra])
    assert 2027 in cal.years and "test-2027" in cal.version
    assert cal.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)  # Fri 1-1 holiday, weekend


def test_inconsistent_calendar_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[years]]\nyear = 2027\nholidays = [ { name = "x", from = 2027-01-04, to = 2027-01-04 } ]\n'
                   'makeup_workdays = [ { date = 2027-01-04, for = "x" } ]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="both holiday and make-up"):
        Calendar.load([bad])
