"""The rate limit as the server counts it: held slots, one budget per appKey, waits shown, pools sized.

Limits are scaled down (a few calls per second) so every test stays fast; what is asserted comes
from the sandbox's own request log, never from the client's idea of what it sent.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest

from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.client._ratelimit import shared_limits_path
from jmlink_analytics.client._slotfile import STALE_AFTER_S
from jmlink_analytics.data import fetch_stats
from tests.conftest import failures_at_the_same_moment, most_in_any_window

START, END = "2024-06-01", "2024-06-30"


def stat_requests(sb):
    return [r for r in sb.requests if r.path.endswith("/stat")]




# -- 1. the limiter counts what the server counts --------------------------------------------------------
@pytest.mark.slow
def test_thirty_two_workers_with_latency_never_exceed_a_window_and_get_no_3006(make_sandbox):
    limits = {"stats": (10, 1.0)}
    sb = make_sandbox(links=40, rate_limits=limits, latency=0.05)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client(max_retries=0) as client:  # a single 3006 would fail the fetch
        df = fetch_stats(client, keys, start=START, end=END, max_workers=32, progress=False)
    served = stat_requests(sb)
    assert [r.code for r in served] == [3000] * 40
    assert most_in_any_window([r.time for r in served], 1.0) <= 10
    assert len(df) == 40 * 30


def test_a_call_holds_its_slot_until_its_answer_arrives(make_sandbox):
    # 2 calls per 0.5 s and answers that take 0.3 s: the third call may leave only 0.5 s after the
    # *answer* of the first (0.8 s), not 0.5 s after it was sent.
    sb = make_sandbox(links=3, rate_limits={"stats": (2, 0.5)}, latency=0.3)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client(max_retries=0) as client:
        fetch_stats(client, keys, start=START, end=END, max_workers=3, progress=False)
    first, _, third = sorted(r.time for r in stat_requests(sb))
    assert third - first >= 0.5 + 0.3 - 0.02


@pytest.mark.slow
def test_requests_that_reach_the_server_late_are_never_refused(make_sandbox):
    import random
    from concurrent.futures import ThreadPoolExecutor

    sb = make_sandbox(links=8, rate_limits={"stats": (5, 0.5)})
    keys = [link["link_key"] for link in sb.app.links]
    delays, lock = random.Random(1), threading.Lock()
    with sb.client(max_retries=0) as client:
        send = client.session.send

        def late_send(request, **kwargs):
            with lock:
                delay = delays.uniform(0, 0.15)
            time.sleep(delay)  # the slot is taken; the request reaches the server this much later
            return send(request, **kwargs)

        client.session.send = late_send
        with ThreadPoolExecutor(8) as pool:
            for job in [pool.submit(client.get_link_stats, keys[i % 8], START, END) for i in range(25)]:
                job.result()  # a 3006 would raise: retries are off
    served = stat_requests(sb)
    assert [r.code for r in served] == [3000] * 25
    assert most_in_any_window([r.time for r in served], 0.5) <= 5


# -- 2. one budget per appKey on the machine ---------------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys
    from jmlink_analytics.client import JMLinkClient
    from jmlink_analytics.data import fetch_stats
    base_url, app_key, secret, folder, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    with JMLinkClient(app_key, secret, base_url=base_url, rate_limits={"stats": (10, 1.0)}, max_retries=0,
                      shared_limits=folder) as client:
        df = fetch_stats(client, keys, start="2024-06-01", end="2024-06-30", progress=False)
    print(len(df))
""")


@pytest.mark.slow
def test_two_processes_on_one_app_key_share_the_budget(make_sandbox, tmp_path):
    sb = make_sandbox(links=30, rate_limits={"stats": (10, 1.0)})
    keys = [link["link_key"] for link in sb.app.links]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, sb.base_url, sb.app_key, sb.master_secret,
                               str(tmp_path), *part], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
             for part in (keys[:15], keys[15:])]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["450", "450"]
    served = stat_requests(sb)
    assert [r.code for r in served].count(3006) == 0 and len(served) == 30
    assert most_in_any_window([r.time for r in served], 1.0) <= 10
    assert list(tmp_path.glob("ratelimit-*.sqlite")) == [shared_limits_path(sb.app_key, sb.base_url, tmp_path)]


