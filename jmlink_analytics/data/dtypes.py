"""The column dtypes of the links and stats tables, and those tables without rows: one home for each.

Every room that builds or reads these tables (the fetch, the store, the dataset reader) takes
its dtypes from here, so a table of one concatenates with a table of another.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from ..schema import LINK_COLUMNS, PLATFORMS, STATS_COLUMNS

__all__ = [
    "DATE_DTYPE", "LINK_CATEGORY_COLUMNS", "LINK_TIME_COLUMNS", "PLATFORM_DTYPE", "STRING_DTYPE", "TIME_DTYPE",
    "category_codes_dtype", "empty_links_frame", "empty_stats_frame",
]


def _string_dtype() -> pd.StringDtype:
    """pandas' default string dtype where it exists (``str``: pandas >= 2.3, missing = NaN).

    On pandas 2.2 ``str`` still means ``object``, so there the nullable ``"string"`` dtype
    (missing = ``pd.NA``) is used. Either way ``.isna()`` finds JSON nulls and ``""`` stays ``""``.
    """
    try:
        return pd.StringDtype(na_value=np.nan)
    except TypeError:  # pandas 2.2: no na_value argument
        return pd.StringDtype()


#: The dtype of every text column (``link_key``'s categories included).
STRING_DTYPE = _string_dtype()
#: ``create_time`` / ``update_time`` of the links table (China local time, naive).
TIME_DTYPE: Final = "datetime64[ns]"
#: ``date`` of the stats table.
DATE_DTYPE: Final = "datetime64[ns]"
#: ``platform``: always all three categories, whatever was requested, so tables of several fetches concatenate.
PLATFORM_DTYPE = pd.CategoricalDtype(pd.Index(list(PLATFORMS), dtype=STRING_DTYPE))
#: The links table's categorical columns, and its time columns.
LINK_CATEGORY_COLUMNS = frozenset({"channel", "app_domain", "jump_link_type"})
LINK_TIME_COLUMNS = frozenset({"create_time", "update_time"})


def category_codes_dtype(n_categories: int) -> type[np.signedinteger[Any]]:
    """The smallest signed integer dtype that holds the codes of ``n_categories`` categories.

    Parameters
    ----------
    n_categories : int
        How many categories.

    Returns
    -------
    numpy dtype class
        ``np.int8``, ``np.int16``, ``np.int32`` or ``np.int64`` (what pandas itself picks).
    """
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return dtype
    return np.int64


def empty_links_frame() -> pd.DataFrame:
    """The links table with no rows: the columns and dtypes of ``fetch_links``.

    Returns
    -------
    pandas.DataFrame
    """
    columns: dict[str, Any] = {}
    for name in LINK_COLUMNS:
        if name == "id":
            columns[name] = np.array([], dtype=np.int64)
        elif name in LINK_TIME_COLUMNS:
            columns[name] = np.array([], dtype=TIME_DTYPE)
        elif name in LINK_CATEGORY_COLUMNS:
            columns[name] = pd.Categorical([], categories=pd.Index([], dtype=STRING_DTYPE))
        else:
            columns[name] = pd.array([], dtype=STRING_DTYPE)
    return pd.DataFrame(columns, columns=list(LINK_COLUMNS))


def empty_stats_frame() -> pd.DataFrame:
    """The stats table with no rows: the columns and dtypes of ``fetch_stats`` (``attrs["failed"] = {}``).

    Returns
    -------
    pandas.DataFrame
    """
    columns: dict[str, Any] = {
        "link_key": pd.Categorical([], dtype=pd.CategoricalDtype(pd.Index([], dtype=STRING_DTYPE))),
        "platform": pd.Categorical([], dtype=PLATFORM_DTYPE),
        "date": np.array([], dtype=DATE_DTYPE),
    }
    for name in STATS_COLUMNS:
        if name not in columns:
            columns[name] = np.array([], dtype=bool if name == "is_partial" else np.int64)
    frame = pd.DataFrame(columns, columns=list(STATS_COLUMNS))
    frame.attrs["failed"] = {}
    return frame


