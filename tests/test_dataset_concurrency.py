"""Many writers on one dataset: concurrent `sync` processes, threads, a held lock and SIGKILLed writers.

Every run ends with the union of what the writers fetched, and no reader (DuckDB's `**` glob,
Polars' `scan_parquet(root)`, pyarrow's hive dataset, read_dataset) ever sees a staging file.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from jmlink_analytics import cli, fetch_stats, read_dataset, write_dataset
from jmlink_analytics._dates import china_today
from jmlink_analytics.errors import DatasetLockError
from jmlink_analytics.export._lock import dataset_lock

from .conftest import TODAY

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parent.parent
DAYS = 4


@pytest.fixture(scope="module")
def sandbox_keys():
    """The link keys of the app `--sandbox` serves (fixed seed): 120 of them."""
    from jmlink_analytics.cli._commands import SANDBOX_OPTIONS
    from jmlink_analytics.sandbox import Sandbox

    with Sandbox(**SANDBOX_OPTIONS) as sb:
        return sorted(link["link_key"] for link in sb.app.links)


def run_syncs(root: Path, tmp_path: Path, jobs: list[tuple[list[str], str]]) -> list[subprocess.CompletedProcess]:
    """Start one `jmlink-analytics sync --sandbox` process per (links, platform) at once; wait for all."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-m", "jmlink_analytics", "sync", "--sandbox", "--no-cache",
                               "--no-progress", "--out", str(root), "--days", str(DAYS), "--links", ",".join(keys),
                               "--platform", platform], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for keys, platform in jobs]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=200)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def assert_every_link_platform_and_day(root: Path, keys: list[str], platforms: list[str]) -> None:
    held = read_dataset(root)
    assert not held.duplicated(["link_key", "platform", "date"]).any()
    days = pd.date_range(end=pd.Timestamp(china_today()), periods=DAYS)
    per_day = held.groupby("date").agg(links=("link_key", "nunique"), platforms=("platform", "nunique"),
                                       rows=("link_key", "size"))
    assert per_day.index.tolist() == days.tolist()
    assert per_day["links"].eq(len(keys)).all() and per_day["platforms"].eq(len(platforms)).all()
    assert per_day["rows"].eq(len(keys) * len(platforms)).all()
    glob = (root / "**" / "*.parquet").as_posix()
    total, distinct = duckdb.sql(f"SELECT count(*), count(DISTINCT (link_key, platform, date)) "
                                 f"FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()[0]
    assert total == distinct == len(keys) * len(platforms) * DAYS


def test_two_syncs_of_disjoint_links_at_once_keep_both_halves(sandbox_keys, tmp_path):
    root = tmp_path / "ds"
    runs = run_syncs(root, tmp_path, [(sandbox_keys[:60], "split"), (sandbox_keys[60:], "split")])
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert_every_link_platform_and_day(root, sandbox_keys, ["ios", "android"])


def test_four_syncs_of_disjoint_links_and_platforms_at_once_keep_everything(sandbox_keys, tmp_path):
    root = tmp_path / "ds"
    halves = [sandbox_keys[:60], sandbox_keys[60:]]
    runs = run_syncs(root, tmp_path, [(keys, platform) for keys in halves for platform in ("ios", "android")])
    assert [r.returncode for r in runs] == [0, 0, 0, 0], [r.stderr for r in runs]
    assert_every_link_platform_and_day(root, sandbox_keys, ["ios", "android"])


@pytest.fixture(scope="module")
def stats(sandbox):
    with sandbox.client() as client:
        return fetch_stats(client, start=TODAY - pd.Timedelta(days=9), end=TODAY, platform=["ios", "android"],
                           progress=False)


def test_threads_writing_disjoint_links_and_platforms_end_with_the_union(stats, tmp_path):
    keys = stats["link_key"].cat.categories.tolist()
    parts = [stats[stats["link_key"].isin(keys[i::3]) & (stats["platform"] == p)].reset_index(drop=True)
             for i in range(3) for p in ("ios", "android")]
    errors: list[BaseException] = []

    def write(part: pd.DataFrame) -> None:
        try:
            for _ in range(3):
                write_dataset(part, tmp_path / "ds")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "ds"), stats)


