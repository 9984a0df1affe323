"""Pictures from DataFrames, seaborn-style: data first, keyword options, ``ax=None``, the Axes returned.

Chinese text (channel names such as 微信) is drawn with a CJK font found on the machine; a
:class:`CJKFontWarning` says once when there is none.
"""

from __future__ import annotations

from ._fonts import CJKFontWarning
from ._plots import plot_breakdown, plot_funnel, plot_heatmap, plot_platforms, plot_trend
from ._style import DAILY_UP_TO, period_word, resolve_freq  # the charts' period rule, for the dashboard

__all__ = ["DAILY_UP_TO", "CJKFontWarning", "period_word", "plot_breakdown", "plot_funnel", "plot_heatmap",
           "plot_platforms", "plot_trend", "resolve_freq"]
