"""The names the package's docstring examples use, so ``--doctest-modules`` runs them for real.

Every example in a docstring of ``jmlink_analytics`` runs in the test suite against a real
sandbox on 127.0.0.1 (never the real API), in an empty temporary folder, with these names
already defined: ``jm`` (the package), ``sb`` (a running :class:`~jmlink_analytics.Sandbox` of
12 links over 60 days, its "today" fixed), ``client`` (a client of it), ``links`` and ``stats``
(its links and its daily stats for June 2024, iOS and Android). ``JMLINK_APP_KEY``,
``JMLINK_MASTER_SECRET`` and ``JMLINK_BASE_URL`` name that sandbox, and the user cache folder
(``XDG_CACHE_HOME``) is a temporary one. An example needs no set-up lines of its own, and what
it prints is compared exactly (pandas at its default 80-column display, whatever the terminal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

DOCTEST_TODAY = dt.date(2024, 6, 30)


@pytest.fixture(scope="session")
def doctest_names(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox app, a client of it and its data: started once, for the doctests only."""
    import os

    os.environ.setdefault("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("doctest-cache")))
    import jmlink_analytics as jm

    with jm.Sandbox(links=12, days=60, seed=0, today=DOCTEST_TODAY) as sb, sb.client() as client:
        links = jm.fetch_links(client)
        stats = jm.fetch_stats(client, start="2024-06-01", end="2024-06-30", platform=["ios", "android"],
                               progress=False)
        yield {"jm": jm, "sb": sb, "client": client, "links": links, "stats": stats}


@pytest.fixture(autouse=True)
def _doctest_environment(request: pytest.FixtureRequest, tmp_path: Any,
                         monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For a doctest only: the names above, and an empty folder as the working directory."""
    if type(request.node).__name__ != "DoctestItem":
        yield
        return
    namespace = request.getfixturevalue("doctest_namespace")
    names = request.getfixturevalue("doctest_names")
    namespace.update(names)
    sb = names["sb"]
    for variable, value in (("JMLINK_APP_KEY", sb.app_key), ("JMLINK_MASTER_SECRET", sb.master_secret),
                            ("JMLINK_BASE_URL", sb.base_url), ("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))):
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    import pandas as pd

    with pd.option_context("display.width", 80, "display.max_columns", 20):
        yield
