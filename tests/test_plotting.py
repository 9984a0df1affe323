"""plotting: every chart returns its Axes with the expected lines, bars and labels, saves to PNG without
warnings, and draws Chinese with a CJK font (or warns once when there is none)."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from jmlink_analytics import plot_breakdown, plot_funnel, plot_heatmap, plot_platforms, plot_trend
from jmlink_analytics.plotting import _fonts

from .helpers_frames import links_frame, series_frame, stats_frame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHANNELS = {"k1": "微信", "k2": "抖音", "k3": "小红书", "k4": "QQ", "k5": None}
NAMES = {"k1": "春节红包", "k2": "周年庆", "k3": "新品首发", "k4": "会员日", "k5": "短信召回"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def split():
    """Five links x 21 days, iOS and Android apart; the last two days partial."""
    rng = np.random.default_rng(1)
    frames = []
    for platform, share in (("ios", 0.4), ("android", 0.6)):
        values = {k: (rng.poisson(1000 * (i + 1) * share, 21)) for i, k in enumerate(CHANNELS)}
        frames.append(series_frame(values, start="2024-06-10", platform=platform, partial_last=2))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def links():
    return links_frame(CHANNELS, names=NAMES)


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def solid_lines(ax) -> list:
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def save_png(figure) -> bytes:
    """Render to PNG with every warning an error (a missing glyph included)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure.savefig(buffer, format="png")
    data = buffer.getvalue()
    assert data.startswith(PNG_MAGIC)
    return data


# ------------------------------------------------------------------------------------ each chart
def test_plot_trend_draws_the_top_groups_and_the_rest_as_other(split, links):
    fig, ax = plt.subplots(figsize=(9, 4))
    out = plot_trend(split, "click_count", by="link_key", top=3, links=links, ax=ax)
    assert out is ax
    lines = solid_lines(ax)
    assert len(lines) == 4
    assert [line.get_label() for line in lines] == ["k5 短信召回", "k4 会员日", "k3 新品首发", "other (2 links)"]
    assert legend_texts(ax)[:4] == ["k5 短信召回", "k4 会员日", "k3 新品首发", "other (2 links)"]
    assert "dashed" in legend_texts(ax)[-1]  # the partial days are drawn dashed
    assert len(lines[0].get_xdata()) == 21
    other = np.nansum(lines[3].get_ydata())  # the solid line leaves out the two partial days
    both = split[(split["link_key"].isin(["k1", "k2"])) & ~split["is_partial"]]
    assert other == both["click_count"].sum()
    assert ax.get_title().startswith("Clicks per day by link")
    assert ax.get_ylabel() == "Clicks"
    assert ax.yaxis.get_major_formatter()(12345.0, 0) == "12,345"
    save_png(fig)


def test_plot_trend_by_week_and_by_a_links_column_and_kwargs(split, links):
    fig, ax = plt.subplots()
    plot_trend(split, "ctr", by="channel", freq="W", links=links, ax=ax, linewidth=3)
    lines = solid_lines(ax)
    assert sorted(line.get_label() for line in lines) == sorted(["微信", "抖音", "小红书", "QQ", "(none)"])
    assert all(line.get_linewidth() == 3 for line in lines)
    assert len(lines[0].get_xdata()) == 3  # the weeks from 10, 17 and 24 June
    assert float(ax.yaxis.get_major_formatter()(0.25, 0).rstrip("%")) == 25.0
    save_png(fig)


def test_plot_trend_uses_the_current_axes_by_default(split):
    _fig, ax = plt.subplots()
    assert plot_trend(split) is ax
    assert len(solid_lines(ax)) == 1


def test_plot_funnel_labels_each_stage_with_its_conversion(split):
    fig, ax = plt.subplots()
    assert plot_funnel(split, ax=ax) is ax
    bars = ax.patches
    assert len(bars) == 4
    totals = split[["exposure_count", "click_count", "open_count", "install_count"]].sum().to_numpy()
    assert [b.get_height() for b in bars] == totals.tolist()
    labels = [t.get_text() for t in ax.texts]
    assert labels[0] == f"{totals[0]:,}"
    assert labels[1] == f"{totals[1]:,}\nCTR {totals[1] / totals[0]:.1%}"
    assert labels[2] == f"{totals[2]:,}\nOpen rate {totals[2] / totals[1]:.1%}"
    # the install rate is installs / clicks, as on the cards and in metrics.funnel (it said "of opens")
    assert labels[3] == f"{totals[3]:,}\nInstall rate {totals[3] / totals[1]:.1%}"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Exposures", "Clicks", "Opens", "Installs"]
    save_png(fig)


