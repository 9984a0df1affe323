"""Pictures from DataFrames, seaborn-style: data first, keyword options, ``ax=None``, the Axes returned.

Chinese text (channel names such as 微信) is drawn with a CJK font found on the machine; a
:class:`CJKFontWarning` says once when there is none.
"""

from __future__ import annotations

from ._fonts import CJKFontWarning
from ._plots import plot_breakdown, plot_funnel, plot_heatmap, plot_platforms, plot_trend

__all__ = ["CJKFontWarning", "plot_breakdown", "plot_funnel", "plot_heatmap", "plot_platforms", "plot_trend"]
