"""DataFrames in, DataFrames out: sums, rates, periods, funnels, anomalies.

The platform rule (:func:`count_once`) decides which rows of a stats table count, so that a
table holding ``all`` and per-platform rows never counts a click twice.
"""

from __future__ import annotations

from ._episodes import find_anomalies
from ._groups import count_once, freq_alias, group_labels, platform_mask  # the last three: for plotting, widgets
from ._ratio import ratio
from ._summaries import add_rates, compare_periods, funnel, join_links, summarize
from ._trend import trend_data
from ._windows import Comparison, comparison_windows

__all__ = [
    "Comparison",
    "add_rates",
    "compare_periods",
    "comparison_windows",
    "count_once",
    "find_anomalies",
    "freq_alias",
    "funnel",
    "group_labels",
    "join_links",
    "platform_mask",
    "ratio",
    "summarize",
    "trend_data",
]