def test_shared_limits_file_is_named_by_a_hash_in_the_user_cache_dir(private_cache_dir):
    app_key, secret = "a1b2c3d4e5f6a7b8c9d0e1f2", "0f9e8d7c6b5a4f3e2d1c0b9a"
    with JMLinkClient(app_key, secret, base_url="https://api.example.test") as client:
        path = client._slots.path
    assert path.parent == private_cache_dir / "jmlink-analytics" and path.is_file()
    assert app_key not in path.name and secret not in path.name and "example" not in path.name
    assert path == shared_limits_path(app_key, "https://api.example.test")
    assert path != shared_limits_path(app_key, "https://other.example.test")
    assert secret.encode() not in path.read_bytes()


def test_shared_limits_can_be_turned_off_or_pointed_elsewhere(private_cache_dir, tmp_path):
    with JMLinkClient("app", "secret", shared_limits=False) as client:
        assert client._slots.path is None
    with JMLinkClient("app", "secret", shared_limits=tmp_path / "limits") as client:
        assert client._slots.path.parent == tmp_path / "limits"
    assert not (private_cache_dir / "jmlink-analytics").exists()
    with pytest.raises(TypeError, match="shared_limits must be True, False or a folder path; got 1"):
        JMLinkClient("app", "secret", shared_limits=1)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="shared_limits must be a folder"):
        JMLinkClient("app", "secret", shared_limits=blocker)


def test_an_unusable_shared_file_falls_back_to_the_clients_own_count(make_sandbox, private_cache_dir, caplog):
    sb = make_sandbox(links=2)
    path = shared_limits_path(sb.app_key, sb.base_url)
    path.mkdir(parents=True)  # a folder where the file should be: it cannot be opened, nor replaced
    with caplog.at_level(logging.WARNING, logger="jmlink_analytics"), \
            JMLinkClient(sb.app_key, sb.master_secret, base_url=sb.base_url) as client:
        assert client.get_links_page().total == 2
        assert client._slots.path is None
    assert any("cannot share the rate limits" in r.getMessage() for r in caplog.records)


def test_a_corrupt_shared_file_is_replaced_with_a_warning_and_shared_again(make_sandbox, private_cache_dir, caplog):
    # issue 19: before, a corrupt file was never repaired (every client of the appKey fell back to its own count)
    sb = make_sandbox(links=2)
    path = shared_limits_path(sb.app_key, sb.base_url)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a SQLite database" * 100)
    with caplog.at_level(logging.WARNING, logger="jmlink_analytics"), \
            JMLinkClient(sb.app_key, sb.master_secret, base_url=sb.base_url) as first, \
            JMLinkClient(sb.app_key, sb.master_secret, base_url=sb.base_url) as second:
        assert first.get_links_page().total == 2 and second.get_links_page().total == 2
        assert first._slots.path == second._slots.path == path
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in warning and "replaced it" in warning
    assert path.read_bytes().startswith(b"SQLite format 3")
    with sqlite3.connect(path) as conn:  # both clients' calls are in the one shared table
        assert conn.execute("SELECT COUNT(*) FROM slots WHERE endpoint = 'links'").fetchone() == (2,)


def test_stale_rate_limit_files_are_swept_and_recent_ones_kept(private_cache_dir):
    # issue 19: one file per appKey and base URL ever used piled up (199 after a test session)
    folder = private_cache_dir / "jmlink-analytics"
    old, recent = (shared_limits_path("app", f"http://127.0.0.1:{port}", folder) for port in (1, 2))
    folder.mkdir(parents=True)
    for path in (old, recent, Path(f"{old}-wal"), Path(f"{old}-shm")):
        path.write_bytes(b"x")
    other = folder / "cache.sqlite3"  # not a rate-limit file: never touched
    other.write_bytes(b"x")
    an_hour_ago = time.time() - STALE_AFTER_S - 5
    for path in (old, Path(f"{old}-wal"), Path(f"{old}-shm"), other):
        os.utime(path, (an_hour_ago, an_hour_ago))
    with JMLinkClient("app", "secret", base_url="http://127.0.0.1:3") as client:
        mine = client._slots.path
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("ratelimit-") and
                  p.suffix == ".sqlite") == sorted([recent.name, mine.name])
    assert not Path(f"{old}-wal").exists() and not Path(f"{old}-shm").exists() and other.exists()


