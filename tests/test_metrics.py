"""metrics: rates, summaries, period comparison, the funnel and unusual days, on small hand-made tables."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from jmlink_analytics import add_rates, compare_periods, find_anomalies, funnel, summarize
from jmlink_analytics.metrics import trend_data

from .helpers_frames import COUNTERS, links_frame, series_frame, stats_frame

RATE_COLUMNS = ["ctr", "open_rate", "install_rate"]
SUMMARY_TAIL = [*COUNTERS, *RATE_COLUMNS]


@pytest.fixture
def two_links():
    """Link A: two days; link B: two days, one without exposures; link C: nothing at all."""
    return stats_frame([
        ("A", "all", "2024-05-01", 100, 10, 5, 2),
        ("A", "all", "2024-05-02", 300, 90, 45, 9),
        ("B", "all", "2024-05-01", 0, 0, 0, 0),
        ("B", "all", "2024-05-02", 50, 5, 0, 0),
        ("C", "all", "2024-05-01", 0, 0, 0, 0),
        ("C", "all", "2024-05-02", 0, 0, 0, 0),
    ])


# ------------------------------------------------------------------------------------ add_rates
def test_add_rates_divides_per_row_and_gives_nan_never_inf_on_zero(two_links):
    out = add_rates(two_links)
    assert list(out.columns) == [*two_links.columns, *RATE_COLUMNS]
    a1 = out.iloc[0]
    assert (a1["ctr"], a1["open_rate"], a1["install_rate"]) == (0.1, 0.5, 0.2)
    b2 = out[(out["link_key"] == "B") & (out["date"] == "2024-05-02")].iloc[0]
    assert b2["ctr"] == 0.1 and b2["open_rate"] == 0.0 and b2["install_rate"] == 0.0
    zero = out[(out["link_key"] == "C")]
    assert zero[RATE_COLUMNS].isna().all().all()
    assert not np.isinf(out[RATE_COLUMNS].to_numpy()).any()
    assert (out[RATE_COLUMNS].dtypes == np.float64).all()
    assert "ctr" not in two_links.columns  # a copy: the input is untouched


def test_add_rates_refuses_what_is_not_a_stats_table():
    with pytest.raises(TypeError, match="DataFrame"):
        add_rates([1, 2, 3])
    with pytest.raises(ValueError, match="click_count"):
        add_rates(pd.DataFrame({"exposure_count": [1]}))


# ------------------------------------------------------------------------------------ summarize
def test_summarize_sums_first_and_takes_rates_from_the_sums(two_links):
    out = summarize(two_links)
    assert list(out.columns) == ["link_key", *SUMMARY_TAIL]
    assert isinstance(out.index, pd.RangeIndex)
    assert out["link_key"].astype(str).tolist() == ["A", "B", "C"]  # most clicks first
    a = out.iloc[0]
    assert a[COUNTERS].tolist() == [400, 100, 50, 11]
    assert a["ctr"] == 100 / 400  # 0.25, not the mean of the daily 0.1 and 0.3
    assert a["open_rate"] == 0.5 and a["install_rate"] == 11 / 100
    c = out.iloc[2]
    assert c[COUNTERS].tolist() == [0, 0, 0, 0] and c[RATE_COLUMNS].isna().all()
    assert (out[COUNTERS].dtypes == np.int64).all()
    assert out[COUNTERS].sum().tolist() == two_links[COUNTERS].sum().tolist()


def test_summarize_ties_in_clicks_are_ordered_by_key():
    stats = stats_frame([("Z", "all", "2024-05-01", 10, 5, 1, 0), ("M", "all", "2024-05-01", 10, 5, 1, 0),
                         ("Q", "all", "2024-05-01", 10, 9, 1, 0)])
    assert summarize(stats)["link_key"].astype(str).tolist() == ["Q", "M", "Z"]


def test_summarize_by_a_links_column_keeps_links_without_a_value_and_adds_up(two_links):
    links = links_frame({"A": "微信", "B": None, "X": "QQ"})  # C is not in links at all
    out = summarize(two_links, by="channel", links=links)
    assert list(out.columns) == ["channel", *SUMMARY_TAIL]
    wechat = out[out["channel"] == "微信"].iloc[0]
    assert wechat["click_count"] == 100
    missing = out[out["channel"].isna()]
    assert len(missing) == 1 and missing.iloc[0]["click_count"] == 5  # B (no channel) and C (unknown) together
    assert "QQ" not in out["channel"].astype(str).tolist()  # X has no stats
    assert out[COUNTERS].sum().tolist() == two_links[COUNTERS].sum().tolist()


def test_summarize_mixes_stats_and_links_columns():
    stats = stats_frame([("A", "ios", "2024-05-01", 10, 4, 2, 1), ("A", "android", "2024-05-01", 20, 6, 3, 1),
                         ("B", "ios", "2024-05-01", 30, 3, 1, 0)])
    links = links_frame({"A": "微信", "B": "微信"}, names={"A": "春节红包", "B": "周年庆"})
    out = summarize(stats, by=["channel", "platform"], links=links)
    assert list(out.columns) == ["channel", "platform", *SUMMARY_TAIL]
    got = {(r.channel, r.platform): r.click_count for r in out.itertuples()}
    assert got == {("微信", "ios"): 7, ("微信", "android"): 6}
    named = summarize(stats, by=["link_key", "name"], links=links)
    assert named[["link_key", "name"]].astype(str).values.tolist() == [["A", "春节红包"], ["B", "周年庆"]]


def test_summarize_by_week_and_by_month_labels_periods_by_their_first_day_and_adds_up():
    stats = series_frame({"A": [10] * 40, "B": [20] * 40}, start="2024-01-03")  # Wed 3 Jan .. Sun 11 Feb
    weekly = summarize(stats, by="link_key", freq="W")
    assert list(weekly.columns) == ["link_key", "period", *SUMMARY_TAIL]
    a = weekly[weekly["link_key"] == "A"].sort_values("period")
    assert a["period"].dt.day_name().unique().tolist() == ["Monday"]
    assert a["period"].iloc[0] == pd.Timestamp("2024-01-01")  # the week the data start in
    assert a["exposure_count"].tolist() == [50, 70, 70, 70, 70, 70]  # 5 days (Wed..Sun), then full weeks
    assert weekly[COUNTERS].sum().tolist() == stats[COUNTERS].sum().tolist()
    monthly = summarize(stats, by=None, freq="MS").sort_values("period")
    assert monthly["period"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    assert monthly["exposure_count"].tolist() == [29 * 30, 11 * 30]
    assert summarize(stats, freq="D")["period"].nunique() == 40


@pytest.mark.parametrize(("alias", "same_as"), [("W-SUN", "W"), ("ME", "MS"), ("M", "MS"), ("QS", "QE"), ("1D", "D")])
def test_summarize_accepts_pandas_aliases(alias, same_as):
    stats = series_frame({"A": list(range(1, 100))}, start="2024-01-03")
    pd.testing.assert_frame_equal(summarize(stats, freq=alias), summarize(stats, freq=same_as))


def test_summarize_by_nothing_is_one_row_of_totals(two_links):
    out = summarize(two_links, by=None)
    assert list(out.columns) == SUMMARY_TAIL and len(out) == 1
    assert out.iloc[0][COUNTERS].tolist() == [450, 105, 50, 11]


def test_summarize_counts_the_all_rows_once_when_platforms_are_split_too():
    rows = [("A", "ios", "2024-05-01", 10, 3, 2, 1), ("A", "android", "2024-05-01", 30, 7, 4, 1),
            ("A", "all", "2024-05-01", 40, 10, 6, 2),
            ("B", "ios", "2024-05-01", 5, 1, 1, 0), ("B", "android", "2024-05-01", 5, 2, 1, 1)]  # B: no "all" rows
    stats = stats_frame(rows)
    by_link = summarize(stats)
    assert dict(zip(by_link["link_key"].astype(str), by_link["click_count"], strict=True)) == {"A": 10, "B": 3}
    assert summarize(stats, by=None)["click_count"].iloc[0] == 13  # not 23
    by_platform = summarize(stats, by="platform")  # every row, each platform its own group
    assert dict(zip(by_platform["platform"].astype(str), by_platform["click_count"], strict=True)) == {
        "all": 10, "android": 9, "ios": 4}
    split_only = stats[stats["platform"] != "all"]
    assert summarize(split_only, by=None)["click_count"].iloc[0] == 13  # ios + android


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"by": "nope"}, ValueError, ["by='nope'", "link_key", "platform", "date", "links="]),
    ({"by": "channel"}, ValueError, ["by='channel'", "links="]),
    ({"by": ["link_key", "link_key"]}, ValueError, ["more than once"]),
    ({"by": 3}, TypeError, ["by"]),
    ({"freq": "2W"}, ValueError, ["freq", "'D'", "'W'", "'MS'"]),
    ({"freq": "h"}, ValueError, ["freq"]),
    ({"freq": "fortnight"}, ValueError, ["freq"]),
    ({"freq": 7}, TypeError, ["freq"]),
    ({"links": "links"}, TypeError, ["links"]),
])
def test_summarize_rejects_bad_arguments_with_a_message_naming_them(two_links, kwargs, error, words):
    with pytest.raises(error) as info:
        summarize(two_links, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_summarize_rejects_what_is_not_a_stats_table(two_links):
    with pytest.raises(TypeError, match="stats must be a pandas DataFrame"):
        summarize(two_links.to_dict())
    with pytest.raises(ValueError, match="install_count"):
        summarize(two_links.drop(columns="install_count"))
    with pytest.raises(ValueError, match="links lacks the column 'link_key'"):
        summarize(two_links, by="channel", links=pd.DataFrame({"channel": ["QQ"]}))


def test_summarize_of_an_empty_table_has_the_columns_and_no_rows(two_links):
    out = summarize(two_links.iloc[:0], freq="W")
    assert list(out.columns) == ["link_key", "period", *SUMMARY_TAIL] and out.empty


# ------------------------------------------------------------------------------ compare_periods
@pytest.fixture
def fortnight():
    """A: 10 exposures a day for 14 days, then 20; B only in the first week; N only in the last."""
    a = [10] * 7 + [20] * 7
    return stats_frame(
        [("A", "all", d, e, e // 2, e // 4, 1) for d, e in zip(pd.date_range("2024-05-01", periods=14), a, strict=True)]
        + [("B", "all", d, 8, 4, 0, 0) for d in pd.date_range("2024-05-01", periods=7)]
        + [("N", "all", d, 6, 3, 3, 3) for d in pd.date_range("2024-05-08", periods=7)]
    )


def test_compare_periods_by_days_compares_the_last_days_with_as_many_before(fortnight):
    out = compare_periods(fortnight, 7)
    assert out.attrs["current"] == (pd.Timestamp("2024-05-08"), pd.Timestamp("2024-05-14"))
    assert out.attrs["previous"] == (pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-07"))
    expected_columns = ["link_key"] + [f"{m}_{part}" for m in [*COUNTERS, *RATE_COLUMNS]
                                       for part in ("current", "previous", "change")]
    # then the vocabulary of changes (issue 14); the identical *_pct_change columns are gone (issue 17)
    expected_columns += [f"{m}_rel_change" for m in COUNTERS] + [f"{m}_change_pp" for m in RATE_COLUMNS]
    assert list(out.columns) == expected_columns
    rows = {str(r["link_key"]): r for _, r in out.iterrows()}
    a = rows["A"]
    assert (a["click_count_current"], a["click_count_previous"]) == (70, 35)
    assert a["click_count_change"] == 35 and a["click_count_rel_change"] == 1.0
    assert a["ctr_current"] == 0.5 and a["ctr_change"] == 0.0 and a["ctr_change_pp"] == 0.0
    b = rows["B"]  # previous window only
    assert (b["click_count_current"], b["click_count_previous"], b["click_count_rel_change"]) == (0, 28, -1.0)
    assert math.isnan(b["ctr_current"]) and b["ctr_previous"] == 0.5
    n = rows["N"]  # current window only: previous 0, so no relative change
    assert (n["click_count_current"], n["click_count_previous"], n["click_count_change"]) == (21, 0, 21)
    assert math.isnan(n["click_count_rel_change"]) and math.isnan(n["install_rate_previous"])
    assert out["link_key"].astype(str).tolist() == ["A", "N", "B"]
    assert out["click_count_current"].dtype == np.int64
    assert not np.isinf(out.select_dtypes("number").to_numpy()).any()


def test_compare_periods_with_explicit_windows_and_groups(fortnight):
    links = links_frame({"A": "微信", "B": "微信", "N": "QQ"})
    out = compare_periods(fortnight, ("2024-05-10", "2024-05-11"), previous=("2024-05-01", "2024-05-03"),
                          by="channel", links=links)
    assert out.attrs["previous"] == (pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-03"))
    rows = {r["channel"]: r for _, r in out.iterrows()}
    assert rows["微信"]["exposure_count_current"] == 2 * 20
    assert rows["微信"]["exposure_count_previous"] == 3 * 10 + 3 * 8
    assert rows["QQ"]["exposure_count_current"] == 12 and rows["QQ"]["exposure_count_previous"] == 0
    total = compare_periods(fortnight, ("2024-05-08", "2024-05-14"), by=None)
    assert list(total.columns)[:2] == ["exposure_count_current", "exposure_count_previous"] and len(total) == 1
    assert total["exposure_count_current"].iloc[0] == 7 * 20 + 7 * 6


def test_compare_periods_warns_about_a_window_outside_the_data(fortnight):
    with pytest.warns(UserWarning, match="previous window 2024-04-17 to 2024-04-30 is not at all covered"):
        out = compare_periods(fortnight, 14)
    assert out["click_count_previous"].isna().all() and out["click_count_change"].isna().all()
    assert out["click_count_current"].notna().all()


@pytest.mark.parametrize(("current", "previous", "error", "words"), [
    (0, None, ValueError, "current as a number of days must be >= 1"),
    ("7", None, TypeError, "current must be a (start, end) pair"),
    (("2024-05-09", "2024-05-08"), None, ValueError, "current starts after it ends"),
    (("2024-05-09", "May 10"), None, ValueError, "current[1]"),
    (7, 7, TypeError, "previous must be a (start, end) pair of dates; got 7"),
])
def test_compare_periods_rejects_bad_windows(fortnight, current, previous, error, words):
    with pytest.raises(error) as info:
        compare_periods(fortnight, current, previous)
    assert words in str(info.value)


def test_compare_periods_rejects_grouping_by_date(fortnight):
    with pytest.raises(ValueError, match="by must not include 'date'"):
        compare_periods(fortnight, 7, by="date")


# -------------------------------------------------------------------------------------- funnel
def test_funnel_overall_counts_conversion_and_overall(two_links):
    out = funnel(two_links)
    assert list(out.columns) == ["stage", "count", "conversion", "overall"]
    assert out["stage"].tolist() == ["exposure", "click", "open", "install"]
    assert out["stage"].cat.ordered and out["stage"].cat.categories.tolist() == ["exposure", "click", "open", "install"]
    assert out["count"].tolist() == [450, 105, 50, 11] and out["count"].dtype == np.int64
    assert math.isnan(out["conversion"].iloc[0])
    # each stage's rate as the schema defines it (issue 20): installs / clicks, as the install-rate card says
    assert out["conversion"].iloc[1:].tolist() == [105 / 450, 50 / 105, 11 / 105]
    assert out["conversion"].iloc[3] == summarize(two_links, by=None)["install_rate"].iloc[0]
    assert out["overall"].tolist() == [1.0, 105 / 450, 50 / 450, 11 / 450]


def test_funnel_by_group_has_four_rows_per_group_and_nan_on_zero(two_links):
    out = funnel(two_links, by="link_key")
    assert list(out.columns) == ["link_key", "stage", "count", "conversion", "overall"]
    assert out["link_key"].astype(str).tolist() == ["A"] * 4 + ["B"] * 4 + ["C"] * 4
    b = out[out["link_key"] == "B"]
    assert b["count"].tolist() == [50, 5, 0, 0]
    assert b["conversion"].iloc[2] == 0.0 and b["conversion"].iloc[3] == 0.0  # 0 installs of 5 clicks
    c = out[out["link_key"] == "C"]
    assert c[["conversion", "overall"]].isna().all().all()
    links = links_frame({"A": "抖音", "B": "抖音", "C": "QQ"})
    by_channel = funnel(two_links, by="channel", links=links)
    assert by_channel[by_channel["channel"] == "抖音"]["count"].tolist() == [450, 105, 50, 11]


# ------------------------------------------------------------------------------- find_anomalies
EPISODE_COLUMNS = ["link_key", "start", "end", "days", "direction", "expected", "actual", "change", "impact", "score"]


def _seasonal_noisy(days: int, seed: int, level: float = 2000.0) -> np.ndarray:
    """Exposures with a weekly pattern, a slow trend and about 20 % day-to-day noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekly = np.array([0.9, 0.88, 0.93, 0.98, 1.08, 1.3, 1.22])[t % 7]
    mean = level * weekly * np.exp(0.4 * t / 365) * rng.gamma(25.0, 1 / 25.0, days)
    return rng.poisson(mean)


