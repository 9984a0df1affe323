"""The comparison window of the report and the dashboard, defined once: complete days against as many before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, NamedTuple

import pandas as pd

from .._dates import to_date

__all__ = ["Comparison", "comparison_windows"]

_DAY = dt.timedelta(days=1)


class Comparison(NamedTuple):
    """The two windows of a comparison (both ends included), or ``None`` with the reason in ``note``."""

    current: tuple[dt.date, dt.date] | None
    previous: tuple[dt.date, dt.date] | None
    note: str


def _days(n: int) -> str:
    return f"{n:,} day{'' if n == 1 else 's'}"


def comparison_windows(start: Any, end: Any, *, partial_days: Iterable[Any] = (),
                       first: Any = None) -> Comparison:
    """The change a report or the dashboard shows for ``start`` .. ``end``: its complete days vs as many before.

    Parameters
    ----------
    start, end : date-like
        The period shown (both included).
    partial_days : iterable of date-like, optional
        Days that may still grow (``is_partial``: today and yesterday). The period's last days
        that are partial are left out of the comparison, so a half-counted day never reads as
        a drop.
    first : date-like, optional
        The first day the data hold; a previous window starting before it is not compared.

    Returns
    -------
    Comparison
        ``current`` = ``start`` .. the period's last complete day (N days); ``previous`` = the
        N days right before ``start``, as :func:`~jmlink_analytics.compare_periods` takes by
        default: two windows of the same length (a whole week against the week before when no
        day is partial). Both ``None`` when there is nothing to compare, with ``note`` saying
        why (only partial days, or the data not reaching back N days: the reason alone, each
        caller says what it leaves out); ``note`` is ``""`` otherwise.

    Examples
    --------
    >>> comparison_windows("2024-06-24", "2024-06-30", partial_days=["2024-06-29", "2024-06-30"]).previous
    (datetime.date(2024, 6, 19), datetime.date(2024, 6, 23))
    """
    first_day, last_day = to_date(start, "start"), to_date(end, "end")
    if first_day > last_day:
        raise ValueError(f"start must not be after end; got {first_day} > {last_day}")
    partial = {to_date(pd.Timestamp(d), "partial_days") for d in partial_days}
    length = (last_day - first_day).days + 1
    complete = last_day
    while complete >= first_day and complete in partial:
        complete -= _DAY
    if complete < first_day:
        what = "the day is partial" if length == 1 else f"all {length} days are partial"
        return Comparison(None, None, f"only partial days ({what}: today and yesterday may still grow)")
    compared = (complete - first_day).days + 1
    previous = (first_day - compared * _DAY, first_day - _DAY)
    if first is not None and previous[0] < to_date(first, "first"):
        return Comparison(None, None, f"no previous {_days(compared)} in the data (it starts "
                                      f"{to_date(first, 'first')}; the change needs {previous[0]} to {previous[1]})")
    return Comparison((first_day, complete), previous, "")
