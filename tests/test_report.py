"""write_report: the folder a colleague receives (every file readable, charts valid, the page self-contained)."""

from __future__ import annotations

import datetime as dt
import re
import struct
import sys

import pandas as pd
import pytest

from jmlink_analytics import fetch_links, fetch_stats, write_report

from .conftest import TODAY

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL_NAME = '=HYPERLINK("http://evil.example")<script>alert(1)</script> & 微信'
SOURCE = "https://app-key:not-a-real-secret@api.example.com"
CSV_FILES = ["links.csv", "daily.csv", "summary_by_link.csv", "summary_by_channel.csv", "summary_by_platform.csv",
             "period_comparison.csv", "anomalies.csv"]
CHART_FILES = [f"charts/{name}.png" for name in ("trend", "funnel", "channels", "platforms", "heatmap")]
START = TODAY - dt.timedelta(days=27)
HISTORY_START = START - dt.timedelta(days=28)  # the 28 days before, as `jmlink-analytics report` fetches them
COUNTERS = ["exposure_count", "click_count", "open_count", "install_count"]


@pytest.fixture(scope="module")
def history(sandbox):
    """56 days of ios + android stats of the shared test sandbox (the last two partial), and its links
    (one with a hostile name)."""
    with sandbox.client() as client:
        links = fetch_links(client)
        stats = fetch_stats(client, start=HISTORY_START, end=TODAY, platform=["ios", "android"], progress=False)
    # as if fetched on TODAY (the sandbox's today is fixed; fetch_stats marks partial days by the real clock)
    stats["is_partial"] = stats["date"] >= pd.Timestamp(TODAY - dt.timedelta(days=1))
    links["name"] = links["name"].astype(object)
    links.loc[0, "name"] = EVIL_NAME
    return stats, links


@pytest.fixture(scope="module")
def frames(history):
    """The report's 28 days of ``history``, and its links."""
    stats, links = history
    return stats[stats["date"] >= pd.Timestamp(START)].reset_index(drop=True), links


@pytest.fixture(scope="module")
def report(history, tmp_path_factory):
    """One full report (csv, png, html, parquet) of the 28 days START..TODAY, with the 28 days before them
    to compare with; written once for the module's tests."""
    stats, links = history
    out = tmp_path_factory.mktemp("report")
    written = write_report(stats, links, out, formats=("csv", "png", "html", "parquet"), source=SOURCE,
                           period=(START, TODAY))
    return out, written


def read(out, name, **kwargs):
    return pd.read_csv(out / name, encoding="utf-8-sig", **kwargs)


def test_every_file_is_written_and_returned(report):
    out, written = report
    expected = [*CSV_FILES, "daily.parquet", *CHART_FILES, "index.html"]
    assert sorted(written) == sorted(expected)
    for name, path in written.items():
        assert path == out / name and path.is_file() and path.stat().st_size > 0
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(n for n in expected if "/" not in n)


def test_the_csv_files_are_readable_and_add_up(report, frames):
    out, _ = report
    stats, links = frames
    for name in CSV_FILES:
        assert (out / name).read_bytes().startswith(b"\xef\xbb\xbf"), name
        assert not read(out, name).empty, name
    assert len(read(out, "links.csv")) == len(links)
    daily = read(out, "daily.csv")
    assert len(daily) == len(stats)
    assert {"name", "channel", "ctr", "open_rate", "install_rate"} <= set(daily.columns)
    assert daily["date"].min() == f"{START:%Y-%m-%d}" and daily["date"].max() == f"{TODAY:%Y-%m-%d}"
    # ios + android are summed once for the overall tables, never double counted
    totals = stats[COUNTERS].sum()
    for name, key in (("summary_by_link.csv", "link_key"), ("summary_by_channel.csv", "channel"),
                      ("summary_by_platform.csv", "platform")):
        table = read(out, name)
        assert table[COUNTERS].sum().tolist() == totals.tolist(), name
        assert table[key].is_unique, name
    assert set(read(out, "summary_by_platform.csv")["platform"]) == {"ios", "android"}