def test_find_anomalies_finds_a_planted_spike_with_its_expected_level():
    values = [1000 + (37 * i) % 100 for i in range(60)]  # 1000..1099, never the same day to day
    values[40] = 8000
    stats = series_frame({"A": values, "B": [500] * 60})
    out = find_anomalies(stats)
    assert list(out.columns) == EPISODE_COLUMNS
    assert len(out) == 1
    hit = out.iloc[0]
    assert (str(hit["link_key"]), hit["start"]) == ("A", pd.Timestamp("2024-01-01") + pd.Timedelta(days=40))
    assert hit["start"] == hit["end"] and hit["days"] == 1 and hit["direction"] == "surge"
    assert hit["actual"] == 800 and hit["score"] > 10  # clicks: 10 % of exposures
    assert hit["impact"] == hit["actual"] - hit["expected"]
    window = np.round(np.array(values[26:40]) * 0.1)
    # the 14 days before (the day itself excluded), adjusted for the weekday: this series has no weekly
    # pattern, so the weekday factors are within a few percent of 1
    assert hit["expected"] == pytest.approx(np.median(window), rel=0.05)


def test_find_anomalies_flags_nothing_on_a_flat_series_and_never_divides_by_zero():
    stats = series_frame({"flat": [700] * 90, "idle": [0] * 90})
    out = find_anomalies(stats)
    assert out.empty and list(out.columns) == EPISODE_COLUMNS
    small = series_frame({"flat": [700] * 30 + [720] + [700] * 10})  # MAD 0: a 3 % wobble is not unusual
    assert find_anomalies(small).empty
    jump = find_anomalies(series_frame({"flat": [700] * 30 + [2100] + [700] * 10}))
    assert len(jump) == 1 and np.isfinite(jump["score"]).all() and jump["score"].iloc[0] > 3.5