HOLD = """
import sys, time
from pathlib import Path
from jmlink_analytics.export._lock import dataset_lock
with dataset_lock(Path(sys.argv[1])):
    Path(sys.argv[2]).write_text("held")
    time.sleep(60)
"""


def test_a_writer_that_cannot_get_the_lock_says_so_and_exits_non_zero(stats, tmp_path, capsys, monkeypatch):
    root = tmp_path / "ds"
    write_dataset(stats, root)
    before = {p: p.read_bytes() for p in root.glob("dt=*/*.parquet")}
    flag = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root / "_jmlink" / "lock"), str(flag)],
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(DatasetLockError, match="could not lock the dataset .* within 0.5 s"):
            write_dataset(stats.assign(click_count=stats["click_count"] + 1), root, lock_timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 10
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        status = cli.main(["sync", "--sandbox", "--out", str(root), "--days", "2", "--no-progress",
                           "--platform", "split", "--lock-timeout", "0.3"])
        err = capsys.readouterr().err
        assert status == cli.EXIT_UNEXPECTED
        assert "could not lock the dataset" in err and "stats rows given are in" in err  # kept: see test_dataset_rescue
    finally:
        holder.kill()
        holder.wait()
    assert {p: p.read_bytes() for p in root.glob("dt=*/*.parquet")} == before
    write_dataset(stats.iloc[:10], root, lock_timeout=5)  # the kernel dropped the killed holder's lock


WRITER = """
import sys
from jmlink_analytics import read_dataset, write_dataset
stats = read_dataset(sys.argv[1])
for n in range(1000):
    write_dataset(stats.assign(click_count=stats["click_count"] + n), sys.argv[2])
"""


def readers_see(root: Path) -> dict[str, int]:
    """What each engine reads from the whole tree of ``root``."""
    glob = (root / "**" / "*.parquet").as_posix()
    schema = pa.schema([("dt", pa.date32())])
    return {
        "duckdb **": duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)"
                                ).fetchall()[0][0],
        "polars": pl.scan_parquet(root).select(pl.len()).collect().item(),
        "pyarrow": ds.dataset(root, format="parquet", partitioning=ds.partitioning(schema, flavor="hive")).count_rows(),
        "read_dataset": len(read_dataset(root)),
    }


def test_writers_killed_at_random_points_leave_no_staging_rows_for_any_reader(stats, tmp_path):
    src, root = tmp_path / "src", tmp_path / "ds"
    write_dataset(stats, src)
    write_dataset(stats, root)
    rng = random.Random(18)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(6):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(src), str(root)], env=env)
        time.sleep(rng.uniform(1.5, 4.0))  # imports take about a second; then it writes all the time
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        seen = readers_see(root)
        assert seen == dict.fromkeys(seen, len(stats)), seen
    assert list(root.glob("**/.staging-*")) == []
    write_dataset(stats, root, lock_timeout=5)  # the next writer cleans what the killed ones left
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []
    pd.testing.assert_frame_equal(read_dataset(root), stats)


def test_an_old_versions_staging_folder_is_removed_by_the_next_write(stats, tmp_path):
    root = tmp_path / "ds"
    write_dataset(stats, root)
    leftover = root / ".staging-0123456789ab" / f"dt={TODAY:%Y-%m-%d}"
    leftover.mkdir(parents=True)
    (leftover / "part-0.parquet").write_bytes((root / f"dt={TODAY:%Y-%m-%d}" / "part-0.parquet").read_bytes())
    write_dataset(stats.iloc[:1], root)
    assert not (root / ".staging-0123456789ab").exists()
    assert readers_see(root)["duckdb **"] == len(stats)


def test_a_held_lock_in_this_process_times_out_for_another_thread(tmp_path):
    lock = tmp_path / "lock"
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with dataset_lock(lock):
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(30)
    try:
        with pytest.raises(DatasetLockError, match="another writer of this process"), dataset_lock(lock, timeout=0.2):
            pass
    finally:
        release.set()
        thread.join()
    with dataset_lock(lock, timeout=1):
        pass
