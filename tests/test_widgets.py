"""The dashboard, driven the way a notebook user drives it: by setting its controls' values.

The stats frame is small and hand-made, so every number asserted is hand arithmetic: per-day
values are constant over 2024-06-01..05 and double over 2024-06-06..10.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import sys

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from jmlink_analytics.metrics import summarize
from jmlink_analytics.widgets import Dashboard, dashboard

D = dt.date
DAYS = pd.date_range("2024-06-01", "2024-06-10", freq="D")
# (link, platform) -> exposures, clicks, opens, installs per day over 06-01..05 (doubled over 06-06..10)
BASE = {
    ("AAAA", "ios"): (10, 4, 2, 1),
    ("AAAA", "android"): (20, 6, 3, 1),
    ("AAAB", "ios"): (100, 10, 5, 0),
    ("AAAB", "android"): (0, 0, 0, 0),
    ("AAAC", "ios"): (1, 1, 1, 1),
    ("AAAC", "android"): (9, 3, 0, 0),
}
COUNTERS = ["exposure_count", "click_count", "open_count", "install_count"]


def make_stats() -> pd.DataFrame:
    rows = []
    for (key, platform), base in BASE.items():
        for day in DAYS:
            factor = 1 if day.day <= 5 else 2
            rows.append((key, platform, day, *(v * factor for v in base)))
    stats = pd.DataFrame(rows, columns=["link_key", "platform", "date", *COUNTERS])
    stats["link_key"] = stats["link_key"].astype("category")
    stats["platform"] = pd.Categorical(stats["platform"], categories=["all", "ios", "android"])
    stats["is_partial"] = stats["date"] == DAYS[-1]
    return stats.sort_values(["link_key", "platform", "date"]).reset_index(drop=True)


def make_links() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [1, 2, 3],
        "link_key": ["AAAA", "AAAB", "AAAC"],
        "name": ["春节活动", "<script>alert(1)</script>", "夏季"],
        "channel": pd.Categorical(["微信", "QQ", "微博"]),
    })


@pytest.fixture
def stats() -> pd.DataFrame:
    return make_stats()


@pytest.fixture
def dash(stats) -> Dashboard:
    return Dashboard(stats, make_links())


def figures(dash: Dashboard, column: str = "current") -> dict[str, float]:
    return dash.headline_figures[column].to_dict()


def set_window(dash: Dashboard, start: dt.date, end: dt.date) -> None:
    with dash.hold():
        dash.controls["start"].value = start
        dash.controls["end"].value = end


# ---------------------------------------------------------------------------- the default view
def test_opens_on_everything_with_one_draw(dash, stats):
    assert dash.redraw_count == 1
    assert {"filter", "links", "start", "end", "platform", "metric", "freq", "export_path"} <= set(dash.controls)
    assert dash.controls["start"].value == D(2024, 6, 1)
    assert dash.controls["end"].value == D(2024, 6, 10)
    assert [v for _label, v in dash.controls["platform"].options] == ["all", "ios", "android"]
    assert dash.controls["links"].value == ()
    pd.testing.assert_frame_equal(dash.selection(), stats)

    current = figures(dash)
    assert current["exposure_count"] == (10 + 20 + 100 + 0 + 1 + 9) * 15  # 5 days x1 + 5 days x2
    assert current["click_count"] == (4 + 6 + 10 + 0 + 1 + 3) * 15
    assert current["install_count"] == (1 + 1 + 0 + 0 + 1 + 0) * 15
    assert current["ctr"] == pytest.approx(24 / 140)
    assert current["open_rate"] == pytest.approx(11 / 24)
    # the data start on 06-01: there is no previous period to compare with, and the headline says so
    assert dash.headline_figures["previous"].isna().all()
    assert "2,100" in dash.headline.value and "360" in dash.headline.value
    assert "no previous" in dash.headline.value
    assert "1 partial day" in dash.headline.value  # 06-10 is flagged is_partial


def test_chart_is_one_reused_figure_rendered_without_pyplot(dash):
    import matplotlib.pyplot as plt

    figure, open_figures = dash.figure, plt.get_fignums()
    (output,) = dash.chart.outputs
    assert base64.b64decode(output["data"]["image/png"]).startswith(b"\x89PNG")
    dash.controls["metric"].value = "open_count"
    dash.controls["freq"].value = "W"
    assert dash.figure is figure
    assert plt.get_fignums() == open_figures
    assert len(dash.figure.axes) == 1
    assert dash.figure.axes[0].get_ylabel() == "Opens"


# ---------------------------------------------------------------------------- dates and the comparison
def test_window_compares_with_the_previous_period_of_the_same_length(dash):
    set_window(dash, D(2024, 6, 6), D(2024, 6, 10))
    assert dash.redraw_count == 2  # start and end set together: one redraw
    clicks = 4 + 6 + 10 + 0 + 1 + 3
    assert figures(dash)["click_count"] == clicks * 2 * 5  # the total counts the partial 06-10 too
    # the change leaves the partial 06-10 out, as the report does: 06-06..09 against the 4 days before
    assert figures(dash, "compared")["click_count"] == clicks * 2 * 4
    assert figures(dash, "previous")["click_count"] == clicks * 4  # 06-02..05
    assert figures(dash, "pct_change")["click_count"] == pytest.approx(1.0)
    assert figures(dash, "change")["ctr"] == pytest.approx(0.0)  # both counters doubled
    assert "+100.0%" in dash.headline.value
    assert "2024-06-02 – 2024-06-05" in dash.headline.value
    assert "not in the change" in dash.headline.value
    assert dash.selection()["date"].min() == pd.Timestamp("2024-06-06")
    assert len(dash.selection()) == 6 * 5  # 3 links x 2 platforms x 5 days


def test_each_control_change_redraws_exactly_once(dash):
    changes = [("metric", "ctr"), ("freq", "W"), ("platform", "ios"), ("start", D(2024, 6, 3)),
               ("end", D(2024, 6, 8)), ("links", ("AAAC",)), ("filter", "QQ")]
    for i, (name, value) in enumerate(changes, start=2):
        dash.controls[name].value = value
        assert dash.redraw_count == i, name


def test_changes_that_select_the_same_data_do_not_redraw(dash):
    dash.controls["links"].value = ("AAAA",)
    count = dash.redraw_count
    dash.controls["filter"].value = "春节"  # still shows the selected AAAA: the same data
    assert dash.controls["links"].value == ("AAAA",)
    with dash.hold():  # a change undone inside a hold draws nothing
        dash.controls["metric"].value = "ctr"
        dash.controls["metric"].value = "click_count"
    assert dash.redraw_count == count


def test_start_after_end_says_so_instead_of_failing(dash):
    set_window(dash, D(2024, 6, 8), D(2024, 6, 2))
    assert "Start is after end" in dash.headline.value
    assert dash.selection().empty
    assert dash.top_table.empty
    set_window(dash, D(2024, 6, 2), D(2024, 6, 8))
    assert "Start is after end" not in dash.headline.value
    assert len(dash.selection()) == 6 * 7


# ---------------------------------------------------------------------------- platform, links, filter
def test_platform_toggle(dash, stats):
    dash.controls["platform"].value = "ios"
    assert set(dash.selection()["platform"]) == {"ios"}
    assert figures(dash)["click_count"] == (4 + 10 + 1) * 15
    dash.controls["platform"].value = "android"
    assert figures(dash)["exposure_count"] == (20 + 0 + 9) * 15
    dash.controls["platform"].value = "all"  # split data: all = ios + android
    assert len(dash.selection()) == len(stats)


def test_all_rows_are_used_when_the_data_has_them(stats):
    total = stats.groupby(["link_key", "date"], observed=True)[COUNTERS].sum().reset_index()
    total["platform"] = "all"
    both = pd.concat([stats, total], ignore_index=True)
    dash = Dashboard(both)
    assert figures(dash)["click_count"] == (4 + 6 + 10 + 0 + 1 + 3) * 15  # not counted twice
    assert set(dash.selection()["platform"]) == {"all"}


def test_selected_links_are_what_counts(dash, stats):
    dash.controls["links"].value = ("AAAA", "AAAC")
    expected = stats[stats["link_key"].isin(["AAAA", "AAAC"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(dash.selection(), expected)
    assert figures(dash)["click_count"] == (4 + 6 + 1 + 3) * 15
    assert list(dash.top_table["link_key"]) == ["AAAA", "AAAC"]
    assert "2 of 3 links" in dash.headline.value


def test_filter_searches_key_name_and_channel_in_any_case(dash):
    links = dash.controls["links"]
    for text, keys in [("微信", ["AAAA"]), ("aaab", ["AAAB"]), ("夏季", ["AAAC"]), ("微", ["AAAA", "AAAC"]),
                       ("aaa 微博", ["AAAC"]), ("nothing", [])]:
        dash.controls["filter"].value = text
        assert sorted(v for _label, v in links.options) == keys, text
        # nothing selected: the links the filter shows are the ones counted
        assert sorted(dash.selection()["link_key"].astype(str).unique()) == keys, text
    assert "No links" in dash.table.value
    dash.controls["filter"].value = ""
    assert len(links.options) == 3 and len(dash.selection()) == 60


def test_filter_keeps_the_selected_links_it_still_shows(dash):
    links = dash.controls["links"]
    links.value = ("AAAA", "AAAB")
    dash.controls["filter"].value = "微信"  # hides AAAB
    assert links.value == ("AAAA",)
    assert set(dash.selection()["link_key"]) == {"AAAA"}
    dash.controls["filter"].value = "QQ"  # hides AAAA too: nothing selected, the filter's links count
    assert links.value == ()
    assert set(dash.selection()["link_key"]) == {"AAAB"}


def test_picker_lists_links_by_clicks_with_name_and_channel(dash):
    labels = [label for label, _v in dash.controls["links"].options]
    assert labels[0].startswith("AAAA")  # 150 clicks, tied with AAAB, broken by key
    assert labels[-1] == "AAAC · 夏季 · 微博"  # fewest clicks last


def test_without_links_the_keys_label_the_picker(stats):
    dash = Dashboard(stats)
    assert sorted(label for label, _v in dash.controls["links"].options) == ["AAAA", "AAAB", "AAAC"]
    dash.controls["filter"].value = "aaac"
    assert set(dash.selection()["link_key"]) == {"AAAC"}


# ---------------------------------------------------------------------------- the table
def test_table_ranks_links_by_the_chosen_metric(dash):
    set_window(dash, D(2024, 6, 6), D(2024, 6, 10))
    # exposures: AAAA (10+20)*10, AAAB 100*10, AAAC (1+9)*10
    dash.controls["metric"].value = "exposure_count"
    assert list(dash.top_table["link_key"]) == ["AAAB", "AAAA", "AAAC"]
    assert list(dash.top_table["exposure_count"]) == [1000, 300, 100]
    # ctr: AAAC 40/100, AAAA 100/300, AAAB 100/1000
    dash.controls["metric"].value = "ctr"
    assert list(dash.top_table["link_key"]) == ["AAAC", "AAAA", "AAAB"]
    assert dash.top_table["ctr"].tolist() == pytest.approx([0.4, 1 / 3, 0.1])
    html = dash.table.value
    assert html.index("AAAC") < html.index("AAAA") < html.index("AAAB")
    assert "40.0%" in html and "33.3%" in html and "1,000" in html


def test_table_and_picker_escape_names(dash):
    assert "<script>" not in dash.table.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dash.table.value
    assert "春节活动" in dash.table.value and "微信" in dash.table.value


def test_table_shows_at_most_top_rows(stats):
    dash = Dashboard(stats, make_links(), top=2)
    assert len(dash.top_table) == 2
    assert dash.table.value.count("<tr>") == 3  # header + 2


def test_weekly_chart_sums_days_into_weeks(dash):
    dash.controls["freq"].value = "W"
    lines = dash.figure.axes[0].get_lines()
    clicks = 4 + 6 + 10 + 0 + 1 + 3
    # weeks start on Monday: 05-27 (06-01..02), 06-03 (06-03..05 x1, 06-06..09 x2), 06-10 (06-10 x2);
    # the first and last weeks are cut by the data (and 06-10 is partial): drawn dashed, not solid
    dashed = [line for line in lines if line.get_linestyle() != "-"]
    solid = [line for line in lines if line.get_linestyle() == "-"]
    assert len(dashed) == 1 and len(solid) == 1
    assert list(dashed[0].get_ydata()) == [clicks * 2, clicks * 3 + clicks * 2 * 4, clicks * 2]
    assert np.isnan(solid[0].get_ydata()[[0, 2]]).all() and solid[0].get_ydata()[1] == clicks * 11


# ---------------------------------------------------------------------------- export
def test_export_button_writes_the_selection(dash, tmp_path):
    target = tmp_path / "out" / "mine.csv"
    target.parent.mkdir()
    dash.controls["export_path"].value = str(target)
    dash.controls["platform"].value = "ios"
    dash.controls["links"].value = ("AAAA",)
    dash.export_button.click()
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel-safe UTF-8 with BOM
    written = pd.read_csv(target, encoding="utf-8-sig")
    assert len(written) == 10
    assert set(written["link_key"]) == {"AAAA"} and set(written["platform"]) == {"ios"}
    assert written["click_count"].tolist() == [4] * 5 + [8] * 5
    assert str(target.resolve()) in dash.export_status.value
    assert "10 rows" in dash.export_status.value


def test_export_failure_is_shown_not_raised(dash, tmp_path):
    dash.controls["export_path"].value = str(tmp_path)  # a folder: cannot be written as a file
    dash.export_button.click()
    assert "Export failed" in dash.export_status.value
    dash.controls["export_path"].value = "  "
    dash.export_button.click()
    assert "Export failed: the export path is empty" in dash.export_status.value


def test_export_from_code_writes_where_asked(dash, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dash.controls["links"].value = ("AAAB",)
    written = dash.export()
    assert written.resolve() == (tmp_path / "dashboard_selection.csv").resolve()  # the default name
    frame = pd.read_csv(written, encoding="utf-8-sig")
    assert len(frame) == 20 and set(frame["link_key"]) == {"AAAB"}


def test_export_to_an_xlsx_path_writes_a_workbook(dash, tmp_path):
    import openpyxl

    target = tmp_path / "mine.xlsx"
    dash.controls["export_path"].value = str(target)
    dash.controls["links"].value = ("AAAB",)
    dash.export_button.click()
    sheet = openpyxl.load_workbook(target)["selection"]
    header = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 20 and {r[header.index("link_key")] for r in rows} == {"AAAB"}
    assert all(isinstance(r[header.index("click_count")], int) for r in rows)
    assert sheet.freeze_panes == "A2" and "20 rows" in dash.export_status.value


# ---------------------------------------------------------------------------- arguments and imports
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda s: s.to_dict(), TypeError, "DataFrame"),
        (lambda s: s.drop(columns=["click_count", "date"]), ValueError, "missing column.*date, click_count"),
        (lambda s: s.iloc[:0], ValueError, "no rows"),
        (lambda s: s.assign(platform="web"), ValueError, "web"),
        (lambda s: s.assign(click_count="x"), ValueError, "numeric"),
        (lambda s: s.assign(date=pd.NaT), ValueError, "date"),
    ],
)
def test_bad_stats_are_refused_with_a_clear_error(stats, make, error, match):
    with pytest.raises(error, match=match):
        Dashboard(make(stats))


def test_bad_links_and_top_are_refused(stats):
    with pytest.raises(TypeError, match="links"):
        Dashboard(stats, links=[1, 2])
    with pytest.raises(ValueError, match="link_key"):
        Dashboard(stats, links=pd.DataFrame({"name": ["x"]}))
    with pytest.raises(ValueError, match="top"):
        Dashboard(stats, top=0)


def test_without_ipywidgets_the_import_error_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    monkeypatch.delitem(sys.modules, "jmlink_analytics.widgets")
    monkeypatch.delitem(sys.modules, "jmlink_analytics.widgets._dashboard")
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        importlib.import_module("jmlink_analytics.widgets")


def test_dashboard_fetches_links_and_split_stats(make_sandbox):
    sandbox = make_sandbox(links=6, days=20)
    with sandbox.client() as client:
        dash = dashboard(client, start="2024-06-21", end="2024-06-30")
    assert isinstance(dash, Dashboard)
    assert [v for _label, v in dash.controls["platform"].options] == ["all", "ios", "android"]
    assert sorted(v for _l, v in dash.controls["links"].options) == sorted(r["link_key"] for r in sandbox.app.links)
    expected = sum(
        row["click_count"]
        for link in sandbox.app.links
        for row in sandbox.app.stats(link["link_key"], D(2024, 6, 21), D(2024, 6, 30), "all")
    )
    assert figures(dash)["click_count"] == expected
    assert np.isnan(figures(dash, "previous")["click_count"])


# ---------------------------------------------------------------------------- the two aggregation paths
@pytest.mark.parametrize("dense", [True, False], ids=["dense-cube", "row-path"])
def test_aggregates_match_pandas_on_a_sparse_mixed_table(monkeypatch, dense):
    """Both paths (the dense cube and, for tables too big for it, the row path) agree with pandas.

    The table misses days here and there, and links K0-K2 have no ``all`` rows while the others
    have all three platforms: "All" must count K0-K2 through ios + android and the others through
    their ``all`` rows (the platform rule of metrics), never both.
    """
    from jmlink_analytics.widgets._index import Selection, StatsIndex

    if not dense:
        monkeypatch.setattr(StatsIndex, "dense_limit_bytes", 0)
    rng = np.random.default_rng(3)
    dates = pd.date_range("2024-01-01", periods=40)
    full = pd.MultiIndex.from_product(
        [[f"K{i}" for i in range(7)], ["all", "ios", "android"], dates], names=["link_key", "platform", "date"]
    ).to_frame(index=False)
    full = full[~(full["link_key"].isin(["K0", "K1", "K2"]) & (full["platform"] == "all"))]
    stats = full.sample(frac=0.6, random_state=1).reset_index(drop=True)
    for column in COUNTERS:
        stats[column] = rng.integers(0, 1000, len(stats))
    index = StatsIndex(stats)
    assert (index._cube is not None) == dense
    counted_as_all = (stats["platform"] == "all") | ~stats["link_key"].isin(stats.loc[stats["platform"] == "all",
                                                                                        "link_key"])
    for _ in range(30):
        keys = list(rng.choice(index.keys, size=rng.integers(1, 8), replace=False))
        choice = str(rng.choice(["all", "ios", "android"]))
        start, end = sorted(rng.integers(0, 40, size=2))
        sel = Selection(index.link_mask(keys), index.platform_rows(choice), int(start), int(end))
        on_platform = counted_as_all if choice == "all" else stats["platform"] == choice
        rows = stats[stats["link_key"].isin(keys) & on_platform & stats["date"].isin(dates[start:end + 1])]
        expected_day = rows.groupby("date")[COUNTERS].sum().reindex(dates[start:end + 1], fill_value=0)
        np.testing.assert_array_equal(index.daily(sel)[COUNTERS].to_numpy(), expected_day.to_numpy())
        expected_link = rows.groupby("link_key")[COUNTERS].sum().reindex(sorted(keys), fill_value=0)
        per_link = index.per_link(sel).set_index("link_key")[COUNTERS]
        np.testing.assert_array_equal(per_link.to_numpy(), expected_link.to_numpy())
        expected_cells = (rows.groupby(["link_key", "date"])[COUNTERS].sum()
                          .reindex(pd.MultiIndex.from_product([sorted(keys), dates[start:end + 1]]), fill_value=0))
        per_link_day = index.per_link_day(sel).set_index(["link_key", "date"])[COUNTERS]
        np.testing.assert_array_equal(per_link_day.to_numpy(), expected_cells.to_numpy())
        assert sorted(index.positions(sel)) == sorted(rows.index)


def test_all_counts_like_summarize_when_only_some_links_have_all_rows():
    """The platform rule of metrics: a link's ``all`` rows when it has them, else ios + android."""
    mixed = make_stats()
    aaaa = mixed[mixed["link_key"] == "AAAA"]
    summed = aaaa.groupby("date", as_index=False)[COUNTERS].sum().assign(link_key="AAAA", platform="all")
    mixed = pd.concat([mixed, summed.assign(click_count=summed["click_count"] + 1)], ignore_index=True)
    dash = Dashboard(mixed)
    assert figures(dash)["click_count"] == summarize(mixed, by=None)["click_count"].iloc[0]
    # AAAA through its "all" rows (one more click a day than ios + android), the others through ios + android
    assert figures(dash)["click_count"] == (4 + 6 + 10 + 0 + 1 + 3) * 15 + 10
    set_window(dash, D(2024, 6, 6), D(2024, 6, 10))
    window = mixed[mixed["date"] >= pd.Timestamp("2024-06-06")]
    assert figures(dash)["exposure_count"] == summarize(window, by=None)["exposure_count"].iloc[0]


