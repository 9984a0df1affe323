"""A writer that cannot get the dataset's lock loses no row: they go to a rescue file outside the dataset.

Another process holds the real ``fcntl`` lock of the dataset; ``write_dataset`` with a short
``lock_timeout`` raises ``DatasetLockError`` naming the rescue file (and carrying it as
``rescue_path``), the file holds exactly the rows given, no engine's glob over the root reads
it, the dataset is unchanged, and loading it back as the message says completes the write.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from jmlink_analytics import cli, fetch_links, fetch_stats, read_dataset, write_dataset
from jmlink_analytics.errors import DatasetLockError
from jmlink_analytics.export import empty_stats

from .conftest import TODAY

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parent.parent

HOLD = """
import sys, time
from pathlib import Path
from jmlink_analytics.export._lock import dataset_lock
with dataset_lock(Path(sys.argv[1])):
    Path(sys.argv[2]).write_text("held")
    time.sleep(120)
"""


@pytest.fixture(scope="module")
def fetched(sandbox):
    with sandbox.client() as client:
        stats = fetch_stats(client, start=TODAY - pd.Timedelta(days=5), end=TODAY, platform=["ios", "android"],
                            progress=False)
        return stats, fetch_links(client)


def _hold(lock: Path, tmp_path: Path) -> subprocess.Popen:
    lock.parent.mkdir(parents=True, exist_ok=True)
    flag = tmp_path / f"held-{time.monotonic_ns()}"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), str(flag)],
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert time.monotonic() < deadline and holder.poll() is None, "the lock holder did not start"
        time.sleep(0.05)
    return holder


@pytest.fixture
def held(tmp_path) -> Iterator:
    """``held(root)``: another process holds the dataset lock of ``root`` until the test ends."""
    holders: list[subprocess.Popen] = []

    def hold(root: Path) -> subprocess.Popen:
        holders.append(_hold(root / "_jmlink" / "lock", tmp_path))
        return holders[-1]

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait()


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != "lock"}


def test_a_lock_timeout_keeps_the_rows_given_in_a_rescue_file_outside_the_dataset(fetched, tmp_path, held):
    stats, links = fetched
    root = tmp_path / "warehouse" / "jmlink_stats"
    write_dataset(stats[stats["platform"] == "ios"].reset_index(drop=True), root)
    before = _files(root)
    new = stats.assign(click_count=stats["click_count"] + 7)
    held(root)
    with pytest.raises(DatasetLockError, match=r"could not lock the dataset .* within 0\.4 s") as caught:
        write_dataset(new, root, links=links, lock_timeout=0.4)
    error = caught.value
    rescue = error.rescue_path
    assert rescue is not None and rescue.parent == tmp_path / "warehouse" / "jmlink_stats.jmlink-rescue"
    assert re.fullmatch(rf"\d{{8}}T\d{{6}}Z-{os.getpid()}-[0-9a-f]{{6}}\.parquet", rescue.name)
    assert str(rescue) in str(error) and f"{len(new):,} stats rows given" in str(error)
    assert f"write_dataset(pd.read_parquet({str(rescue)!r}), {str(root)!r}" in str(error)
    pd.testing.assert_frame_equal(pd.read_parquet(rescue), new)  # the very rows, dtypes and order
    assert error.links_rescue_path is not None and str(error.links_rescue_path) in str(error)
    assert sorted(pd.read_parquet(error.links_rescue_path)["link_key"]) == sorted(links["link_key"])
    assert _files(root) == before  # the dataset unchanged, and no glob over it sees the rescue
    (count,), = duckdb.sql(f"SELECT count(*) FROM read_parquet('{root}/**/*.parquet')").fetchall()
    assert count == int((stats["platform"] == "ios").sum())
    back = pickle.loads(pickle.dumps(error))
    assert (back.rescue_path, back.links_rescue_path, str(back)) == (rescue, error.links_rescue_path, str(error))


def test_loading_the_rescue_back_as_the_message_says_completes_the_write(fetched, tmp_path, held):
    stats, links = fetched
    root = tmp_path / "apps"
    write_dataset(stats.iloc[:10], root, app="shop", links=links)
    holder = held(root)
    with pytest.raises(DatasetLockError) as caught:
        write_dataset(stats, root / "app=shop", lock_timeout=0.2)
    call = f"write_dataset(pd.read_parquet({str(caught.value.rescue_path)!r}), {str(root)!r}, app='shop')"
    assert call in str(caught.value) and caught.value.links_rescue_path is None  # no links given to that write
    holder.kill()
    holder.wait()
    eval(call, {"write_dataset": write_dataset, "pd": pd})  # the message's own words
    expected = stats.sort_values(["date", "link_key", "platform"]).reset_index(drop=True)
    got = read_dataset(root / "app=shop").sort_values(["date", "link_key", "platform"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_categorical=False)


def test_when_the_folder_beside_the_root_cannot_be_made_the_rescue_goes_to_the_user_cache(fetched, tmp_path,
                                                                                         held, monkeypatch):
    stats, _ = fetched
    root = tmp_path / "ds"
    root.mkdir()
    (tmp_path / "ds.jmlink-rescue").write_text("a file where the rescue folder would go")
    held(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(DatasetLockError) as caught:
        write_dataset(stats, root, lock_timeout=0.2)
    assert caught.value.rescue_path is not None and str(caught.value.rescue_path) in str(caught.value)
    assert caught.value.rescue_path.parent == tmp_path / "xdg" / "jmlink-analytics" / "rescue"
    pd.testing.assert_frame_equal(pd.read_parquet(caught.value.rescue_path), stats)


def test_sync_that_cannot_get_the_lock_exits_1_naming_the_rescue_file(tmp_path, held, capsys, monkeypatch):
    root = tmp_path / "ds"
    write_dataset(empty_stats(), root)  # nothing: no shape yet, so the sync below may write any
    root.mkdir(parents=True, exist_ok=True)
    held(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    status = cli.main(["sync", "--sandbox", "--out", str(root), "--days", "2", "--no-progress", "--no-cache",
                       "--platform", "split", "--lock-timeout", "0.3"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_UNEXPECTED
    rescues = sorted((tmp_path / "ds.jmlink-rescue").glob("*.parquet"))
    stats_file = [p for p in rescues if not p.name.endswith("-links.parquet")]
    assert len(stats_file) == 1 and str(stats_file[0]) in err and "could not lock the dataset" in err
    assert "rows fetched by this run are not in the dataset" not in err
    rows = pd.read_parquet(stats_file[0])
    assert len(rows) == 120 * 2 * 2 and set(rows["platform"]) == {"ios", "android"}
    assert not list(root.glob("dt=*"))  # nothing written into the dataset
    links = [p for p in rescues if p.name.endswith("-links.parquet")]
    assert len(links) == 1 and len(pd.read_parquet(links[0])) == 120 and str(links[0]) in err
