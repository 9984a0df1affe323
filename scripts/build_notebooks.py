"""Write the notebooks in ``notebooks/`` from the cell sources below, without outputs.

The notebooks are generated, not hand-edited, so they stay reviewable as code and are saved
clean (no outputs, so no credential or error can be saved in them). Run from the repository root:

    .venv/bin/python -m scripts.build_notebooks            # (re)write notebooks/*.ipynb
    .venv/bin/python -m scripts.build_notebooks --check    # exit 1 if a saved notebook differs

``tests/test_notebooks.py`` executes every notebook headless and checks the saved files equal
what this script builds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: Sandbox size of the notebooks when no credentials are set: small, so each runs in seconds.
SANDBOX = "jm.Sandbox(links=60, days=90, seed=0)"

CONNECT = f'''\
import datetime as dt
import os

import matplotlib.pyplot as plt
import pandas as pd

import jmlink_analytics as jm

if os.environ.get("JMLINK_APP_KEY") and os.environ.get("JMLINK_MASTER_SECRET"):
    sandbox = None
    client = jm.JMLinkClient.from_env()  # also reads JMLINK_BASE_URL when set
    print(f"Using your JMLink app (credentials from the environment) at {{client.base_url}}.")
else:
    sandbox = {SANDBOX}
    sandbox.start()
    client = sandbox.client()
    print("JMLINK_APP_KEY / JMLINK_MASTER_SECRET are not set: using the built-in sandbox app "
          f"(60 synthetic links, 90 days of stats) at {{sandbox.base_url}}.")

today = pd.Timestamp.now(tz="Asia/Shanghai").date()  # the API counts days in China time (UTC+8)
DAYS = 30  # the period we look at; the one before it is for comparison'''

FETCH = '''\
links = jm.fetch_links(client)
stats = jm.fetch_stats(client, start=today - dt.timedelta(days=2 * DAYS - 1), platform=["ios", "android"])
current = stats[stats["date"] > pd.Timestamp(today - dt.timedelta(days=DAYS))]  # the last DAYS days
print(f"{len(links)} links; {len(stats):,} daily rows from {stats['date'].min():%Y-%m-%d} "
      f"to {stats['date'].max():%Y-%m-%d}, iOS and Android apart")'''

CLOSE = '''\
client.close()
if sandbox is not None:
    sandbox.stop()'''


def quickstart() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# Quickstart: which of my short links bring clicks, opens and installs?\n\n"
            "This notebook connects to JMLink (your app when `JMLINK_APP_KEY` and `JMLINK_MASTER_SECRET` "
            "are set, otherwise the built-in sandbox app), fetches your short links and their daily "
            "statistics, and answers the first questions: **which links and channels work, how iOS "
            "compares to Android, and how the funnel (exposure → click → open → install) looks over "
            "the last 30 days.**"
        ),
        new_code_cell(CONNECT),
        new_markdown_cell("## Your links\n\nOne row per short link, as the API lists them."),
        new_code_cell(
            'links = jm.fetch_links(client)\n'
            'print(f"{len(links)} links, created {links[\'create_time\'].min():%Y-%m-%d} '
            'to {links[\'create_time\'].max():%Y-%m-%d}")\n'
            'links[["link_key", "name", "channel", "jump_link_type", "create_time"]].head()'
        ),
        new_markdown_cell(
            "## Daily statistics\n\n"
            "The last 60 days, iOS and Android apart: one row per link, platform and day "
            "(days without activity are 0). Today's and yesterday's rows are partial."
        ),
        new_code_cell(
            'stats = jm.fetch_stats(client, start=today - dt.timedelta(days=2 * DAYS - 1), '
            'platform=["ios", "android"])\n'
            'print(f"{len(stats):,} rows, {stats[\'date\'].min():%Y-%m-%d} to {stats[\'date\'].max():%Y-%m-%d}")\n'
            "stats.tail()  # the newest rows: today's is partial"
        ),
        new_markdown_cell("## Top links of the last 30 days\n\nRates come from the sums: CTR = clicks / "
                          "exposures, open rate = opens / clicks, install rate = installs / clicks."),
        new_code_cell(
            'current = stats[stats["date"] > pd.Timestamp(today - dt.timedelta(days=DAYS))]\n'
            'jm.summarize(current, by=["link_key", "name", "channel"], links=links).head(10).round(3)'
        ),
        new_markdown_cell("## By channel and by platform"),
        new_code_cell('jm.summarize(current, by="channel", links=links).round(3)'),
        new_code_cell('jm.summarize(current, by="platform").round(3)'),
        new_markdown_cell("## Pictures"),
        new_code_cell(
            'fig, ax = plt.subplots(figsize=(10, 4), layout="constrained")\n'
            'jm.plot_trend(stats, "click_count", by="link_key", freq="W", top=5, links=links, ax=ax)\n'
            "plt.show()"
        ),
        new_code_cell(
            'fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")\n'
            "jm.plot_funnel(current, ax=left)\n"
            'jm.plot_breakdown(current, "install_count", by="channel", links=links, ax=right)\n'
            "plt.show()"
        ),
        new_code_cell(
            'fig, ax = plt.subplots(figsize=(10, 3.5), layout="constrained")\n'
            'jm.plot_platforms(stats, "click_count", freq="D", ax=ax)\n'
            "plt.show()"
        ),
        new_markdown_cell("Done: close the connection (and stop the sandbox, if one was started)."),
        new_code_cell(CLOSE),
    ]


def channel_report() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# Channel report: which channels and platforms convert, what changed, what looks off\n\n"
            "For the last 30 days against the 30 before: **how each channel and each platform moves "
            "people through the funnel (exposure → click → open → install), what changed since the "
            "previous period, which days were unusual**, and the CSV report for colleagues, written "
            "to `channel_report/` next to this notebook. Uses your app when `JMLINK_APP_KEY` and "
            "`JMLINK_MASTER_SECRET` are set, otherwise the built-in sandbox app."
        ),
        new_code_cell(CONNECT),
        new_code_cell(FETCH),
        new_markdown_cell(
            "## Channels through the funnel (last 30 days)\n\n"
            "Rates from the sums: CTR = clicks / exposures, open rate = opens / clicks, "
            "install rate = installs / clicks."
        ),
        new_code_cell('jm.summarize(current, by="channel", links=links).round(3)'),
        new_code_cell(
            'fig, ax = plt.subplots(figsize=(11, 4), layout="constrained")\n'
            'jm.plot_funnel(current, by="channel", links=links, ax=ax)\n'
            "plt.show()"
        ),
        new_markdown_cell("## iOS vs Android, and each channel on each platform"),
        new_code_cell('jm.funnel(current, by="platform").round(3)'),
        new_code_cell('jm.summarize(current, by=["channel", "platform"], links=links).round(3)'),
        new_code_cell(
            'fig, ax = plt.subplots(figsize=(10, 3.5), layout="constrained")\n'
            'jm.plot_platforms(stats, "install_count", freq="W", ax=ax)\n'
            "plt.show()"
        ),
        new_markdown_cell(
            "## This period vs the last, by channel\n\n"
            "Complete days only, as in the report: today's and yesterday's partial rows are left out "
            "(`include_partial=False`), so a still-growing day does not read as a drop; that leaves the "
            "last 28 complete days against the 28 before them. Counts change "
            "relatively (`*_rel_change`, a fraction: 0.25 is +25 %), rates by a difference in "
            "percentage points (`*_change_pp`)."
        ),
        new_code_cell(
            'change = jm.compare_periods(jm.join_links(stats, links), DAYS - 2, by="channel", include_partial=False)\n'
            'print("current:", *(f"{d:%Y-%m-%d}" for d in change.attrs["current"]), '
            '" previous:", *(f"{d:%Y-%m-%d}" for d in change.attrs["previous"]))\n'
            'change[["channel", "click_count_previous", "click_count_current", "click_count_rel_change",\n'
            '        "install_rate_previous", "install_rate_current", "install_rate_change_pp"]].round(3)'
        ),
        new_markdown_cell(
            "## Surges and drops\n\n"
            "Runs of days far from what each link's previous 14 days lead to expect on that weekday "
            "(a robust score; above 3.5 counts), one row per run (`start` to `end`), the most unusual "
            "first. Partial days are left out."
        ),
        new_code_cell(
            'anomalies = jm.find_anomalies(stats, "click_count")\n'
            'named = anomalies.merge(links[["link_key", "name", "channel"]], on="link_key", how="left")\n'
            'columns = ["link_key", "name", "channel", "start", "end", "days", "expected", "actual", "change",\n'
            '           "score"]\n'
            'print(f"{(anomalies[\'direction\'] == \'surge\').sum()} surges, "\n'
            '      f"{(anomalies[\'direction\'] == \'drop\').sum()} drops; the top surges:")\n'
            'named.loc[named["direction"] == "surge", columns].head(5).round({"expected": 0, "change": 2, "score": 1})'
        ),
        new_code_cell(
            'named.loc[named["direction"] == "drop", columns].head(5).round({"expected": 0, "change": 2, "score": 1})'
        ),
        new_markdown_cell("## The CSV report\n\nExcel-safe CSV (UTF-8 with BOM), charts and an HTML summary."),
        new_code_cell(
            'written = jm.write_report(stats, links, "channel_report")\n'
            "for name, path in written.items():\n"
            '    print(f"{name:<24} {path}")'
        ),
        new_code_cell(CLOSE),
    ]


DASHBOARD = ('dash = jm.dashboard(client, start=today - dt.timedelta(days=89), platform=["ios", "android"])\n'
             "dash")


def dashboard() -> list[nbformat.NotebookNode]:
    """The dashboard alone, so it opens the same in JupyterLab and under Voila (which runs every cell)."""
    return [
        new_markdown_cell(
            "# Dashboard: explore your links interactively\n\n"
            "**Which links, on which platform, over which dates, bring clicks, opens and installs, and "
            "how does that compare with the period before?** Filter and pick links, choose dates, "
            "platform, metric and period, read the headline and the top links, and export what you "
            "selected as CSV (a name ending in `.csv`) or a workbook (`.xlsx`). Uses your app when "
            "`JMLINK_APP_KEY` and `JMLINK_MASTER_SECRET` are set, otherwise the built-in sandbox app. "
            "Needs a Jupyter front end with ipywidgets (JupyterLab, Notebook 7, VS Code) or Voila "
            "(`voila notebooks/03_dashboard.ipynb`). Setting the controls from code is "
            "`04_dashboard_from_code.ipynb`."
        ),
        new_code_cell(CONNECT),
        new_markdown_cell(
            "The dashboard fetches 90 days of links and stats, iOS and Android apart. With nothing picked "
            "in *Links*, every link the filter matches is counted; the filter applies on Enter. *Per* "
            "*Auto* draws a point per day up to 90 days, per week beyond."
        ),
        new_code_cell(DASHBOARD),
        new_markdown_cell("The dashboard keeps its data: it still works after the connection is closed."),
        new_code_cell(CLOSE),
    ]


def dashboard_from_code() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell(
            "# The dashboard from code: set its controls, read its numbers, export its rows\n\n"
            "Everything the dashboard of `03_dashboard.ipynb` shows can be set and read from code: "
            "**the window and the metric, the headline's numbers and the change behind them, the top "
            "links, and the daily rows of the selection**, exported as CSV or a workbook. Uses your app "
            "when `JMLINK_APP_KEY` and `JMLINK_MASTER_SECRET` are set, otherwise the built-in sandbox app."
        ),
        new_code_cell(CONNECT),
        new_code_cell(DASHBOARD),
        new_markdown_cell(
            "The controls can be set from code too. `hold()` groups changes into one redraw: "
            "here, the last 14 days. As in the report, the change leaves out the partial days "
            "(today and yesterday, which may still grow) and compares the complete days with as "
            "many days before them; counts change in percent, rates in percentage points (pp)."
        ),
        new_code_cell(
            "with dash.hold():\n"
            '    dash.controls["start"].value = today - dt.timedelta(days=13)\n'
            '    dash.controls["end"].value = today\n'
            "figures = dash.headline_figures  # what the headline shows: current, compared, previous, change\n"
            'now, before = figures.attrs["compared"], figures.attrs["previous"]\n'
            'print(f"change: {now[0]:%Y-%m-%d} – {now[1]:%Y-%m-%d} (complete days) '
            'vs {before[0]:%Y-%m-%d} – {before[1]:%Y-%m-%d}")\n'
            'for metric in ["click_count", "install_count", "install_rate"]:\n'
            "    row = figures.loc[metric]\n"
            '    if metric.endswith("rate"):  # a rate changes in points: 2.0% -> 2.5% is +0.5 pp\n'
            '        value, change = f"{row[\'current\']:.1%}", f"{round(row[\'change\'] * 100, 1) + 0:+.1f} pp"\n'
            "    else:  # a count changes relatively\n"
            '        value, change = f"{row[\'current\']:,.0f}", f"{round(row[\'pct_change\'] * 100, 1) + 0:+.1f}%"\n'
            '    print(f"{metric:<14} {value:>10}  {change}")'
        ),
        new_markdown_cell("The top links by install rate, as the dashboard's table ranks them:"),
        new_code_cell(
            'dash.controls["metric"].value = "install_rate"\n'
            "dash.top_table"
        ),
        new_markdown_cell("`selection()` is the daily rows behind the view; *Export* (or `export()`) writes them, "
                          "as CSV for a name ending in `.csv` or a workbook for `.xlsx` (any other name is "
                          "refused)."),
        new_code_cell(
            "print(f\"{len(dash.selection()):,} rows selected\")\n"
            'path = dash.export("dashboard_selection.csv")\n'
            'print(f"written to {path}")'
        ),
        new_code_cell(CLOSE),
    ]


BUILDERS = {
    "01_quickstart.ipynb": quickstart,
    "02_channel_report.ipynb": channel_report,
    "03_dashboard.ipynb": dashboard,
    "04_dashboard_from_code.ipynb": dashboard_from_code,
}


def build() -> dict[str, nbformat.NotebookNode]:
    """Every notebook, keyed by file name, without outputs and with stable cell ids."""
    notebooks = {}
    for name, cells in BUILDERS.items():
        nb = new_notebook(cells=cells())
        stem = name.split("_", 1)[0]
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"nb{stem}-{i:02d}"
        nb.metadata = {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        }
        nbformat.validate(nb)
        notebooks[name] = nb
    return notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the saved notebooks")
    parser.add_argument("--out", type=Path, default=NOTEBOOKS, help="folder to write (default: notebooks/)")
    args = parser.parse_args(argv)
    stale = []
    for name, nb in build().items():
        path = args.out / name
        text = nbformat.writes(nb) + "\n"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(f"out of date (run python -m scripts.build_notebooks): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