def test_a_few_picked_links_get_one_line_each(dash):
    dash.controls["links"].value = ("AAAA", "AAAC")
    ax = dash.figure.axes[0]
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["AAAA 春节活动", "AAAC 夏季"]  # by clicks, labelled with the name
    dash.controls["links"].value = ("AAAC",)
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(labels) == 1 and "AAAC" not in labels[0]  # one link: the selection's total


# ---------------------------------------------------------------------------- edge states (issue 14)
def _visible_lines(ax):
    return [line for line in ax.get_lines() if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any()]


def test_start_after_end_with_links_picked_says_so_and_export_keeps_the_last_file(dash, tmp_path):
    target = tmp_path / "mine.csv"
    dash.controls["export_path"].value = str(target)
    dash.controls["links"].value = ("AAAA",)
    dash.export_button.click()
    before = target.read_bytes()
    assert len(before.splitlines()) == 1 + 2 * 10  # header + 2 platforms x 10 days
    set_window(dash, D(2024, 6, 8), D(2024, 6, 2))
    assert "Start is after end" in dash.headline.value
    assert "No links" not in dash.table.value  # a link is picked: the problem is the dates
    assert "start is on or before the end" in dash.table.value
    dash.export_button.click()
    assert "Export failed: nothing to export: start is after end" in dash.export_status.value
    assert target.read_bytes() == before  # the last export is not replaced by a header-only file
    with pytest.raises(ValueError, match="start is after end"):
        dash.export(tmp_path / "other.csv")
    assert not (tmp_path / "other.csv").exists()


