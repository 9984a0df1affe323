"""Every notebook runs top to bottom headless, as a user without credentials would run it.

Each is copied into a temporary folder and executed there with nbclient on the ``python3``
kernel (the virtualenv's interpreter, checked), with every ``JMLINK_*`` variable removed, so it
takes the sandbox path. It fails on any error output, on a warning or traceback on stderr, and
on any credential in the outputs or in the files the notebook writes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from scripts.build_notebooks import BUILDERS, build

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def sandbox_credentials() -> list[str]:
    """The strings that must never show: the notebooks' sandbox secret, and its Basic credential."""
    from jmlink_analytics.sandbox import Sandbox

    with Sandbox(links=1, days=1, seed=0) as sb:  # the secret depends on the seed only
        secret, app_key = sb.master_secret, sb.app_key
    basic = base64.b64encode(f"{app_key}:{secret}".encode()).decode()
    return [secret, basic]


def test_the_notebooks_are_the_ones_the_builder_writes():
    assert [p.name for p in NOTEBOOKS] == sorted(BUILDERS)
    for path in NOTEBOOKS:
        saved = nbformat.read(path, as_version=4)
        built = build()[path.name]
        assert [(c.cell_type, c.source) for c in saved.cells] == [(c.cell_type, c.source) for c in built.cells], (
            f"{path.name} differs from scripts/build_notebooks.py: run `python -m scripts.build_notebooks`"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_notebook_is_clean_and_opens_with_what_it_answers(path, sandbox_credentials):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.cells[1].cell_type == "code", "one markdown cell opens the notebook, then code"
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    text = path.read_text(encoding="utf-8")
    assert "JMLINK_MASTER_SECRET=" not in text
    for credential in sandbox_credentials:
        assert credential not in text


def _check_report(folder: Path) -> None:
    report = folder / "channel_report"  # written next to the notebook
    assert (report / "daily.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel-safe UTF-8
    assert (report / "summary_by_channel.csv").is_file()
    assert (report / "index.html").is_file()


def _check_export(folder: Path) -> None:
    lines = (folder / "dashboard_selection.csv").read_text(encoding="utf-8-sig").splitlines()
    # the columns of the report's daily.csv: name, channel and the rates included
    assert lines[0] == ("link_key,name,channel,platform,date,exposure_count,click_count,open_count,install_count,"
                        "is_partial,ctr,open_rate,install_rate")
    assert len(lines) > 1


def _check_nothing_written(folder: Path) -> None:
    """The dashboard notebook is an app (Voila runs every cell on each page load): it writes nothing."""
    assert sorted(p.name for p in folder.iterdir()) == ["03_dashboard.ipynb"]


#: what each notebook must leave next to itself
WRITES = {"02_channel_report": _check_report, "03_dashboard": _check_nothing_written,
          "04_dashboard_from_code": _check_export}


def _check_dashboard_cell(nb: nbformat.NotebookNode) -> None:
    """No finished progress bar above the dashboard, and the dashboard alone in its cell's output."""
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "jm.dashboard(" in c.source]
    text = json.dumps(cell.outputs, ensure_ascii=False)
    assert "0/" not in text and "req/s" not in text and "jmlink stats" not in text, text  # no bar, live or saved
    views = [o for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1 and views[0]["output_type"] == "execute_result"  # the dashboard, nothing else
    assert views[0]["data"]["text/plain"].startswith("<Dashboard:")


def _widget_states(nb: nbformat.NotebookNode) -> list[dict]:
    """The widgets' states as the notebook saved them (what a front end shows when it opens)."""
    saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return [model["state"] for model in saved.get("state", {}).values()]


def _check_dashboard_app(nb: nbformat.NotebookNode) -> None:
    """As Voila shows it: the connection note, the dashboard in its default state, and nothing else."""
    _check_dashboard_cell(nb)
    code = [c for c in nb.cells if c.cell_type == "code"][1:]  # after the interpreter check
    blank = {"text/plain": ""}  # where the fetch's progress bar was (see widgets._open): shows nothing
    shown = [o for c in code for o in c.outputs if o.get("data") != blank]
    assert [o["output_type"] for o in shown] == ["stream", "execute_result"], shown  # the note, the dashboard
    assert "sandbox" in shown[0]["text"]
    states = _widget_states(nb)
    (per,) = [s for s in states if s.get("description") == "Per"]
    assert per["_options_labels"][per["index"]] == "Auto"  # the default period, not one set by a demo cell
    (metric,) = [s for s in states if s.get("description") == "Metric"]
    assert metric["_options_labels"][metric["index"]] == "Clicks"
    start, end = ([s for s in states if s.get("description") == name] for name in ("Start", "End"))
    assert start[0]["value"] == start[0]["min"] and end[0]["value"] == end[0]["max"]  # the whole range fetched


def _check_dashboard_outputs(nb: nbformat.NotebookNode) -> None:
    """A rate's change printed in points, as the dashboard shows it."""
    _check_dashboard_cell(nb)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "dash.hold()" in c.source]
    printed = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
    lines = {line.split()[0]: line for line in printed.splitlines() if line.strip()}
    assert lines["install_rate"].endswith(" pp") and "%  " in lines["install_rate"], printed
    assert lines["click_count"].endswith("%") and " pp" not in lines["click_count"], printed
    assert "(complete days)" in lines["change:"], printed


#: what each notebook's outputs must show
OUTPUTS = {"03_dashboard": _check_dashboard_app, "04_dashboard_from_code": _check_dashboard_outputs}


def _outputs_text(nb: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in nb.cells], ensure_ascii=False)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless_on_the_sandbox(path, tmp_path, monkeypatch, sandbox_credentials):
    for name in list(os.environ):
        if name.startswith("JMLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))  # which interpreter?

    client = NotebookClient(nb, kernel_name="python3", timeout=90, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell

    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable  # the venv's python, as under pytest
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            if output["output_type"] == "stream" and output["name"] == "stderr":
                assert not any(word in output["text"] for word in ("Warning", "Traceback", "Error")), output["text"]
    outputs = _outputs_text(nb)
    assert "sandbox" in outputs  # it said which app it used
    for credential in sandbox_credentials:
        assert credential not in outputs
    OUTPUTS.get(path.stem, lambda _nb: None)(nb)
    WRITES.get(path.stem, lambda _folder: None)(tmp_path)
    # whatever the notebook wrote next to itself holds no credential either
    for written in tmp_path.rglob("*"):
        if written.is_file() and written.suffix in {".csv", ".html", ".json", ".txt"}:
            content = written.read_text(encoding="utf-8-sig", errors="replace")
            for credential in sandbox_credentials:
                assert credential not in content, written


def test_make_lab_starts_jupyter_as_root_too():
    """JupyterLab refuses to run as root without --allow-root: `make lab` adds it for uid 0 (containers)."""
    import subprocess

    result = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True)
    (command,) = [line for line in result.stdout.splitlines() if "jupyter lab" in line]
    assert command.endswith("notebooks/")
    assert ("--allow-root" in command) == (os.getuid() == 0)
