"""README.md's every ```python block, executed as written, in order, against a real sandbox: the README cannot drift.

The blocks run one after the other in one namespace, as a reader pastes them into one
notebook. The only thing added is the preamble below (documented, minimal), which does what the
README asks the reader to do first: credentials of an app in the environment (here a Sandbox on
127.0.0.1), a working folder of their own (here a temporary one), a per-user cache folder, and
matplotlib without a display. No block is skipped or edited; a block that fails names its line
in README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of every ```python block of ``text``."""
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in _FENCE.finditer(text)]


def test_the_readme_has_python_blocks():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    assert any("jm.write_report" in code for _, code in blocks)


def test_every_python_block_of_the_readme_runs_as_written(monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("Agg")  # the preamble: no display
    import matplotlib.pyplot as plt

    from jmlink_analytics import Sandbox

    blocks = python_blocks(README.read_text(encoding="utf-8"))
    # the preamble: an app's credentials in the environment (the README's `export JMLINK_...`), a folder of
    # one's own to write into, and a per-user cache folder that is not the tester's
    with Sandbox(links=12, days=400, seed=1) as sandbox:
        monkeypatch.setenv("JMLINK_APP_KEY", sandbox.app_key)
        monkeypatch.setenv("JMLINK_MASTER_SECRET", sandbox.master_secret)
        monkeypatch.setenv("JMLINK_BASE_URL", sandbox.base_url)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        monkeypatch.chdir(tmp_path)
        namespace: dict[str, object] = {"__name__": "__readme__"}
        try:
            for line, code in blocks:
                try:
                    exec(compile(code, f"README.md:{line}", "exec"), namespace)
                except Exception as exc:  # name the block: the README is what needs fixing
                    pytest.fail(f"the README's python block at line {line} fails: {type(exc).__name__}: {exc}")
            # what the README says it draws: a trend line per link (top needs by=), one chart per Axes
            assert len(namespace["ax"].get_lines()) > 1  # type: ignore[attr-defined]
            for number in plt.get_fignums():
                for axes in plt.figure(number).axes:
                    heat = bool(axes.images) or any(type(c).__name__ == "QuadMesh" for c in axes.collections)
                    assert not (heat and axes.patches), "a heat map drawn over another chart in one Axes"
        finally:
            plt.close("all")
            dash = namespace.get("dash")
            if hasattr(dash, "close"):
                dash.close()
    assert (tmp_path / "report" / "index.html").is_file()  # the Reports block wrote its folder
    assert (tmp_path / "channels.xlsx").is_file() and (tmp_path / "channels.csv").is_file()