def test_find_anomalies_flags_few_ordinary_days_of_a_noisy_seasonal_series_and_finds_the_spikes():
    days = 365
    values = {f"L{i}": _seasonal_noisy(days, seed=i) for i in range(6)}
    spikes = {("L1", 100), ("L3", 200), ("L5", 300)}
    for key, day in spikes:
        values[key][day] *= 5
    out = find_anomalies(series_frame(values))
    found = {(str(r.link_key), (r.start - pd.Timestamp("2024-01-01")).days) for r in out.itertuples()}
    assert spikes <= found
    ordinary = found - spikes
    assert len(ordinary) <= 0.005 * 6 * days  # at most 1 in 200 ordinary days
    assert {(str(r.link_key), (r.start - pd.Timestamp("2024-01-01")).days) for r in out.head(3).itertuples()} == spikes


def test_find_anomalies_ignores_partial_days_and_the_days_before_a_link_exists():
    values = [0] * 20 + [1000 + (37 * i) % 100 for i in range(40)]  # created on day 20
    values[-1] = 9000  # today: partial
    stats = series_frame({"A": values}, partial_last=2)
    assert find_anomalies(stats).empty
    stats.loc[stats.index[-1], "is_partial"] = False
    out = find_anomalies(stats)
    assert len(out) == 1 and out["start"].iloc[0] == stats["date"].iloc[-1]