def test_a_filter_matching_nothing_draws_a_clean_empty_state(dash):
    dash.controls["filter"].value = "no such link"
    ax = dash.figure.axes[0]
    assert not ax.axison  # no axis at all, so no "0 0 0 0" tick labels
    assert ax.get_lines() == []
    assert any("No link matches the filter" in t.get_text() for t in ax.texts)
    assert "No link matches the filter “no such link”" in dash.headline.value
    (output,) = dash.chart.outputs  # the empty state is rendered too
    assert base64.b64decode(output["data"]["image/png"]).startswith(b"\x89PNG")
    dash.controls["filter"].value = ""
    assert ax.axison and _visible_lines(ax)


def test_an_all_zero_selection_has_one_zero_tick(dash):
    dash.controls["links"].value = ("AAAB",)
    dash.controls["platform"].value = "android"  # AAAB has no android traffic at all
    ax = dash.figure.axes[0]
    assert list(ax.get_yticks()) == [0]
    assert ax.get_ylim() == (0, 1)


def test_a_rate_without_any_value_draws_the_empty_state(dash):
    dash.controls["links"].value = ("AAAB",)
    dash.controls["platform"].value = "android"
    dash.controls["metric"].value = "ctr"  # no exposure: no CTR on any day
    ax = dash.figure.axes[0]
    assert not ax.axison and any("CTR: no value" in t.get_text() for t in ax.texts)