def test_the_period_comparison_is_the_complete_days_against_as_many_before(report, history):
    # issue 20: a report of N days compares its complete days with as many days before them (fetched too),
    # not "the last 7 complete days" (or halves of a short range)
    out, _ = report
    stats, _ = history
    comparison = read(out, "period_comparison.csv").set_index("link_key")
    last_complete = TODAY - dt.timedelta(days=2)  # today and yesterday are partial

    def clicks(first, last):
        window = stats[(stats["date"] >= pd.Timestamp(first)) & (stats["date"] <= pd.Timestamp(last))]
        return window.groupby("link_key", observed=True)["click_count"].sum()

    current = clicks(START, last_complete)  # 26 complete days
    previous = clicks(START - dt.timedelta(days=26), START - dt.timedelta(days=1))
    page = (out / "index.html").read_text(encoding="utf-8")
    assert (f"the 26 complete days {START:%Y-%m-%d} to {last_complete:%Y-%m-%d} against the 26 before "
            f"({START - dt.timedelta(days=26):%Y-%m-%d} to {START - dt.timedelta(days=1):%Y-%m-%d})") in page
    for key in current.index:
        assert comparison.loc[key, "click_count_current"] == current[key]
        assert comparison.loc[key, "click_count_previous"] == previous[key]


def test_text_is_neutralized_in_the_csv_files_and_numbers_are_not(report):
    out, _ = report
    links = read(out, "links.csv", keep_default_na=False)
    assert links.loc[0, "name"] == "'" + EVIL_NAME
    daily = read(out, "daily.csv", keep_default_na=False)
    assert set(daily.loc[daily["name"].str.contains("HYPERLINK"), "name"]) == {"'" + EVIL_NAME}
    assert pd.api.types.is_integer_dtype(daily["click_count"])


def test_the_charts_are_valid_pngs(report):
    import matplotlib.image

    out, _ = report
    for name in CHART_FILES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 400 and height >= 250, name
        assert len(data) > 5_000, name
        pixels = matplotlib.image.imread(out / name)
        assert pixels.shape[:2] == (height, width)
        assert pixels.std() > 0.01, f"{name} is blank"


def test_the_page_is_self_contained_and_embeds_its_charts(report, sandbox):
    out, written = report
    page = (out / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'\bsrc\s*=\s*"([^"]*)"', page)
    assert len(sources) == len(CHART_FILES)
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    embedded = {src.split(",", 1)[1] for src in sources}
    import base64

    assert embedded == {base64.b64encode(written[name].read_bytes()).decode() for name in CHART_FILES}
    assert not re.search(r"\bhref\s*=", page)
    assert not re.search(r"<script|<link|<iframe|@import|url\(", page, re.IGNORECASE)


def test_the_page_names_no_credential(report, sandbox):
    out, _ = report
    page = (out / "index.html").read_text(encoding="utf-8")
    assert sandbox.master_secret not in page
    assert "not-a-real-secret" not in page and "app-key" not in page  # user:password of the source URL removed
    assert "Authorization" not in page and "Basic " not in page
    assert "https://api.example.com" in page  # the source, without its credentials


def test_the_page_shows_range_figures_and_escaped_tables(report, frames):
    out, _ = report
    stats, _ = frames
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f"{START:%Y-%m-%d} to {TODAY:%Y-%m-%d}" in page
    assert f"{int(stats['click_count'].sum()):,}" in page  # the headline total of clicks
    assert "Made " in page and "(UTC+8)" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 微信" in page
    for heading in ("Channels", "Platforms", "Top links by clicks", "Biggest changes", "Anomalies"):
        assert f"<h2>{heading}" in page


def test_daily_parquet_keeps_types_and_every_row(report, frames):
    out, _ = report
    stats, _ = frames
    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == len(stats)
    assert pd.api.types.is_datetime64_any_dtype(daily["date"])
    assert daily["click_count"].sum() == stats["click_count"].sum()
    assert EVIL_NAME in set(daily["name"])  # Parquet is data for DuckDB/Spark, not Excel: text as it is


def test_parquet_without_pyarrow_is_a_clear_import_error(frames, tmp_path, monkeypatch):
    stats, links = frames
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'jmlink-analytics\[parquet\]'"):
        write_report(stats, links, tmp_path / "r", formats=("csv", "parquet"))
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("formats", [("csv", "pdf"), (), ["xls"], ("csv", 1)])
def test_unknown_formats_are_refused_naming_the_allowed_ones(frames, tmp_path, formats):
    stats, links = frames
    with pytest.raises(ValueError, match="'csv', 'png', 'html', 'parquet', 'xlsx'"):
        write_report(stats, links, tmp_path / "r", formats=formats)
    assert not (tmp_path / "r").exists()