def test_find_anomalies_finds_a_drop_with_a_negative_score_and_sorts_by_impact():
    values = [1000 + (37 * i) % 100 for i in range(60)]
    values[30] = 0  # the link was broken for a day: about 1,050 exposures lost, the score at its floor
    values[45] = 3000  # about 1,950 gained: a smaller score, a larger impact
    out = find_anomalies(series_frame({"A": values}), "exposure_count")
    assert len(out) == 2
    assert (out["score"] < 0).sum() == 1 and out[out["score"] < 0]["actual"].iloc[0] == 0
    assert out["impact"].abs().is_monotonic_decreasing and list(out["direction"]) == ["surge", "drop"]
    assert out["impact"].tolist() == (out["actual"] - out["expected"]).tolist()
    assert out["expected"].dtype == np.int64 and out["actual"].dtype == np.int64 and out["impact"].dtype == np.int64


def test_find_anomalies_of_a_rate_and_of_the_total():
    e = [1000] * 40
    stats = series_frame({"A": e, "B": e})
    stats.loc[(stats["link_key"] == "A") & (stats["date"] == "2024-01-31"), "click_count"] = 400  # ctr 0.4, not 0.1
    by_link = find_anomalies(stats, "ctr")
    assert len(by_link) == 1 and str(by_link["link_key"].iloc[0]) == "A" and by_link["actual"].iloc[0] == 0.4
    assert by_link["expected"].iloc[0] == 0.1
    assert by_link["impact"].iloc[0] == 300  # (0.4 - 0.1) x 1,000 exposures: 300 clicks more than expected
    total = find_anomalies(stats, "click_count", by=None)
    assert list(total.columns) == EPISODE_COLUMNS[1:]
    assert total["start"].tolist() == [pd.Timestamp("2024-01-31")] and total["actual"].iloc[0] == 500


