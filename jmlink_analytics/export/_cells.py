"""What a cell holds, decided once per distinct value: formula neutralization and text of dates.

Every file format of :mod:`.export` (CSV, the Excel workbook, JSON on the command line)
shows text through :func:`neutralize`, the one rule against formula injection. A report's
daily table has hundreds of thousands of rows but only a few thousand distinct link names,
channels and days, so columns are converted per distinct value (:func:`per_distinct`) and
the results spread back with one numpy ``take``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMULA_TRIGGERS", "date_texts", "neutralize", "per_distinct", "text_cell"]

#: A text cell starting with one of these is prefixed with ``'`` (OWASP "CSV injection").
#: The full-width forms of ``= + - @`` are included as a precaution: IMEs and Excel in CJK
#: locales may turn them into their ASCII forms.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralize(value: Any) -> Any:
    """``'`` + ``value`` when it is a string a spreadsheet would read as a formula; else ``value``."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def format_time(value: dt.datetime) -> str:
    """``yyyy-MM-dd``, or ``yyyy-MM-dd HH:MM:SS`` when ``value`` has a time of day."""
    if value.hour == value.minute == value.second == 0 and not value.microsecond:
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def text_cell(value: Any, sanitize: bool) -> Any:
    """One value of a text (object) column as written: dates as text, strings neutralized."""
    if isinstance(value, dt.datetime):  # pandas.Timestamp included; NaT is not a datetime instance here
        return None if value != value else format_time(value)
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    return neutralize(value) if sanitize else value


def per_distinct(column: pd.Series, convert: Callable[[Any], Any]) -> np.ndarray:
    """``convert`` applied to every value of ``column``, calling it once per distinct value.

    Parameters
    ----------
    column : pandas.Series
        Any column: categorical (the categories are converted), text, or objects.
    convert : callable
        Value -> cell. Missing values (None, NaN, NA, NaT) are not passed: they become ``None``.

    Returns
    -------
    numpy.ndarray
        An object array of ``len(column)``.

    Notes
    -----
    Object columns whose distinct values are not all strings (e.g. ``1`` and ``True``, which
    hash alike) are converted value by value, so no value is ever mistaken for another.
    """
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        uniques: Any = column.cat.categories
    else:
        try:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
        except TypeError:  # unhashable values (lists, dicts): one by one
            return np.array([None if _missing(v) else convert(v) for v in column.to_numpy(dtype=object)],
                            dtype=object)
        if uniques.dtype == object and not all(isinstance(v, str) for v in uniques):
            return np.array([None if _missing(v) else convert(v) for v in column.to_numpy(dtype=object)],
                            dtype=object)
    converted = np.empty(len(uniques) + 1, dtype=object)
    converted[:-1] = [convert(v) for v in uniques]
    converted[-1] = None
    return converted[np.where(codes < 0, len(uniques), codes)]


def _missing(value: Any) -> bool:
    import pandas as pd

    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are values, not missing
        return False


def date_texts(column: pd.Series) -> np.ndarray:
    """A datetime column as text: ``yyyy-MM-dd``, or ``yyyy-MM-dd HH:MM:SS`` when any value has a time.

    Each distinct value is formatted once; missing values become ``None``.
    """
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    uniques = pd.DatetimeIndex(uniques)
    has_time = bool(len(uniques)) and bool((uniques != uniques.normalize()).any())
    texts = np.empty(len(uniques) + 1, dtype=object)
    texts[:-1] = list(uniques.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d"))
    texts[-1] = None
    return texts[np.where(codes < 0, len(uniques), codes)]