def test_plot_funnel_by_group_compares_the_conversions(split, links):
    fig, ax = plt.subplots(figsize=(10, 4))
    plot_funnel(split, by="platform", ax=ax)
    assert len(ax.patches) == 2 * 3  # two platforms x three steps
    assert [t.split(" (")[0] for t in legend_texts(ax)] == ["Android", "iOS"]
    ios = split[split["platform"] == "ios"]
    ctr = ios["click_count"].sum() / ios["exposure_count"].sum()
    assert f"{ctr:.1%}" in [t.get_text() for t in ax.texts]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "CTR (clicks / exposures)", "Open rate (opens / clicks)", "Install rate (installs / clicks)"]
    save_png(fig)
    fig, ax = plt.subplots(figsize=(10, 4))
    plot_funnel(split, by="channel", links=links, top=3, ax=ax)
    assert len(ax.patches) == 4 * 3 and legend_texts(ax)[-1].startswith("other")
    save_png(fig)


def test_plot_breakdown_sorts_bars_largest_on_top_and_labels_them(split, links):
    fig, ax = plt.subplots()
    assert plot_breakdown(split, by="channel", links=links, ax=ax) is ax
    widths = [b.get_width() for b in ax.patches]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert len(widths) == 5 and widths == sorted(widths, reverse=True)
    assert names == ["(none)", "QQ", "小红书", "抖音", "微信"]  # k5 has most clicks and no channel
    assert [t.get_text() for t in ax.texts] == [f"{w:,.0f}" for w in widths]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first bar on top
    save_png(fig)


def test_plot_breakdown_of_a_rate_with_the_rest_as_other(split, links):
    fig, ax = plt.subplots()
    plot_breakdown(split, "install_rate", by="name", links=links, top=2, ax=ax, color="purple")
    assert len(ax.patches) == 3
    assert ax.patches[0].get_facecolor() == matplotlib.colors.to_rgba("purple")  # **kwargs reach barh
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "other (3)"
    assert all(t.get_text().endswith("%") for t in ax.texts)
    save_png(fig)


def test_plot_platforms_draws_ios_and_android_with_their_shares(split):
    fig, ax = plt.subplots(figsize=(9, 3.5))
    assert plot_platforms(split, "click_count", freq="D", ax=ax) is ax
    lines = solid_lines(ax)
    assert [line.get_label().split(" (")[0] for line in lines] == ["iOS", "Android"]
    ios_share = split.loc[split["platform"] == "ios", "click_count"].sum() / split["click_count"].sum()
    assert lines[0].get_label() == f"iOS ({ios_share:.1%} of clicks)"
    save_png(fig)


def test_plot_platforms_refuses_a_table_of_all_rows_saying_how_to_fetch(split):
    overall = split.assign(platform=pd.Categorical(["all"] * len(split), categories=["all", "ios", "android"]))
    with pytest.raises(ValueError, match=r"platform=\['ios', 'android'\]"):
        plot_platforms(overall)


def test_plot_heatmap_has_a_row_per_top_link_and_a_colour_bar(split, links):
    fig, ax = plt.subplots(figsize=(9, 4))
    assert plot_heatmap(split, "click_count", top=3, links=links, ax=ax) is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["k5 短信召回", "k4 会员日", "k3 新品首发"]
    assert len(fig.axes) == 2  # the heat map and its colour bar
    mesh = ax.collections[0]
    assert mesh.get_array().shape == (3, 21)
    assert "partial" in ax.get_xlabel()
    save_png(fig)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda s: plot_trend(s, "clicks"), ValueError, "metric must be one of"),
    (lambda s: plot_trend(s, top=0), ValueError, "top must be an integer >= 1"),
    (lambda s: plot_trend(s, freq="fortnight"), ValueError, "freq must be"),
    (lambda s: plot_trend(s, ax="left"), TypeError, "ax must be a matplotlib Axes"),
    (lambda s: plot_breakdown(s, by="channel"), ValueError, "links="),
    (lambda s: plot_heatmap(s, top=-1), ValueError, "top must be"),
    (lambda s: plot_funnel(s, by="nope"), ValueError, "by='nope'"),
])
def test_bad_arguments_are_refused_before_drawing(split, call, error, words):
    with pytest.raises(error) as info:
        call(split)
    assert words in str(info.value)