def test_find_anomalies_needs_min_periods_of_history():
    values = [100, 101, 99, 100, 900] + [100] * 10
    stats = series_frame({"A": values}, ratios=(1.0, 1.0, 1.0))
    assert find_anomalies(stats, min_periods=5).empty  # day 4 has 4 days of history
    assert len(find_anomalies(stats, min_periods=4)) == 1


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"metric": "clicks"}, ValueError, "metric must be one of exposure_count, click_count"),
    ({"window": 2}, ValueError, "window must be >= 3"),
    ({"window": 7.5}, TypeError, "window must be an int"),
    ({"threshold": 0}, ValueError, "threshold must be a finite number > 0"),
    ({"threshold": "3"}, TypeError, "threshold must be a number"),
    ({"min_periods": 20}, ValueError, "min_periods must be between 1 and window (14)"),
    ({"by": "date"}, ValueError, "by must not include 'date'"),
])
def test_find_anomalies_rejects_bad_arguments(two_links, kwargs, error, words):
    with pytest.raises(error) as info:
        find_anomalies(two_links, **kwargs)
    assert words in str(info.value)


def test_find_anomalies_on_the_sandbox_finds_the_planted_spikes_and_few_other_days(make_sandbox):
    from jmlink_analytics import fetch_stats

    sandbox = make_sandbox(links=60, days=120, seed=3)
    today = sandbox.app.today
    with sandbox.client() as client:
        stats = fetch_stats(client, start=today - pd.Timedelta(days=119), end=today, platform="all", progress=False)
    stats["is_partial"] = stats["date"] >= pd.Timestamp(today) - pd.Timedelta(days=1)
    planted = {(key, pd.Timestamp(day)) for key, day in sandbox.app.spikes}
    assert len(planted) >= 2
    out = find_anomalies(stats)
    def hits(frame):  # (link, day) of every day inside an episode
        return {(str(r.link_key), r.start + pd.Timedelta(days=i)) for r in frame.itertuples() for i in range(r.days)}

    found = hits(out)
    assert len(planted & found) >= 0.75 * len(planted)
    surges = out[out["score"] > 0].reset_index(drop=True)
    strongest = surges.sort_values("score", ascending=False, kind="stable")  # rows rank by impact; here by score
    top = hits(strongest.head(2 * len(planted)))
    assert len(planted & top) >= 0.75 * len(planted)  # the planted spikes are among the most unusual surges
    active_days = int((stats["click_count"] > 0).sum())
    planted_episodes = [bool(hits(surges.iloc[[i]]) & planted) for i in range(len(surges))]
    assert len(surges) - sum(planted_episodes) <= 0.01 * active_days  # campaign bursts, mostly
    others = out[[not (hits(out.iloc[[i]]) & planted) for i in range(len(out))]]
    busy_days = others[others["actual"] > 0]
    assert len(busy_days) <= 0.02 * active_days
    idle = others[others["actual"] == 0]  # idle days of busy links: reported as drops
    assert (idle["score"] < 0).all() and (idle["expected"] >= 5 * idle["days"]).all()


