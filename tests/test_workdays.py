"""Working days: weekends and Ukrainian public holidays (the `holidays` package) excluded."""

from datetime import date

import pytest

from opencity.workdays import add_working_days, is_working_day


def test_friday_plus_one_working_day_is_monday():
    assert add_working_days(date(2021, 6, 4), 1) == date(2021, 6, 7)


def test_orthodox_christmas_and_its_substitute_day_off_are_skipped():
    # 2021: 7 January (Christmas, Thursday) and 8 January (day off moved from 16 January).
    assert not is_working_day(date(2021, 1, 7))
    assert not is_working_day(date(2021, 1, 8))
    assert add_working_days(date(2021, 1, 6), 1) == date(2021, 1, 11)
    assert add_working_days(date(2021, 1, 5), 2) == date(2021, 1, 11)


def test_ten_working_days_across_independence_day():
    # 2021-08-23 was a substitute day off and 2021-08-24 Independence Day.
    assert not is_working_day(date(2021, 8, 23))
    assert not is_working_day(date(2021, 8, 24))
    # From Friday 20 August: 25, 26, 27, 30, 31 Aug, 1, 2, 3, 6, 7 Sep.
    assert add_working_days(date(2021, 8, 20), 10) == date(2021, 9, 7)


def test_ten_working_days_without_holidays_is_two_weeks():
    assert add_working_days(date(2021, 11, 1), 10) == date(2021, 11, 15)


def test_defenders_day_and_its_bridge_day_push_the_deadline_by_two_days():
    # 2021-10-14 Defenders' Day (Thursday), 2021-10-15 day off moved from 23 October.
    assert add_working_days(date(2021, 10, 4), 10) == date(2021, 10, 20)


def test_holidays_are_not_days_off_under_martial_law():
    # Since 2022 (martial law, Law 2136-IX) public holidays are working days; the package
    # follows the law, so 24 August 2023 (a Thursday) counts as a working day.
    assert is_working_day(date(2023, 8, 24))
    assert not is_working_day(date(2023, 8, 26))  # Saturday


def test_zero_days_is_the_start_and_negative_is_refused():
    assert add_working_days(date(2021, 1, 7), 0) == date(2021, 1, 7)
    with pytest.raises(ValueError):
        add_working_days(date(2021, 1, 7), -1)