def test_an_empty_table_draws_a_note_instead_of_failing(split):
    fig, ax = plt.subplots()
    plot_trend(split.iloc[:0], ax=ax)
    assert [t.get_text() for t in ax.texts] == ["no data to show"]
    save_png(fig)


# ---------------------------------------------------------------------------------------- fonts
def test_chinese_labels_draw_with_a_cjk_font_even_when_saved_later_outside_any_context():
    stats = series_frame({"a": [100] * 10, "b": [50] * 10})
    links = links_frame({"a": "微信", "b": "小红书"}, names={"a": "春节红包", "b": "周年庆"})
    figure = Figure(figsize=(6, 3))  # no pyplot: the way write_report draws
    ax = figure.add_subplot()
    plot_breakdown(stats, by="channel", links=links, ax=ax)
    ax.set_title("渠道点击 微信")  # a title the user sets afterwards uses the font too
    family = _fonts.find_cjk_font()
    assert family is not None  # `make test` installs one (WenQuanYi Micro Hei)
    assert family in ax.get_yticklabels()[0].get_fontfamily()
    assert matplotlib.rcParams["font.family"] == ["sans-serif"]  # nothing global changed
    save_png(figure)
    plot_heatmap(stats, links=links, ax=Figure().add_subplot())


def test_without_a_cjk_font_the_plots_warn_once_and_still_draw(monkeypatch, split, links):
    monkeypatch.setattr(_fonts, "find_cjk_font", lambda: None)
    _fonts._warn_missing.cache_clear()
    try:
        with pytest.warns(_fonts.CJKFontWarning, match="apt-get install fonts-wqy-microhei") as caught:
            _fig, (left, right) = plt.subplots(1, 2)
            plot_breakdown(split, links=links, ax=left)
            plot_funnel(split, ax=right)
        assert len([w for w in caught if issubclass(w.category, _fonts.CJKFontWarning)]) == 1
        assert len(left.patches) == 5 and len(right.patches) == 4
    finally:
        _fonts._warn_missing.cache_clear()


def test_a_font_matplotlib_does_not_know_is_found_and_registered(monkeypatch):
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = [f for f in manager.ttflist if "wqy" not in f.fname.lower() and "cjk" not in f.fname.lower()]
    monkeypatch.setattr(manager, "ttflist", known)  # as if the font was installed after the cache was built
    _fonts.find_cjk_font.cache_clear()
    try:
        family = _fonts.find_cjk_font()
        assert family is not None
        assert any(f.name == family for f in manager.ttflist)
    finally:
        _fonts.find_cjk_font.cache_clear()
        manager._findfont_cached.cache_clear()