# ---------------------------------------------------------------------------------- trend_data
def test_trend_data_keeps_the_top_groups_and_adds_up_the_rest():
    stats = series_frame({"A": [30] * 10, "B": [20] * 10, "C": [10] * 10, "D": [5] * 10}, start="2024-03-01")
    wide = trend_data(stats, "exposure_count", by="link_key", top=2)
    assert wide.columns.tolist() == ["A", "B", "other"]
    assert wide.index.name == "period" and len(wide) == 10
    assert wide["other"].tolist() == [15] * 10
    assert int(wide.to_numpy().sum()) == int(stats["exposure_count"].sum())
    weekly = trend_data(stats, "ctr", freq="W")
    assert weekly.columns.tolist() == ["total"]
    assert weekly.index.tolist() == [pd.Timestamp("2024-02-26"), pd.Timestamp("2024-03-04")]
    assert np.allclose(weekly["total"], 0.1, atol=0.02)


def test_nothing_here_warns_on_ordinary_input(two_links, fortnight):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summarize(two_links, freq="W")
        compare_periods(fortnight, 7)
        find_anomalies(fortnight)
        funnel(two_links, by="link_key")


# ------------------------------------------------------------------ find_anomalies: episodes (issue 14)
def _weekly(days: int, weekday: float = 1000.0, weekend: float = 1800.0, start: str = "2024-01-01") -> list[int]:
    """A link twice as busy at the weekend, with a small deterministic wobble (2024-01-01 is a Monday)."""
    dates = pd.date_range(start, periods=days, freq="D")
    return [round((weekend if d.weekday() >= 5 else weekday) * (1 + 0.03 * ((7 * i) % 5 - 2) / 2))
            for i, d in enumerate(dates)]