def test_the_export_message_is_cleared_when_the_view_changes(dash, tmp_path):
    dash.controls["export_path"].value = str(tmp_path / "x.csv")
    dash.export_button.click()
    assert "Wrote 60 rows" in dash.export_status.value
    dash.controls["metric"].value = "install_count"
    assert dash.export_status.value == ""
    dash.export_button.click()
    dash.controls["links"].value = ("AAAC",)
    assert dash.export_status.value == ""


def test_a_change_that_rounds_to_zero_is_neutral():
    from jmlink_analytics.widgets._view import change_text

    assert change_text("ctr", -0.00004, -0.001) == ("0.0 pp", 0)
    assert change_text("ctr", -0.0006, -0.01) == ("-0.1 pp", -1)
    assert change_text("click_count", -1, -0.0004) == ("0.0%", 0)
    assert change_text("click_count", 3, 0.125) == ("+12.5%", 1)
    assert change_text("click_count", 35, float("nan")) == ("+35 (from 0)", 1)
    # a dashboard whose CTR moves by 0.0008 points and exposures by 0.01 %: neutral, never a red "-0.0"
    rows = []
    for day in pd.date_range("2024-06-01", periods=10):
        exposures = 10_000 if day.day <= 5 else 10_001
        rows.append(("K1", "all", day, exposures, 1000, 100, 10))
    stats = pd.DataFrame(rows, columns=["link_key", "platform", "date", *COUNTERS]).assign(is_partial=False)
    dash = Dashboard(stats)
    set_window(dash, D(2024, 6, 6), D(2024, 6, 10))
    assert figures(dash, "change")["ctr"] < 0 and figures(dash, "change")["exposure_count"] > 0
    headline = dash.headline.value
    assert "-0.0" not in headline and "+0.0" not in headline
    assert '<span style="color:#6e7781" title="previous period: 10.0%">= 0.0 pp</span>' in headline
    assert "= 0.0%" in headline
    assert "#cf222e" not in headline