def test_importing_the_package_or_the_metrics_does_not_import_matplotlib():
    code = ("import sys, jmlink_analytics, jmlink_analytics.metrics; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -------------------------------------------------------------------------------- sandbox app
def test_every_chart_of_a_sandbox_app_saves_without_warnings(sandbox):
    from jmlink_analytics import fetch_links, fetch_stats

    with sandbox.client() as client:
        links = fetch_links(client)
        stats = fetch_stats(client, start=sandbox.app.today - pd.Timedelta(days=29), end=sandbox.app.today,
                            platform=["ios", "android"], progress=False)
    fig, axes = plt.subplots(3, 2, figsize=(14, 12), layout="constrained")
    plot_trend(stats, by="link_key", top=5, links=links, ax=axes[0, 0])
    plot_funnel(stats, by="platform", ax=axes[0, 1])
    plot_breakdown(stats, links=links, ax=axes[1, 0])
    plot_platforms(stats, freq="W", ax=axes[1, 1])
    plot_heatmap(stats, top=10, links=links, ax=axes[2, 0])
    plot_funnel(stats, by="channel", links=links, ax=axes[2, 1])
    assert len(solid_lines(axes[0, 0])) == 6
    save_png(fig)


def test_stats_with_all_and_split_rows_are_counted_once(links):
    rows = [("k1", p, "2024-06-01", e, c, 0, 0) for p, e, c in (("all", 100, 30), ("ios", 40, 10), ("android", 60, 20))]
    stats = stats_frame(rows)
    _fig, ax = plt.subplots()
    plot_breakdown(stats, links=links, ax=ax)
    assert [b.get_width() for b in ax.patches] == [30]


# ------------------------------------------------------------- every range draws every period (issue 14)
def visible_points(line) -> int:
    """How many finite points of ``line`` are drawn so that they show: by a marker, or joined by a segment."""
    y = np.asarray(line.get_ydata(), dtype=np.float64)
    finite = np.isfinite(y)
    shown = np.zeros(len(y), dtype=bool)
    if line.get_linestyle() not in ("None", "") and line.get_linewidth() > 0:
        joined = finite[1:] & finite[:-1]
        shown[1:] |= joined
        shown[:-1] |= joined
    if line.get_marker() not in (None, "None", "", " "):
        every = line.get_markevery()
        marked = np.ones(len(y), dtype=bool) if every is None else np.isin(np.arange(len(y)), every)
        shown |= marked & finite
    return int(shown.sum())


def drawn_axes(ax) -> list:
    """``ax`` and the Axes sharing its x axis (the right-hand axis of "other")."""
    return [ax, *[a for a in ax.figure.axes if a is not ax and a.get_shared_x_axes().joined(a, ax)]]


def days_of(n: int, end: str = "2026-11-30", links: int = 12, partial: int = 0) -> pd.DataFrame:
    """``n`` days up to ``end`` of ``links`` links, link i with about 100 * (i + 1) ** 1.5 exposures a day."""
    start = (pd.Timestamp(end) - pd.Timedelta(days=n - 1)).strftime("%Y-%m-%d")
    rng = np.random.default_rng(n)
    values = {f"L{i:02d}": rng.poisson(100 * (i + 1) ** 1.5, n) for i in range(links)}
    return series_frame(values, start=start, partial_last=partial)


RANGES = [(1, "D"), (7, "D"), (30, "D"), (365, "D"), (14, "MS"), (10, "W"), (365, "W"), (365, "MS")]


@pytest.mark.parametrize(("days", "freq"), RANGES)
def test_every_series_shows_every_period_on_an_axis_fitted_to_the_data(days, freq):
    stats = days_of(days, partial=min(2, days))
    fig, ax = plt.subplots(figsize=(10, 4))
    plot_trend(stats, "click_count", by="link_key", freq=freq, top=3, ax=ax)
    periods = pd.DatetimeIndex(sorted(stats["date"].dt.to_period(
        {"D": "D", "W": "W-SUN", "MS": "M"}[freq]).dt.start_time.unique()))
    for axes in drawn_axes(ax):
        for line in axes.get_lines():
            if line.get_label() == "_nolegend_" or not np.isfinite(np.asarray(line.get_ydata(), float)).any():
                continue
            finite = int(np.isfinite(np.asarray(line.get_ydata(), float)).sum())
            assert visible_points(line) == finite, (line.get_label(), days, freq)
    labels = {line.get_label() for a in drawn_axes(ax) for line in a.get_lines()}
    assert any(label.startswith("other") for label in labels)  # the biggest series is drawn too
    ys = [np.asarray(line.get_ydata(), float) for a in drawn_axes(ax) for line in a.get_lines()]
    assert ys and all(len(y) == len(periods) for y in ys)  # one value per period, partial ones included
    left, right = (matplotlib.dates.num2date(v).replace(tzinfo=None) for v in ax.get_xlim())
    step = {"D": pd.Timedelta(days=1), "W": pd.Timedelta(days=7), "MS": pd.Timedelta(days=31)}[freq]
    assert periods[0] - step <= pd.Timestamp(left) < periods[0]
    assert periods[-1] < pd.Timestamp(right) <= periods[-1] + step
    ticks = [pd.Timestamp(matplotlib.dates.num2date(t).replace(tzinfo=None)) for t in ax.get_xticks()]
    assert ticks and all(periods[0] <= t <= periods[-1] for t in ticks)  # no tick outside the data
    assert 1 <= len(ticks) <= 8
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert all(labels) and not any("-" in text for text in labels)  # "Nov 3", "Jan\n2026": never "2026-Dec"
    assert ax.xaxis.get_offset_text().get_text() == ""
    save_png(fig)


def test_a_november_chart_has_no_december_tick():
    fig, ax = plt.subplots()
    plot_trend(days_of(30, end="2026-11-30"), ax=ax)
    labels = " ".join(t.get_text() for t in ax.get_xticklabels())
    assert "Dec" not in labels and "Nov" in labels and "2026" in labels
    save_png(fig)


def test_one_month_bucket_of_14_days_is_a_visible_point():
    _fig, ax = plt.subplots()
    plot_trend(days_of(14, end="2026-11-20"), "click_count", freq="MS", ax=ax)
    (line,) = [line for line in ax.get_lines() if np.isfinite(np.asarray(line.get_ydata(), float)).any()]
    assert visible_points(line) == 1 and line.get_marker() == "o" and line.get_markersize() >= 5
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Nov\n2026"]


def test_other_never_sets_the_scale_of_the_top_links():
    stats = days_of(30, links=40)
    fig, ax = plt.subplots(figsize=(10, 4))
    plot_trend(stats, "click_count", by="link_key", top=5, ax=ax)
    wide = stats.assign(clicks=stats["click_count"]).pivot(index="date", columns="link_key", values="clicks")
    top = wide[wide.sum().sort_values(ascending=False).index[:5]].to_numpy().max()
    other = wide[wide.sum().sort_values(ascending=False).index[5:]].sum(axis=1).max()
    assert other > 3 * top  # the rest adds up to far more than any top link
    assert top <= ax.get_ylim()[1] <= 1.1 * top  # the top links fill the height
    (right,) = drawn_axes(ax)[1:]
    (line,) = [line for line in right.get_lines() if line.get_label().startswith("other")]
    assert line.get_label() == "other (35 links), right axis"
    assert right.get_ylim()[1] >= other
    assert "other (35 links), right axis" in legend_texts(ax)
    save_png(fig)


def test_other_shares_the_axis_when_it_is_no_larger_than_the_top_links(split, links):
    _fig, ax = plt.subplots()
    plot_trend(split, "click_count", by="link_key", top=3, links=links, ax=ax)
    assert drawn_axes(ax) == [ax]
    assert ax.get_ylim()[1] >= max(np.nanmax(np.asarray(line.get_ydata(), float)) for line in ax.get_lines())


# ------------------------------------------------------------------- one signature form (issue 10)
PLOTS = {
    "trend": lambda s, **kw: plot_trend(s, "click_count", **kw),
    "funnel": lambda s, **kw: plot_funnel(s, **kw),
    "breakdown": lambda s, **kw: plot_breakdown(s, "click_count", by="link_key", **kw),
    "platforms": lambda s, **kw: plot_platforms(s, "click_count", **kw),
    "heatmap": lambda s, **kw: plot_heatmap(s, "click_count", **kw),
}


@pytest.mark.parametrize("name", list(PLOTS))
def test_every_plot_takes_links_title_and_ax_and_draws_empty_input_the_same_way(name, split, links):
    # plot_platforms draws platforms: the links table changes nothing there, so it takes none (issue 17)
    with_links = {} if name == "platforms" else {"links": links}
    fig, ax = plt.subplots()
    assert PLOTS[name](split, title="Mine", ax=ax, **with_links) is ax
    assert ax.get_title() == "Mine"
    fig, ax = plt.subplots()
    assert PLOTS[name](split.iloc[:0], title="Empty", ax=ax, **with_links) is ax
    assert ax.get_title() == "Empty" and [t.get_text() for t in ax.texts] == ["no data to show"]
    assert len(ax.get_lines()) == 0 and len(ax.patches) == 0 and len(fig.axes) == 1
    save_png(fig)


@pytest.mark.parametrize("name", ["trend", "funnel", "platforms"])
def test_legend_false_draws_no_legend(name, split):
    _fig, ax = plt.subplots()
    kwargs = {"by": "link_key"} if name == "trend" else {"by": "platform"} if name == "funnel" else {}
    PLOTS[name](split, ax=ax, **kwargs)
    assert ax.get_legend() is not None
    _fig, ax = plt.subplots()
    PLOTS[name](split, ax=ax, legend=False, **kwargs)
    assert ax.get_legend() is None


def test_plot_heatmap_cbar_and_cbar_ax(split):
    fig, ax = plt.subplots()
    plot_heatmap(split, cbar=False, ax=ax)
    assert len(fig.axes) == 1
    fig, (ax, cax) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [20, 1]})
    plot_heatmap(split, cbar_ax=cax, ax=ax)
    assert len(fig.axes) == 2 and cax.get_ylabel() == "Clicks"


