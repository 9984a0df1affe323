"""Date arguments and China time."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from jmlink_analytics._dates import china_today, to_date


@pytest.mark.parametrize(
    "value",
    ["2020-08-01", dt.date(2020, 8, 1), dt.datetime(2020, 8, 1, 23, 59), pd.Timestamp("2020-08-01 10:00"),
     np.datetime64("2020-08-01")],
)
def test_accepted_date_forms(value):
    assert to_date(value, "start") == dt.date(2020, 8, 1)


@pytest.mark.parametrize("value", ["2020-8-1", "20200801", "2020-02-30", "yesterday", "2020-08-01T00:00", pd.NaT])
def test_bad_dates_name_the_argument(value):
    with pytest.raises(ValueError, match="start"):
        to_date(value, "start")


@pytest.mark.parametrize("value", [None, 20200801, 1.5])
def test_wrong_types_name_the_argument(value):
    with pytest.raises(TypeError, match="end.*yyyy-MM-dd"):
        to_date(value, "end")


def test_china_today_is_utc_plus_8():
    # 2024-05-01 17:30 UTC is already 2024-05-02 in China
    assert china_today(dt.datetime(2024, 5, 1, 17, 30, tzinfo=dt.UTC)) == dt.date(2024, 5, 2)
    assert china_today(dt.datetime(2024, 5, 1, 15, 59)) == dt.date(2024, 5, 1)  # naive means UTC