def test_per_month_inside_one_month_shows_its_one_bucket(dash):
    dash.controls["freq"].value = "MS"  # 06-01..10: a single month bucket
    lines = _visible_lines(dash.figure.axes[0])
    assert lines, "nothing visible"
    for line in lines:
        assert np.isfinite(np.asarray(line.get_ydata(), dtype=float)).sum() == 1
        assert line.get_marker() not in (None, "None", "", " ")  # a one-point line needs a marker to be seen
    assert lines[0].get_ydata()[0] == (4 + 6 + 10 + 0 + 1 + 3) * 15
    ax = dash.figure.axes[0]
    low, high = ax.get_xlim()  # fitted to the month, not several years around it
    assert low < mdates.date2num(np.datetime64("2024-06-01")) < high and high - low <= 62
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024-06"]
    set_window(dash, D(2024, 6, 4), D(2024, 6, 4))  # one day, per day: one point as well
    dash.controls["freq"].value = "D"
    lines = _visible_lines(ax)
    assert lines and all(line.get_marker() not in (None, "None", "", " ") for line in lines)
    low, high = ax.get_xlim()
    assert low < mdates.date2num(np.datetime64("2024-06-04")) < high and high - low <= 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024-06-04"]


def test_the_export_has_the_columns_of_the_reports_daily_csv(dash, tmp_path, stats):
    from jmlink_analytics.report import write_report

    write_report(stats, make_links(), tmp_path / "report", formats=("csv",))
    daily = pd.read_csv(tmp_path / "report" / "daily.csv", encoding="utf-8-sig")
    dash.controls["links"].value = ("AAAA",)
    written = pd.read_csv(dash.export(tmp_path / "sel.csv"), encoding="utf-8-sig")
    assert list(written.columns) == list(daily.columns)
    assert {"name", "channel", "ctr", "open_rate", "install_rate"} <= set(written.columns)
    assert set(written["name"]) == {"春节活动"} and set(written["channel"]) == {"微信"}
    expected = daily[daily["link_key"] == "AAAA"].reset_index(drop=True)
    pd.testing.assert_frame_equal(written, expected)