def test_plot_heatmap_x_axis_runs_from_the_first_day_to_the_end_of_the_last(split):
    _fig, ax = plt.subplots()
    plot_heatmap(split, ax=ax)
    left, right = (pd.Timestamp(matplotlib.dates.num2date(v).replace(tzinfo=None)) for v in ax.get_xlim())
    assert (left, right) == (split["date"].min(), split["date"].max() + pd.Timedelta(days=1))


def test_plot_breakdown_takes_the_metric_second_and_refuses_the_links_table_there(split, links):
    """The positional shim (links second, a FutureWarning) is gone (issue 17): the metric is second."""
    import inspect

    _fig, ax = plt.subplots()
    with pytest.raises(TypeError, match="links=links"):
        plot_breakdown(split, links, by="channel", ax=ax)
    assert len(ax.patches) == 0 and not ax.get_title()  # refused before drawing anything
    _fig, new = plt.subplots()
    plot_breakdown(split, "install_count", by="channel", links=links, ax=new)
    _fig, named = plt.subplots()
    plot_breakdown(split, metric="install_count", by="channel", links=links, ax=named)
    assert [b.get_width() for b in new.patches] == [b.get_width() for b in named.patches] != []
    assert not hasattr(plot_breakdown, "__signature__")  # what help() shows is the real signature
    parameters = inspect.signature(plot_breakdown).parameters
    assert list(parameters)[:3] == ["stats", "metric", "by"]
    assert "legend" not in parameters  # it drew nothing: the bars are labelled
    # plot_platforms takes links now (issue 20: no line before the first link existed), keyword-only
    assert inspect.signature(plot_platforms).parameters["links"].kind is inspect.Parameter.KEYWORD_ONLY


