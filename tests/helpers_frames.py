"""Small stats and links tables built by hand, with fetch_stats' / fetch_links' columns and dtypes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

COUNTERS = ["exposure_count", "click_count", "open_count", "install_count"]
STATS_COLUMNS = ["link_key", "platform", "date", *COUNTERS, "is_partial"]


def stats_frame(rows: Iterable[Sequence]) -> pd.DataFrame:
    """Rows of (link_key, platform, date, exposure, click, open, install[, is_partial]) -> a typed stats table."""
    records = [tuple(r) if len(r) == 8 else (*r, False) for r in rows]
    frame = pd.DataFrame.from_records(records, columns=STATS_COLUMNS)
    frame["link_key"] = frame["link_key"].astype("category")
    frame["platform"] = pd.Categorical(frame["platform"], categories=["all", "ios", "android"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    for column in COUNTERS:
        frame[column] = frame[column].astype(np.int64)
    frame["is_partial"] = frame["is_partial"].astype(bool)
    return frame.sort_values(["link_key", "platform", "date"], ignore_index=True)


def series_frame(values: dict[str, Sequence[int]], *, start: str = "2024-01-01", platform: str = "all",
                 ratios: tuple[float, float, float] = (0.1, 0.5, 0.3), partial_last: int = 0) -> pd.DataFrame:
    """One row per day per link: exposures from ``values`` and the other counters as fixed shares of them.

    ``partial_last`` marks that many last days partial.
    """
    rows = []
    for key, exposures in values.items():
        dates = pd.date_range(start, periods=len(exposures), freq="D")
        for i, (day, e) in enumerate(zip(dates, exposures, strict=True)):
            c = round(e * ratios[0])
            o = round(c * ratios[1])
            n = round(o * ratios[2])
            rows.append((key, platform, day, int(e), c, o, n, i >= len(exposures) - partial_last))
    return stats_frame(rows)


def links_frame(channels: dict[str, str | None], names: dict[str, str] | None = None) -> pd.DataFrame:
    """A links table with link_key, name and channel (the columns the analysis joins on)."""
    keys = list(channels)
    names = names or {}
    return pd.DataFrame({
        "id": np.arange(1, len(keys) + 1, dtype=np.int64),
        "link_key": pd.array(keys, dtype="string"),
        "name": pd.array([names.get(k) for k in keys], dtype="string"),
        "channel": pd.Categorical([channels[k] for k in keys]),
    })