def test_the_dashboard_counts_by_the_public_platform_rule(monkeypatch):
    """The rule lives in metrics (platform_mask); the dashboard follows it rather than a copy of its own."""
    import jmlink_analytics.metrics as metrics
    import jmlink_analytics.metrics._groups as groups

    mixed = make_stats()
    summed = mixed.groupby(["link_key", "date"], observed=True, as_index=False)[COUNTERS].sum()
    mixed = pd.concat([mixed, summed.assign(platform="all", click_count=summed["click_count"] + 1)],
                      ignore_index=True)
    calls = []

    def other_rule(frame, stat_cols):  # a different rule: per-platform rows only, never "all"
        if "platform" not in frame.columns:  # the selection's daily sums, summarized: every row counts
            return None
        calls.append(len(frame))
        return (frame["platform"] != "all").to_numpy()

    monkeypatch.setattr(groups, "platform_mask", other_rule)  # where metrics' own functions look it up
    monkeypatch.setattr(metrics, "platform_mask", other_rule)  # the public seam the dashboard imports (issue 17)
    dash = Dashboard(mixed)
    assert calls == [len(mixed)]
    assert figures(dash)["click_count"] == (4 + 6 + 10 + 0 + 1 + 3) * 15  # ios + android, as the rule says


def test_a_window_of_partial_days_only_shows_no_change(dash):
    set_window(dash, D(2024, 6, 10), D(2024, 6, 10))  # 06-10 is partial: nothing complete to compare
    assert figures(dash)["click_count"] == (4 + 6 + 10 + 0 + 1 + 3) * 2
    assert dash.headline_figures[["previous", "change", "pct_change", "compared"]].isna().all().all()
    assert "no change is shown: only partial days (the day is partial" in dash.headline.value
    assert "no previous period" in dash.headline.value and "▼" not in dash.headline.value