def test_find_anomalies_does_not_flag_ordinary_weekends_and_still_finds_a_weekday_surge():
    values = _weekly(70)
    assert find_anomalies(series_frame({"A": values}), "exposure_count").empty  # a busy weekend is expected
    values[37] *= 4  # a Thursday
    out = find_anomalies(series_frame({"A": values}), "exposure_count")
    assert len(out) == 1 and out["start"].iloc[0] == pd.Timestamp("2024-02-07")
    assert out["direction"].iloc[0] == "surge"
    assert out["expected"].iloc[0] == pytest.approx(values[36], rel=0.05)  # a weekday's level, not the weekend's


def test_a_five_day_outage_is_one_episode_with_its_expected_and_actual_sums():
    values = _weekly(60)
    values[40:45] = [0] * 5
    out = find_anomalies(series_frame({"A": values}), "exposure_count")
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["start"], row["end"], row["days"]) == (pd.Timestamp("2024-02-10"), pd.Timestamp("2024-02-14"), 5)
    assert row["direction"] == "drop" and row["actual"] == 0 and row["change"] == -1.0
    ordinary = sum(_weekly(60)[40:45])  # what those five days would have been
    assert row["expected"] == pytest.approx(ordinary, rel=0.05)
    assert row["score"] < -3.5


def test_surges_and_drops_are_ranked_by_their_impact():
    # issue 20: the per-day score saturates (a day at zero scores about -6.7 whatever the level), so episodes
    # rank by the volume they gained or lost: an 8x day, then a 2.4x day, then a quiet day
    base = [1000 + (37 * i) % 100 for i in range(60)]
    spike, outage, small = list(base), list(base), list(base)
    spike[40] = 8000  # 8x on one day: about +6,950
    outage[42] = 0  # the link quiet for a day: about -1,050
    small[44] = 2500  # 2.4x: about +1,450
    out = find_anomalies(series_frame({"S": spike, "O": outage, "M": small}), "exposure_count")
    assert [str(k) for k in out["link_key"]] == ["S", "M", "O"]
    assert list(out["direction"]) == ["surge", "surge", "drop"]
    assert out["impact"].abs().is_monotonic_decreasing


def test_a_long_outage_outranks_one_day_blips_that_score_the_same():
    # issue 20: a planted 60-day outage of a 150-a-day link against one-day 33 -> 0 blips of other links;
    # every day at zero scores at the floor, yet the outage lost 9,000 clicks and each blip 33
    days = 200
    rng = np.random.default_rng(7)
    values = {f"B{i}": [int(v) for v in rng.poisson(33, days)] for i in range(12)}
    for i in range(12):
        values[f"B{i}"][100 + 5 * i] = 0
    outage = [int(v) for v in rng.poisson(150, days)]
    outage[60:120] = [0] * 60
    values["OUT"] = outage
    out = find_anomalies(series_frame(values, ratios=(1.0, 1.0, 1.0)), "exposure_count")
    drops = out[out["direction"] == "drop"].reset_index(drop=True)
    assert str(drops["link_key"].iloc[0]) == "OUT" and drops["days"].iloc[0] == 60
    assert drops["impact"].iloc[0] == pytest.approx(-9000, rel=0.05)
    assert drops["score"].iloc[0] == pytest.approx(drops["score"].iloc[1:].min(), abs=1.5)  # the same floor
    assert (drops["impact"].iloc[1:] > -60).all() and len(drops) >= 12


def test_find_anomalies_score_is_pinned_to_its_documented_formula():
    # flat history: MAD 0, so the scale is its floor max(0.75, 0.15 * sqrt(expected)) = 0.15 * sqrt(400) = 3;
    # score = (sqrt(actual) - sqrt(expected)) / scale = (sqrt(1000) - sqrt(400)) / 3
    values = [400] * 30 + [1000] + [400] * 5
    out = find_anomalies(series_frame({"A": values}), "exposure_count")
    assert len(out) == 1
    assert out["expected"].iloc[0] == 400.0
    assert out["score"].iloc[0] == pytest.approx((math.sqrt(1000) - 20.0) / 3.0, abs=1e-9)  # 3.8742...
    assert out["score"].iloc[0] == pytest.approx(3.874258867, abs=1e-8)


def test_the_return_from_a_long_pause_is_not_a_surge():
    values = _weekly(80)
    values[30:42] = [0] * 12  # twelve idle days: longer than half the window
    out = find_anomalies(series_frame({"A": values}), "exposure_count")
    assert list(out["direction"]) == ["drop"]
    assert (out["start"].iloc[0], out["days"].iloc[0]) == (pd.Timestamp("2024-01-31"), 12)