def test_a_client_whose_file_was_swept_opens_it_again_and_keeps_sharing(make_sandbox, tmp_path):
    sb = make_sandbox(links=2)
    with sb.client(shared_limits=tmp_path) as first, sb.client(shared_limits=tmp_path) as second:
        first.get_links_page()
        path = first._slots.path
        for name in (path.name, path.name + "-wal", path.name + "-shm"):
            (tmp_path / name).unlink(missing_ok=True)  # as a sweep by another process would
        first.get_links_page()
        second.get_links_page()
        assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM slots").fetchone() == (2,)


def test_a_shared_file_failing_mid_fetch_is_a_warning_not_a_sqlite_error(make_sandbox, tmp_path, caplog):
    sb = make_sandbox(links=3)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client(shared_limits=tmp_path) as client:
        client._slots._conn.close()  # as if the file had gone bad under the client
        with caplog.at_level(logging.WARNING, logger="jmlink_analytics"):
            df = fetch_stats(client, keys, start=START, end=END, progress=False)
    assert len(df) == 3 * 30
    assert any("shared rate-limit file" in r.getMessage() for r in caplog.records)


def test_a_closed_client_can_be_used_again(sandbox):
    client = sandbox.client()
    client.close()
    assert client.get_links_page().total == len(sandbox.app.links)
    client.close()


def test_two_clients_in_one_process_share_the_file_budget(make_sandbox, tmp_path):
    sb = make_sandbox(links=12, rate_limits={"stats": (6, 1.0)})
    keys = [link["link_key"] for link in sb.app.links]
    done, errors = [], []

    def fetch(part):
        try:
            with sb.client(shared_limits=tmp_path, max_retries=0) as client:
                done.append(fetch_stats(client, part, start=START, end=END, progress=False))
        except Exception as exc:  # said in the assertion below, not lost in a thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=fetch, args=(part,)) for part in (keys[:6], keys[6:])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(done) == 2
    served = stat_requests(sb)
    assert [r.code for r in served] == [3000] * 12
    assert most_in_any_window([r.time for r in served], 1.0) <= 6


# -- 3. waits are told, pools are sized ------------------------------------------------------------------
@pytest.mark.slow
def test_the_progress_bar_says_when_it_waits_for_the_rate_limit(make_sandbox, capsys):
    sb = make_sandbox(links=5, rate_limits={"stats": (3, 1.5)})
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as client:
        fetch_stats(client, keys, start=START, end=END, progress=True, max_workers=4)
    err = capsys.readouterr().err
    assert "jmlink stats" in err and "waiting 2 s for the stats rate limit (3 per 1.5 s)" in err


def test_no_connection_pool_is_full_warning_at_any_max_workers(make_sandbox, caplog):
    sb = make_sandbox(links=80, rate_limits={"stats": (10_000, 1.0)}, latency=0.05)
    keys = [link["link_key"] for link in sb.app.links]
    caplog.set_level(logging.WARNING, logger="urllib3")
    with sb.client() as client, warnings.catch_warnings():
        warnings.simplefilter("error")
        df = fetch_stats(client, keys, start=START, end=END, max_workers=64, progress=False)
    assert len(df) == 80 * 30
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_the_default_is_thirty_two_workers_and_a_pool_to_match():
    import inspect

    assert inspect.signature(fetch_stats).parameters["max_workers"].default == 32
    with JMLinkClient("app", "secret", shared_limits=False) as client:
        adapter = client.session.get_adapter("https://api.jmlk.co")
        assert adapter._pool_maxsize == 32




def test_clients_opening_one_new_shared_file_at_the_same_moment_all_get_it(tmp_path):
    # SQLite answers "database is locked" at once (no busy wait) to a second connection switching a file being
    # created to WAL: before the retry, 27 of 300 such rounds failed, and a fetch died with it
    from jmlink_analytics.client._ratelimit import SlotTable

    def open_and_take(path):
        table = SlotTable(path)
        slot, *_ = table.try_take("stats", 10, 1.0, 60.0)
        table.answered(slot)
        table.close()

    assert failures_at_the_same_moment(open_and_take, tmp_path) == []