# ---------------------------------------------------------------------------- what a user sees (issue 20)
@pytest.mark.parametrize("name", ["sel.txt", "sel", "report.csv.bak", "sel.xls"])
def test_export_refuses_a_name_it_would_not_write_faithfully(dash, tmp_path, name):
    target = tmp_path / name
    with pytest.raises(ValueError, match=r"must end in \.csv \(CSV\) or \.xlsx") as info:
        dash.export(target)
    assert repr(str(target)) in str(info.value)
    dash.controls["export_path"].value = str(target)
    dash.export_button.click()
    assert "Export failed: the export path must end in .csv" in dash.export_status.value
    assert list(tmp_path.iterdir()) == []  # nothing written under a name that says another format
    assert dash.export(tmp_path / "SEL.CSV").is_file()  # the suffix's case does not matter


def _inside_the_figure(figure, artist) -> bool:
    box = artist.get_window_extent(figure.canvas.get_renderer())
    return box.x0 >= 0 and box.y0 >= 0 and box.x1 <= figure.bbox.x1 and box.y1 <= figure.bbox.y1


def test_the_week_view_shows_its_x_label_whole(dash):
    dash.controls["freq"].value = "W"
    ax = dash.figure.axes[0]
    dash.figure.canvas.draw()
    assert ax.get_xlabel() == "week starting Monday"
    assert _inside_the_figure(dash.figure, ax.xaxis.label)  # not cut off under the two-line tick labels
    assert all(_inside_the_figure(dash.figure, t) for t in ax.get_xticklabels() if t.get_text())


def test_top_links_header_cells_are_padded_apart(dash):
    headers = dash.table.value.split("<tbody>")[0]
    cells = headers.count("<th style")
    assert cells == 1 + 3 + 4 + 3  # #, link, name, channel, the counters and the rates
    assert headers.count("<th style=\"padding:") == cells  # "Channel" and "Exposures" never run together


def long_stats(days: int = 200) -> pd.DataFrame:
    from .helpers_frames import series_frame

    values = {f"L{i}": [50 * (i + 1)] * days for i in range(4)}
    frames = [series_frame(values, start="2024-01-01", platform=p) for p in ("ios", "android")]
    return pd.concat(frames, ignore_index=True)