def test_no_private_attribute_is_left_on_the_axes(split):
    stats = days_of(30, links=40)
    _fig, ax = plt.subplots()
    plot_trend(stats, "click_count", by="link_key", top=5, ax=ax)
    assert len(drawn_axes(ax)) == 2  # "other" on a right-hand axis
    assert not [name for name in vars(ax) if name.startswith("_jm")]


# ------------------------------------------------------------- what a user sees at every range (issue 20)
def periods_drawn(ax) -> int:
    (line,) = [line for line in solid_lines(ax) if not line.get_label().startswith("other")][:1]
    return len(line.get_xdata())


@pytest.mark.parametrize(("days", "expected"), [(7, "D"), (90, "D"), (91, "W"), (365, "W"), (3660, "W")])
def test_without_freq_a_long_range_is_drawn_a_week_per_point(days, expected):
    stats = days_of(days, links=3)
    weeks = stats["date"].dt.to_period("W-SUN").nunique()
    fig, ax = plt.subplots(figsize=(10, 4))
    plot_trend(stats, "click_count", by="link_key", ax=ax)
    assert periods_drawn(ax) == (days if expected == "D" else weeks)
    assert ax.get_title().startswith("Clicks per day" if expected == "D" else "Clicks per week")
    _fig, platforms = plt.subplots()
    split = pd.concat([stats.assign(platform=pd.Categorical([p] * len(stats), categories=["all", "ios", "android"]))
                       for p in ("ios", "android")], ignore_index=True)
    plot_platforms(split, ax=platforms)
    assert periods_drawn(platforms) == (days if expected == "D" else weeks)
    save_png(fig)


def test_a_freq_asked_for_is_kept_at_any_range():
    stats = days_of(365, links=3)
    _fig, ax = plt.subplots()
    plot_trend(stats, "click_count", by="link_key", freq="D", ax=ax)
    assert periods_drawn(ax) == 365 and ax.get_title().startswith("Clicks per day")