def test_bad_inputs_are_refused(frames, tmp_path):
    stats, links = frames
    with pytest.raises(ValueError, match="no rows"):
        write_report(stats.iloc[:0], links, tmp_path)
    with pytest.raises(ValueError, match="click_count"):
        write_report(stats.drop(columns="click_count"), links, tmp_path)
    with pytest.raises(ValueError, match="encoding"):
        write_report(stats, links, tmp_path, encoding="gbk")
    assert list(tmp_path.iterdir()) == []


def test_one_platform_has_no_platform_table_and_stale_files_go(frames, tmp_path):
    stats, links = frames
    out = tmp_path / "r"
    write_report(stats, links, out, formats="csv")
    assert (out / "summary_by_platform.csv").is_file()
    ios = stats[stats["platform"] == "ios"].reset_index(drop=True)
    written = write_report(ios, links, out, formats=["csv"], encoding="utf-8")
    assert "summary_by_platform.csv" not in written
    assert not (out / "summary_by_platform.csv").exists()  # left from the split report: removed
    assert not (out / "daily.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert read(out, "summary_by_link.csv")["click_count"].sum() == ios["click_count"].sum()


def test_all_platform_rows_are_used_as_they_are(frames, tmp_path, sandbox):
    _, links = frames
    with sandbox.client() as client:
        stats = fetch_stats(client, start=START, end=TODAY, platform=["all", "ios", "android"], progress=False)
    written = write_report(stats, links, tmp_path, formats=("csv",))
    overall = stats[stats["platform"] == "all"]
    assert read(tmp_path, "summary_by_channel.csv")["click_count"].sum() == overall["click_count"].sum()
    assert set(read(tmp_path, "summary_by_platform.csv")["platform"]) == {"ios", "android"}
    assert "daily.csv" in written and len(read(tmp_path, "daily.csv")) == len(stats)


def test_without_links_every_link_has_no_channel(frames, tmp_path):
    stats, _ = frames
    written = write_report(stats, None, tmp_path, formats=("csv",))
    assert "links.csv" not in written
    channels = read(tmp_path, "summary_by_channel.csv")
    assert channels["channel"].tolist() == ["(none)"]
    assert channels["click_count"].sum() == stats["click_count"].sum()


def test_a_mixed_table_counts_each_link_once_like_summarize(frames, sandbox, tmp_path):
    """Half the links fetched with "all", the other half only split: each link counted once, as metrics does."""
    from jmlink_analytics import summarize

    split, links = frames
    keys = sorted(split["link_key"].astype(str).unique())
    with sandbox.client() as client:
        with_all = fetch_stats(client, keys[: len(keys) // 2], start=START, end=TODAY, progress=False)
    mixed = pd.concat([with_all, split], ignore_index=True)
    write_report(mixed, links, tmp_path, formats=("csv",))
    by_link = read(tmp_path, "summary_by_link.csv").set_index("link_key")[COUNTERS].sort_index()
    expected = summarize(mixed, by="link_key").set_index("link_key")[COUNTERS].sort_index()
    expected.index = expected.index.astype(str)
    assert by_link.to_numpy().tolist() == expected.to_numpy().tolist()
    assert by_link.index.tolist() == expected.index.tolist() == keys
    # the split rows of the links fetched with "all" add up to those "all" rows, so totals equal the split total
    assert by_link.to_numpy().sum(axis=0).tolist() == split[COUNTERS].sum().tolist()


# ------------------------------------------------------------------- changes, anomalies, fonts (issue 14)
def test_the_period_comparison_speaks_one_vocabulary_of_changes(report):
    out, _ = report
    comparison = read(out, "period_comparison.csv")
    assert not [c for c in comparison.columns if c.endswith("_pct_change")]  # no fraction named "pct"
    for counter in COUNTERS:
        assert {f"{counter}_change", f"{counter}_rel_change"} <= set(comparison.columns)
        assert f"{counter}_change_pp" not in comparison.columns
    for rate in ("ctr", "open_rate", "install_rate"):
        assert f"{rate}_change_pp" in comparison.columns and f"{rate}_rel_change" not in comparison.columns
    row = comparison[comparison["click_count_previous"] > 0].iloc[0]
    assert row["click_count_rel_change"] == pytest.approx(
        row["click_count_current"] / row["click_count_previous"] - 1, abs=1e-6)  # a fraction
    both = comparison.dropna(subset=["ctr_current", "ctr_previous"]).iloc[0]
    assert both["ctr_change_pp"] == pytest.approx((both["ctr_current"] - both["ctr_previous"]) * 100, abs=1e-4)


def test_the_page_shows_changes_as_percent_for_counts_and_points_for_rates(report):
    out, _ = report
    page = (out / "index.html").read_text(encoding="utf-8")
    cards = page[page.index('<section class="cards">'):page.index("</section>")]
    assert re.search(r"Clicks</div>.*?\(<span[^>]*>[+-]?[\d,]+\.\d%</span>", cards)  # +1,152.9% as well
    assert re.search(r"CTR \(clicks / exposures\)</div>.*?\(<span[^>]*>([+-]\d+\.\d|0\.0) pp</span>", cards)
    assert "-0.0" not in page and "points" not in cards
    changes = page[page.index("<h2>Biggest changes"):page.index("<h2>Anomalies")]
    assert re.search(r">[+-]\d+\.\d pp<", changes) and re.search(r">[+-]\d+\.\d%<", changes)


def test_the_anomalies_are_episodes_and_the_page_shows_top_surges_and_top_drops(report):
    out, _ = report
    anomalies = read(out, "anomalies.csv")
    assert list(anomalies.columns[:7]) == ["link_key", "name", "channel", "start", "end", "days", "direction"]
    assert {"expected", "actual", "change", "score"} <= set(anomalies.columns)
    assert set(anomalies["direction"]) <= {"surge", "drop"}
    assert anomalies["impact"].abs().is_monotonic_decreasing  # the largest first (issue 20)
    assert (pd.to_datetime(anomalies["end"]) >= pd.Timestamp(START)).all()  # none wholly in the history
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<h3>Top surges</h3>" in page and "<h3>Top drops</h3>" in page
    assert page.index("<h3>Top surges</h3>") < page.index("<h3>Top drops</h3>")


def test_the_planted_surges_of_the_cli_sandbox_top_the_30_day_report(tmp_path):
    from jmlink_analytics.cli._commands import SANDBOX_OPTIONS
    from jmlink_analytics.sandbox import Sandbox

    with Sandbox(**SANDBOX_OPTIONS, today=dt.date(2026, 12, 1)) as sandbox, sandbox.client() as client:
        stats = fetch_stats(client, start=dt.date(2026, 11, 2), end=dt.date(2026, 12, 1), progress=False,
                            platform=["ios", "android"])
        planted = {(key, pd.Timestamp(day)) for key, day in sandbox.app.spikes
                   if pd.Timestamp(day) >= pd.Timestamp("2026-11-09")}  # 7 days of history before them
    stats["is_partial"] = stats["date"] >= pd.Timestamp("2026-11-30")
    write_report(stats, None, tmp_path, formats=("csv",))
    anomalies = read(tmp_path, "anomalies.csv", parse_dates=["start"])
    surges = anomalies[anomalies["direction"] == "surge"]
    assert len(planted) == 2
    assert {(k, d) for k, d in zip(surges["link_key"].head(3), surges["start"].head(3), strict=True)} >= planted
    assert surges["days"].head(3).min() == 1


def test_a_one_day_report_draws_every_chart(frames, tmp_path):
    import matplotlib.image

    stats, links = frames
    one = stats[stats["date"] == stats["date"].max()]
    write_report(one, links, tmp_path, formats=("png", "html"))
    for name in ("trend", "platforms"):
        pixels = matplotlib.image.imread(tmp_path / "charts" / f"{name}.png")
        assert pixels.std() > 0.01, name
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "No surges can be found in 1 days" not in page and "1 day ·" in page
    assert "No surges can be found in 1 day" in page and "a link needs 7 days of history" in page


def test_one_formatter_shows_a_missing_value_the_same_in_the_report_and_the_dashboard():
    from jmlink_analytics.display import MISSING, format_cell
    from jmlink_analytics.report._page import table_html as report_table
    from jmlink_analytics.widgets._view import fmt_value
    from jmlink_analytics.widgets._view import table_html as dashboard_table

    table = pd.DataFrame({"link_key": ["A"], "name": [None], "channel": ["微信"], "exposure_count": [0],
                          "click_count": [0], "open_count": [0], "install_count": [0], "ctr": [float("nan")],
                          "open_rate": [float("nan")], "install_rate": [float("nan")]})
    assert fmt_value("ctr", float("nan")) == format_cell(None, "rate") == MISSING == "–"
    for html in (report_table(table, list(table.columns), top=5), dashboard_table(table, "click_count")):
        assert html.count(f">{MISSING}<") == 4  # the name and the three rates
    assert format_cell(-0.0004, "pp") == "0.0 pp" and format_cell(0.25, "change") == "+25.0%"


def test_without_a_cjk_font_the_report_prints_one_warning_and_no_glyph_warnings(tmp_path):
    code = ("import sys\n"
            "import jmlink_analytics.plotting._fonts as fonts\n"
            "fonts.find_cjk_font = lambda: None  # as on a machine without a Chinese font\n"
            "from jmlink_analytics.cli import main\n"
            f"sys.exit(main(['report', '--sandbox', '--days', '7', '--no-progress', '--out', {str(tmp_path)!r}]))\n")
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("no CJK-capable font found") == 1
    assert "Glyph" not in done.stderr and "missing from" not in done.stderr
    assert (tmp_path / "charts" / "channels.png").is_file()


def test_make_report_ensures_a_cjk_font_like_make_test():
    import pathlib
    import subprocess

    root = pathlib.Path(__file__).resolve().parent.parent
    for target in ("report", "test"):
        done = subprocess.run(["make", "-n", target], cwd=root, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        commands = done.stdout
        assert "scripts/ensure-cjk-font.sh" in commands, target
        assert commands.index("ensure-cjk-font.sh") < commands.index("jmlink-analytics report" if target == "report"
                                                                       else "-m pytest"), target


# ------------------------------------------------------------- issue 20: every range reports, N days against N
CLI_TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def cli_app():
    """The app `jmlink-analytics report --sandbox` serves, on a fixed day: 730 days of ios + android and its links."""
    from jmlink_analytics.cli._commands import SANDBOX_OPTIONS
    from jmlink_analytics.sandbox import Sandbox

    with Sandbox(**SANDBOX_OPTIONS, today=CLI_TODAY) as sandbox, sandbox.client() as client:
        links = fetch_links(client)
        stats = fetch_stats(client, start=CLI_TODAY - dt.timedelta(days=729), end=CLI_TODAY, progress=False,
                            platform=["ios", "android"])
    stats["is_partial"] = stats["date"] >= pd.Timestamp(CLI_TODAY - dt.timedelta(days=1))
    return stats, links


@pytest.mark.parametrize("days", [1, 2, 3, 7, 30, 365])
def test_every_range_reports_and_compares_equal_periods(cli_app, days, tmp_path):
    stats, links = cli_app
    start = CLI_TODAY - dt.timedelta(days=days - 1)
    fetched = stats[stats["date"] >= pd.Timestamp(start - dt.timedelta(days=days))]  # what the CLI fetches
    written = write_report(fetched, links, tmp_path, formats=("csv", "html"), period=(start, CLI_TODAY))
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f"{start:%Y-%m-%d} to {CLI_TODAY:%Y-%m-%d}" in page
    daily = read(tmp_path, "daily.csv")
    assert daily["date"].min() == f"{start:%Y-%m-%d}"  # the days before the period are not reported
    complete = days - 2  # today and yesterday are partial
    if complete < 1:
        assert "period_comparison.csv" not in written
        # said once: it read "No change is shown: only partial days: no change is shown (...)" when the
        # note carried the words too
        assert "No change is shown: only partial days (" in page and page.count("no change is shown") == 0
        return
    comparison = read(tmp_path, "period_comparison.csv")
    before = start - dt.timedelta(days=complete)
    last = CLI_TODAY - dt.timedelta(days=2)
    assert (f"the {complete:,} complete day{'s' if complete > 1 else ''} {start:%Y-%m-%d} to {last:%Y-%m-%d} "
            f"against the {complete:,} before ({before:%Y-%m-%d} to {start - dt.timedelta(days=1):%Y-%m-%d})") in page
    window = stats[(stats["date"] >= pd.Timestamp(before)) & (stats["date"] < pd.Timestamp(start))]
    assert comparison["click_count_previous"].sum() == window["click_count"].sum()
    now = stats[(stats["date"] >= pd.Timestamp(start)) & (stats["date"] <= pd.Timestamp(last))]
    assert comparison["click_count_current"].sum() == now["click_count"].sum()


@pytest.mark.parametrize("days", [1, 2])
def test_a_short_frame_without_history_reports_with_a_note(cli_app, days, tmp_path):
    stats, links = cli_app
    short = stats[stats["date"] > pd.Timestamp(CLI_TODAY - dt.timedelta(days=days))]  # the bug: "nothing to compare"
    written = write_report(short, links, tmp_path, formats=("csv", "html"))
    assert "period_comparison.csv" not in written and "index.html" in written
    assert "No change is shown" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_a_month_without_history_says_how_to_compare(cli_app, tmp_path):
    stats, links = cli_app
    month = stats[stats["date"] > pd.Timestamp(CLI_TODAY - dt.timedelta(days=30))]
    write_report(month, links, tmp_path, formats=("html",))
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "No change is shown: no previous 28 days in the data" in page and "period=(start, end)" in page


def test_the_longest_outage_of_the_year_is_among_the_top_drops(cli_app, tmp_path):
    from jmlink_analytics.report._page import ANOMALY_ROWS

    stats, links = cli_app
    start = CLI_TODAY - dt.timedelta(days=364)
    write_report(stats, links, tmp_path, formats=("csv", "html"), period=(start, CLI_TODAY))
    anomalies = read(tmp_path, "anomalies.csv")
    drops = anomalies[anomalies["direction"] == "drop"].reset_index(drop=True)
    longest = int(drops["days"].idxmax())
    assert drops["days"].iloc[longest] >= 60  # the 63- and 68-day outages of the issue
    assert longest < ANOMALY_ROWS  # on the page, not 29th
    assert drops["expected"].dtype.kind == "i" and drops["actual"].dtype.kind == "i"
    text = read(tmp_path, "anomalies.csv", dtype=str)
    assert not text[["expected", "actual", "impact"]].apply(lambda c: c.str.contains(".", regex=False)).any().any()
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    top = page[page.index("<h3>Top drops</h3>"):]
    assert f">{drops['link_key'].iloc[longest]}</td>" in top.split("</table>")[0]


def test_report_tables_label_the_platforms_as_the_charts_do(report):
    out, _ = report
    page = (out / "index.html").read_text(encoding="utf-8")
    platforms = page[page.index("<h2>Platforms</h2>"):page.index("<h2>Top links")]
    assert ">iOS</td>" in platforms and ">Android</td>" in platforms and ">ios</td>" not in platforms


def test_the_workbook_labels_the_platforms_and_the_csv_keeps_the_api_values(frames, tmp_path):
    # one label per platform (issue 20: "tables say android/ios where charts say Android/iOS")
    import openpyxl

    stats, links = frames
    write_report(stats, links, tmp_path, formats=("csv", "html", "xlsx"))
    sheet = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)["by platform"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if "Platform" in row)
    column = rows[header].index("Platform")
    assert sorted(row[column] for row in rows[header + 1:] if row[column] is not None) == ["Android", "iOS"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert ">ios<" not in page and ">android<" not in page and ">iOS</td>" in page
    assert sorted(read(tmp_path, "summary_by_platform.csv")["platform"]) == ["android", "ios"]  # machine data
    assert set(read(tmp_path, "daily.csv")["platform"]) == {"ios", "android"}


def test_a_previous_period_without_any_traffic_is_named_as_the_reason_for_no_change(history, tmp_path):
    # seen in the 365-day report of the CLI sandbox (links younger than a year): every card read "– vs ..."
    stats, links = history
    stats = stats.copy()
    stats.loc[stats["date"] < pd.Timestamp(START), ["exposure_count", "click_count", "open_count",
                                                    "install_count"]] = 0
    write_report(stats, links, tmp_path, formats=("html",), period=(START, TODAY))
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "before have no exposures, clicks, opens or installs" in page and "shows as –" in page
    write_report(history[0], links, tmp_path, formats=("html",), period=(START, TODAY))  # with traffic: no such note
    assert "before have no exposures" not in (tmp_path / "index.html").read_text(encoding="utf-8")