def test_a_long_window_is_drawn_a_week_per_point_unless_a_period_is_picked():
    stats = long_stats(200)
    dash = Dashboard(stats)
    assert dash.controls["freq"].value == "auto"
    (line,) = [line for line in dash.figure.axes[0].get_lines() if line.get_linestyle() == "-"]
    assert len(line.get_xdata()) == stats["date"].dt.to_period("W-SUN").nunique()  # 200 days: weeks
    assert dash.figure.axes[0].get_title().startswith("Clicks per week")
    dash.controls["freq"].value = "D"  # asked for: days, at any range
    assert len(dash.figure.axes[0].get_lines()[0].get_xdata()) == 200
    dash.controls["freq"].value = "auto"
    set_window(dash, D(2024, 5, 1), D(2024, 5, 30))  # a month: days again
    assert len(dash.figure.axes[0].get_lines()[0].get_xdata()) == 30
    assert dash.figure.axes[0].get_title().startswith("Clicks per day")


def test_picked_links_have_no_line_before_they_were_created(tmp_path):
    stats = long_stats(60)
    links = pd.DataFrame({"link_key": ["L0", "L1", "L2", "L3"], "name": ["a", "b", "c", "d"],
                          "create_time": [pd.Timestamp("2023-06-01"), pd.Timestamp("2024-01-20 10:00"),
                                          pd.Timestamp("2024-02-10"), pd.NaT]})
    late = stats["date"] < pd.Timestamp("2024-01-20")
    stats.loc[late & (stats["link_key"] == "L1"), COUNTERS] = 0  # the API's zeros before the link existed
    dash = Dashboard(stats, links)
    dash.controls["links"].value = ("L0", "L1", "L3")
    lines = {line.get_label().split()[0]: line for line in dash.figure.axes[0].get_lines()
             if not line.get_label().startswith("_")}
    days = pd.DatetimeIndex(lines["L1"].get_xdata())
    y = np.asarray(lines["L1"].get_ydata(), dtype=np.float64)
    created = pd.Timestamp("2024-01-20")
    assert np.isnan(y[days < created]).all() and np.isfinite(y[days >= created]).all()
    assert np.isfinite(np.asarray(lines["L0"].get_ydata(), dtype=np.float64)).all()
    assert np.isfinite(np.asarray(lines["L3"].get_ydata(), dtype=np.float64)).all()  # no create_time: all drawn
    assert list(pd.read_csv(dash.export(tmp_path / "x.csv"), encoding="utf-8-sig").columns)[:3] == [
        "link_key", "name", "channel"]  # the export keeps daily.csv's columns (no create_time)


def test_a_long_legend_is_inside_the_figure():
    stats = long_stats(30)
    links = pd.DataFrame({"link_key": ["L0", "L1", "L2", "L3"],
                          "name": ["一个很长很长的链接名字", "二", "三", "四"]})
    stats = stats.assign(is_partial=stats["date"] >= pd.Timestamp("2024-01-29"))
    dash = Dashboard(stats, links)
    dash.controls["links"].value = ("L0", "L1", "L2", "L3")
    legend = dash.figure.axes[0].get_legend()
    assert len(legend.get_texts()) == 5  # four links and the dashed note: outside, on the right
    dash.figure.canvas.draw()
    assert _inside_the_figure(dash.figure, legend)


def test_the_platform_buttons_show_their_whole_labels(stats):
    # seen in Chromium under Voila: at 80px the first button read "All platf…" (issue 20, what users see).
    # A label fits when its width in the widgets' 13px sans font plus the button's 2 x 12px padding does.
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    both = pd.concat([stats, stats.assign(platform="all")], ignore_index=True)
    toggle = Dashboard(both).controls["platform"]
    width = float(toggle.style.button_width.removesuffix("px"))
    labels = [label for label, _value in toggle.options]
    assert labels == ["All platforms", "iOS", "Android"]  # the labels of schema.PLATFORM_LABELS
    measure = TextToPath().get_text_width_height_descent
    for label in labels:
        assert measure(label, FontProperties(family="DejaVu Sans", size=13), ismath=False)[0] + 24 <= width


def test_the_caption_names_the_platforms_as_the_charts_do(stats):
    # one label per platform: schema.PLATFORM_LABELS, as on the toggle and the charts (it said "all platforms")
    total = stats.groupby(["link_key", "date"], observed=True)[COUNTERS].sum().reset_index().assign(platform="all")
    assert "links · All platforms ·" in Dashboard(total).headline.value