def test_a_link_has_no_line_before_it_was_created():
    stats = days_of(60, end="2026-11-30", links=3)
    links = links_frame({"L00": "微信", "L01": "QQ", "L02": "抖音"}, names={"L00": "a", "L01": "b", "L02": "c"})
    created = {"L00": "2026-10-01 09:30:00", "L01": "2026-11-10 23:59:00", "L02": "2026-11-30 08:00:00"}
    links["create_time"] = pd.to_datetime(links["link_key"].map(created))
    # the API gives zeros for the days before a link existed
    stats.loc[stats["date"] < pd.to_datetime(stats["link_key"].astype(str).map(created)).dt.normalize(),
              COUNTER_COLUMNS] = 0
    _fig, ax = plt.subplots()
    plot_trend(stats, "click_count", by="link_key", freq="D", links=links, ax=ax)
    lines = {line.get_label().split()[0]: line for line in solid_lines(ax)}
    days = pd.DatetimeIndex(lines["L01"].get_xdata())
    for key, when in created.items():
        y = np.asarray(lines[key].get_ydata(), dtype=np.float64)
        before = days < pd.Timestamp(when).normalize()
        assert np.isnan(y[before]).all(), key  # nothing drawn before the link existed
        assert np.isfinite(y[~before & ~np.asarray(stats.groupby("date")["is_partial"].any())]).all(), key
    y = np.asarray(lines["L02"].get_ydata(), dtype=np.float64)
    assert np.isfinite(y).sum() <= 1  # created on the last day: one point at most (partial days are dashed)
    _fig, weekly = plt.subplots()
    plot_trend(stats, "click_count", by="link_key", freq="W", links=links, ax=weekly)
    line = next(line for line in solid_lines(weekly) if line.get_label().startswith("L01"))
    weeks = pd.DatetimeIndex(line.get_xdata())
    y = np.asarray(line.get_ydata(), dtype=np.float64)
    assert np.isnan(y[weeks + pd.Timedelta(days=6) < pd.Timestamp("2026-11-10")]).all()
    created_week = pd.Timestamp("2026-11-10") - pd.Timedelta(days=pd.Timestamp("2026-11-10").day_of_week)
    assert np.isfinite(y[weeks == created_week]).all()  # the week it was created in is drawn
    _fig, unknown = plt.subplots()  # without create_time, the zeros are the data: drawn
    plot_trend(stats, "click_count", by="link_key", freq="D", links=links.drop(columns="create_time"), ax=unknown)
    line = next(line for line in solid_lines(unknown) if line.get_label().startswith("L01"))
    first = np.asarray(line.get_ydata(), dtype=np.float64)[:5]
    assert np.nansum(first) == 0 and np.isfinite(first).all()


COUNTER_COLUMNS = ["exposure_count", "click_count", "open_count", "install_count"]


def test_the_right_hand_axis_of_other_says_what_it_measures():
    stats = days_of(30, links=40)
    fig, ax = plt.subplots(figsize=(10, 4))
    plot_trend(stats, "click_count", by="link_key", top=5, ax=ax)
    (right,) = drawn_axes(ax)[1:]
    assert right.get_ylabel() == "Clicks: other (grey)"
    assert ax.get_ylabel() == "Clicks"
    save_png(fig)


def test_top_without_by_draws_the_top_links():
    stats = days_of(30, links=12)
    _fig, ax = plt.subplots()
    plot_trend(stats, "click_count", top=8, ax=ax)  # the README's call
    labels = [line.get_label() for line in solid_lines(ax)]
    assert len(labels) == 9 and labels[-1].startswith("other (4 links)")
    assert ax.get_title().startswith("Clicks per day by link (top 8")
    _fig, total = plt.subplots()
    plot_trend(stats, "click_count", ax=total)  # neither: the total, one line
    assert [line.get_label() for line in solid_lines(total)] == ["Clicks"]


EMOJI_NAMES = {"k1": "🎉新人礼包", "k2": "🥳 派对", "k3": "❤️ 爱心", "k4": "👨‍👩‍👧 家庭", "k5": "短信召回"}


def _emoji_charts(split) -> Figure:
    links = links_frame(CHANNELS, names=EMOJI_NAMES)
    links["channel"] = pd.Categorical(["微信🔥", "抖音", "小红书", "QQ", None])
    figure = Figure(figsize=(14, 8))
    axes = figure.subplots(2, 2)
    plot_trend(split, "click_count", by="link_key", top=5, links=links, ax=axes[0, 0])
    plot_breakdown(split, by="name", links=links, ax=axes[0, 1])
    plot_heatmap(split, top=5, links=links, ax=axes[1, 0])
    plot_funnel(split, by="channel", links=links, ax=axes[1, 1], title="渠道 🚀 funnel")
    return figure


def test_emoji_in_names_are_drawn_with_an_emoji_font_without_a_warning(split):
    if _fonts.find_emoji_font() is None:
        pytest.skip("no outline emoji font (make fonts installs fonts-symbola)")
    figure = _emoji_charts(split)
    save_png(figure)  # every warning an error: no "Glyph ... missing"
    trend = figure.axes[0]
    assert "k1 🎉新人礼包" in legend_texts(trend)  # drawn, not dropped
    assert "k2 派对" in legend_texts(trend)  # 🥳 (Unicode 11) is not in Symbola 9: dropped
    assert "k4 👨👩👧 家庭" in legend_texts(trend)  # the joiners dropped, the faces drawn


def test_without_an_emoji_font_emoji_are_dropped_without_a_warning(monkeypatch, split):
    monkeypatch.setattr(_fonts, "find_emoji_font", lambda: None)
    _fonts._coverage.cache_clear()
    try:
        figure = _emoji_charts(split)
        save_png(figure)
        texts = legend_texts(figure.axes[0])
        assert "k1 新人礼包" in texts and "k3 爱心" in texts
        assert [t.get_text() for t in figure.axes[1].get_yticklabels()][:1] != [""]
        assert not any(ch in " ".join(texts) for ch in "🎉🥳❤👨")
        assert figure.axes[3].get_title() == "渠道 funnel"
    finally:
        _fonts._coverage.cache_clear()