def test_compare_periods_speaks_the_vocabulary_of_changes_and_can_leave_partial_days_out(fortnight):
    out = compare_periods(fortnight, 7).set_index("link_key")
    assert out.loc["A", "click_count_rel_change"] == 1.0  # +100 %, a fraction
    assert out.loc["A", "ctr_change_pp"] == pytest.approx(0.0)
    assert "ctr_rel_change" not in out.columns and "click_count_change_pp" not in out.columns
    partial = fortnight.copy()
    partial["is_partial"] = partial["date"] >= pd.Timestamp("2024-05-14")  # the last day still growing
    kept = compare_periods(partial, 6, include_partial=False)
    assert kept.attrs["current"] == (pd.Timestamp("2024-05-08"), pd.Timestamp("2024-05-13"))  # the last full day
    assert kept.attrs["previous"] == (pd.Timestamp("2024-05-02"), pd.Timestamp("2024-05-07"))
    both = compare_periods(partial, 6)
    assert both.attrs["current"] == (pd.Timestamp("2024-05-09"), pd.Timestamp("2024-05-14"))
    one_day = partial[partial["date"] == pd.Timestamp("2024-05-08")]["click_count"].sum()
    last_day = partial[partial["date"] == pd.Timestamp("2024-05-14")]["click_count"].sum()
    assert kept["click_count_current"].sum() - both["click_count_current"].sum() == one_day - last_day
    with pytest.raises(TypeError, match="include_partial must be True or False"):
        compare_periods(fortnight, 7, include_partial="no")


# ------------------------------------------------------------------ issue 20: periods in order, one window, one ratio
def test_summarize_with_freq_sorts_by_period_then_by_clicks():
    # the busier platform swaps half-way: sorted by clicks alone, the weeks came out of order
    rows = []
    for i, day in enumerate(pd.date_range("2024-03-04", periods=28, freq="D")):
        busy, quiet = (100, 10) if i < 14 else (10, 100)
        rows += [("A", "ios", day, busy * 10, busy, 0, 0), ("A", "android", day, quiet * 10, quiet, 0, 0)]
    weekly = summarize(stats_frame(rows), by="platform", freq="W")
    assert weekly["period"].is_monotonic_increasing
    assert weekly["period"].tolist() == sorted(pd.date_range("2024-03-04", periods=4, freq="7D").tolist() * 2)
    first = weekly[weekly["period"] == pd.Timestamp("2024-03-04")]
    last = weekly[weekly["period"] == pd.Timestamp("2024-03-25")]
    assert first["platform"].astype(str).tolist() == ["ios", "android"]  # most clicks first within the week
    assert last["platform"].astype(str).tolist() == ["android", "ios"]


def test_comparison_windows_compares_the_complete_days_with_as_many_days_before():
    import datetime as dt

    from jmlink_analytics.metrics import comparison_windows

    d = dt.date
    week = comparison_windows("2024-06-24", "2024-06-30", partial_days=[d(2024, 6, 29), d(2024, 6, 30)])
    assert week.current == (d(2024, 6, 24), d(2024, 6, 28)) and week.previous == (d(2024, 6, 19), d(2024, 6, 23))
    assert week.note == ""
    full = comparison_windows(d(2024, 6, 1), d(2024, 6, 30))
    assert full.current == (d(2024, 6, 1), d(2024, 6, 30))
    assert full.previous == (d(2024, 5, 2), d(2024, 5, 31))  # 30 days against the 30 before
    for start, end in (("2024-06-30", "2024-06-30"), ("2024-06-29", "2024-06-30")):
        none = comparison_windows(start, end, partial_days=pd.to_datetime(["2024-06-29", "2024-06-30"]))
        assert none.current is None and none.previous is None and none.note.startswith("only partial days (")
        assert "no change" not in none.note  # the reason alone: each caller says what it leaves out
    short = comparison_windows("2024-06-01", "2024-06-30", first="2024-05-15")
    assert short.current is None and "no previous 30 days in the data (it starts 2024-05-15" in short.note
    with pytest.raises(ValueError, match="start must not be after end"):
        comparison_windows("2024-06-02", "2024-06-01")


def test_ratio_is_the_one_safe_division():
    from jmlink_analytics.metrics import ratio

    out = ratio(pd.Series([1, 2, 0, 3]), np.array([2, 0, 0, np.nan]))
    assert out[0] == 0.5 and np.isnan(out[1:]).all() and out.dtype == np.float64
