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
    assert labels[1] == f"{totals[1]:,}\n{totals[1] / totals[0]:.1%} of exposures"
    assert labels[3].endswith("of opens")
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