def test_other_has_no_line_before_the_first_of_its_links_was_created():
    stats = days_of(40, end="2026-11-30", links=4)
    links = links_frame({f"L{i:02d}": "微信" for i in range(4)})
    links["create_time"] = pd.to_datetime(["2026-11-15", "2026-11-20", "2026-10-22", "2026-10-22"])  # L00, L01: other
    _fig, ax = plt.subplots()
    plot_trend(stats, "click_count", by="link_key", top=2, freq="D", links=links, ax=ax)
    (other,) = [line for a in drawn_axes(ax) for line in a.get_lines() if line.get_label().startswith("other")]
    days = pd.DatetimeIndex(other.get_xdata())
    y = np.asarray(other.get_ydata(), dtype=np.float64)
    assert np.isnan(y[days < pd.Timestamp("2026-11-15")]).all()
    assert np.isfinite(y[(days >= pd.Timestamp("2026-11-15")) & (days < pd.Timestamp("2026-11-29"))]).all()


def test_plot_funnel_by_group_draws_the_rates_metrics_funnel_defines(split, links):
    # one definition per rate: each bar is metrics.funnel's conversion, "other" by the same definition
    from jmlink_analytics import funnel

    _fig, ax = plt.subplots(figsize=(10, 4))
    plot_funnel(split, by="platform", ax=ax)
    table = funnel(split, by="platform")
    expected = table[table["stage"] != "exposure"]["conversion"].to_numpy()
    assert np.allclose(sorted(b.get_height() for b in ax.patches), sorted(expected))
    _fig, ax = plt.subplots(figsize=(10, 4))
    plot_funnel(split, by="channel", links=links, top=2, ax=ax)
    table = funnel(split, by="channel", links=links)
    rest = table.iloc[2 * 4:].groupby("stage", observed=True)["count"].sum()
    other = [rest["click"] / rest["exposure"], rest["open"] / rest["click"], rest["install"] / rest["click"]]
    assert np.allclose([b.get_height() for b in ax.patches[-3:]], other)


def test_the_platform_lines_start_when_the_first_link_was_created(split, links):
    # seen in the 365-day report: flat zero lines for the half year before any link existed
    created = pd.Timestamp("2024-06-17 10:00")
    links = links.assign(create_time=[created + pd.Timedelta(days=i) for i in range(len(links))])
    split = split.copy()
    split.loc[split["date"] < created.normalize(), COUNTER_COLUMNS] = 0
    _fig, ax = plt.subplots()
    plot_platforms(split, "click_count", links=links, freq="D", ax=ax)
    lines = solid_lines(ax)
    assert lines[0].get_label().startswith("iOS (")  # the shares of the whole range
    for line in lines:
        days, y = pd.DatetimeIndex(line.get_xdata()), np.asarray(line.get_ydata(), dtype=np.float64)
        assert np.isnan(y[days < created.normalize()]).all() and np.isfinite(y[days == created.normalize()]).all()
    _fig, plain = plt.subplots()  # without the links table the zeros are the data
    plot_platforms(split, "click_count", freq="D", ax=plain)
    assert np.isfinite(np.asarray(solid_lines(plain)[0].get_ydata(), dtype=np.float64)[:7]).all()


@pytest.mark.parametrize("figsize", [(10, 4.8), (7, 4)])
def test_the_legend_never_covers_the_second_axis_label(figsize):
    # seen in the 7-day report: "Clicks: other (grey)" ran under the legend's handles (anchored at 1.09 x the width)
    stats = days_of(7, links=40)
    stats["click_count"] = stats["click_count"] * 40  # "other" in the ten thousands: wide tick labels
    fig, ax = plt.subplots(figsize=figsize)
    plot_trend(stats, "click_count", by="link_key", top=8, ax=ax)
    fig.tight_layout()
    fig.canvas.draw()
    (right,) = drawn_axes(ax)[1:]
    assert right.get_ylabel().startswith("Clicks: other")
    label = right.yaxis.label.get_window_extent()
    ticks = max(t.get_window_extent().x1 for t in right.get_yticklabels() if t.get_text())
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 > max(label.x1, ticks)
