"""The `jmlink-analytics` command: every command and every exit status, as a user runs it.

Most tests run the command as a subprocess (`python -m jmlink_analytics`, once the console
script), against `--sandbox` or against the shared test sandbox through JMLINK_* variables.
Finer argument checks run `cli.main` / `cli.parse_args` in-process.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jmlink_analytics import cli
from jmlink_analytics._dates import china_today
from jmlink_analytics.cli._commands import SANDBOX_OPTIONS
from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.data import Store
from jmlink_analytics.sandbox import SyntheticApp

BOM = b"\xef\xbb\xbf"
CONSOLE_SCRIPT = Path(sys.executable).with_name("jmlink-analytics")


@pytest.fixture
def clean_env(tmp_path):
    """The test's environment without JMLINK_* variables, with the user cache dir under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JMLINK_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["PYTHONIOENCODING"] = "ascii"  # output must not depend on the locale's encoding
    return env


@pytest.fixture
def api_env(clean_env, sandbox):
    """Credentials of the shared test sandbox (12 links, today 2024-06-30) in the environment."""
    return {**clean_env, "JMLINK_APP_KEY": sandbox.app_key, "JMLINK_MASTER_SECRET": sandbox.master_secret,
            "JMLINK_BASE_URL": sandbox.base_url}


@pytest.fixture(scope="module")
def sandbox_keys():
    """Link keys of the app `--sandbox` serves today (the same synthetic app, built without a server)."""
    return [link["link_key"] for link in SyntheticApp(**SANDBOX_OPTIONS).links]


def run(args, env, *, command=None, timeout=90):
    result = subprocess.run(command or [sys.executable, "-m", "jmlink_analytics", *args], env=env,
                            capture_output=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr.decode("utf-8")


def test_links_on_the_sandbox_go_to_stdout_as_csv(clean_env):
    status, out, err = run(["links", "--sandbox", "--no-progress"], clean_env)
    assert status == 0, err
    assert not out.startswith(BOM)  # CSV on stdout: no BOM
    links = pd.read_csv(io.BytesIO(out), keep_default_na=False)
    assert len(links) == SANDBOX_OPTIONS["links"]
    assert list(links.columns[:4]) == ["id", "link_key", "name", "channel"]
    assert links["id"].is_unique
    assert err == ""  # --no-progress: no status line at all
    status, out, err = run(["links", "--sandbox"], clean_env)
    assert status == 0, err
    assert err.strip().splitlines()[-1] == f"wrote {SANDBOX_OPTIONS['links']} links as CSV to stdout"


def test_stats_on_the_sandbox_as_json_shows_progress_on_stderr(clean_env, sandbox_keys):
    keys = sandbox_keys[:5]
    status, out, err = run(["stats", "--sandbox", "--links", ",".join(keys), "--days", "3", "--platform", "split",
                            "--format", "json"], clean_env)
    assert status == 0, err
    rows = json.loads(out.decode("utf-8"))
    today = china_today()
    assert len(rows) == 5 * 2 * 3
    assert {r["link_key"] for r in rows} == set(keys)
    assert {r["platform"] for r in rows} == {"ios", "android"}
    assert {r["date"] for r in rows} == {f"{today - dt.timedelta(days=d):%Y-%m-%d}" for d in range(3)}
    assert all(isinstance(r["click_count"], int) for r in rows)
    assert "fetching daily stats of 5 link(s)" in err  # the status line
    # stderr is a pipe here, not a terminal: no progress bar frames (see the TTY test for the bar)
    assert "\r" not in err and "10/10" not in err
    assert err.strip().splitlines()[-1] == "wrote 30 rows as JSON to stdout"


def test_report_on_the_sandbox_through_the_console_script(clean_env, sandbox_keys, tmp_path):
    out_dir = tmp_path / "weekly report"
    command = [str(CONSOLE_SCRIPT), "report", "--sandbox", "--days", "20", "--links", ",".join(sandbox_keys[:4]),
               "--out", str(out_dir), "--no-progress"]
    status, out, err = run([], clean_env, command=command)
    assert status == 0, err
    assert err == ""  # no progress, no warning
    for name in ("links.csv", "daily.csv", "summary_by_link.csv", "summary_by_channel.csv",
                 "summary_by_platform.csv", "period_comparison.csv", "anomalies.csv", "index.html",
                 "charts/trend.png", "charts/platforms.png"):
        assert (out_dir / name).is_file(), name
    assert len(pd.read_csv(out_dir / "links.csv", encoding="utf-8-sig")) == 4
    assert len(pd.read_csv(out_dir / "daily.csv", encoding="utf-8-sig")) == 4 * 2 * 20
    assert "sandbox" in (out_dir / "index.html").read_text(encoding="utf-8")
    assert out.decode("utf-8").strip() == f"wrote 14 files to {out_dir}; open {out_dir / 'index.html'}"


def test_stats_from_the_environment_to_a_file_and_the_default_cache(api_env, sandbox, tmp_path):
    keys = [link["link_key"] for link in sandbox.app.links[:2]]
    target = tmp_path / "out" / "stats.csv"
    status, out, err = run(["stats", "--start", "2024-06-20", "--end", "2024-06-30", "--links", ",".join(keys),
                            "--out", str(target)], api_env)
    assert status == 0, err
    assert out.decode("utf-8").strip() == f"wrote 22 rows as CSV to {target}"  # the final line: data went to a file
    assert target.read_bytes().startswith(BOM)
    stats = pd.read_csv(target, encoding="utf-8-sig")
    assert len(stats) == 2 * 11 and set(stats["platform"]) == {"all"}
    assert stats["date"].min() == "2024-06-20" and stats["date"].max() == "2024-06-30"
    assert sandbox.master_secret not in err + out.decode("utf-8")

    cache_file = Path(api_env["XDG_CACHE_HOME"]) / "jmlink-analytics" / "cache.sqlite3"
    assert cache_file.is_file()
    status, out, err = run(["cache", "info"], api_env)
    assert status == 0, err
    text = out.decode("utf-8")
    assert str(cache_file) in text and "stored days (link x platform x day): 22" in text
    assert "date span: 2024-06-20 to 2024-06-30" in text

    status, out, err = run(["cache", "clear"], api_env)
    assert status == 0, err
    assert f"cleared the cache {cache_file}" in out.decode("utf-8")
    with Store(cache_file) as store:
        assert store.info().rows == 0 and store.info().links == 0


def test_the_sandbox_command_serves_until_interrupted(clean_env):
    process = subprocess.Popen([sys.executable, "-m", "jmlink_analytics", "sandbox", "--links", "5", "--days", "10",
                                "--seed", "3"], env=clean_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        variables = {}
        for line in process.stdout:
            if line.startswith("export "):
                variables = dict(part.split("=", 1) for part in line.split()[1:])
                break
        assert set(variables) == {"JMLINK_APP_KEY", "JMLINK_MASTER_SECRET", "JMLINK_BASE_URL"}
        client = JMLinkClient.from_env(variables)
        with client:
            assert client.get_links_page().total == 5
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_a_bad_date_is_a_usage_error(clean_env):
    status, out, err = run(["stats", "--sandbox", "--start", "2024-02-30"], clean_env)
    assert status == 2
    assert "usage: jmlink-analytics stats" in err
    assert "argument --start: expected a real date as YYYY-MM-DD; got '2024-02-30'" in err
    assert out == b""


@pytest.mark.parametrize("argv, message", [
    (["stats", "--platform", "web"], "argument --platform: invalid choice: 'web'"),
    (["stats", "--days", "0"], "argument --days: expected a whole number of days from 1 to 3660"),
    (["stats", "--days", "3", "--start", "2024-06-01"], "argument --start: not allowed with argument --days"),
    (["stats", "--start", "2024-06-10", "--end", "2024-06-01"], "--start 2024-06-10 is after --end 2024-06-01"),
    (["stats", "--links", " , "], "argument --links: expected link keys"),
    (["report", "--format", "csv,pdf"], "argument --format: expected one or more of csv, png, html, parquet"),
    (["links", "--format", "parquet"], "--format parquet needs --out FILE"),
    (["links", "--cache", "a.sqlite3", "--no-cache"], "not allowed with argument --cache"),
    (["links", "--master-secret", "x"], "unrecognized arguments: --master-secret"),
    (["cache", "drop"], "argument action: invalid choice: 'drop'"),
])
def test_usage_errors_exit_2_with_argparse_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_dates_and_platforms_are_resolved():
    today = china_today()
    args = cli.parse_args(["stats", "--days", "7"])
    assert (args.start, args.end, args.platforms) == (today - dt.timedelta(days=6), today, "all")
    args = cli.parse_args(["report", "--end", "2024-06-30", "--days", "30"])
    assert (args.start, args.end, args.platforms) == (dt.date(2024, 6, 1), dt.date(2024, 6, 30), ["ios", "android"])
    args = cli.parse_args(["stats", "--start", "2024-06-01", "--platform", "ios", "--links", "a, b,a"])
    assert (args.start, args.end, args.platforms, args.links) == (dt.date(2024, 6, 1), today, "ios", ["a", "b"])
    assert cli.parse_args(["stats"]).start == today - dt.timedelta(days=cli.DEFAULT_DAYS - 1)
    assert cli.parse_args(["report", "--format", "html,PARQUET"]).format == ("html", "parquet")


def test_missing_credentials_exit_3_naming_both_variables_and_the_sandbox(clean_env):
    status, out, err = run(["links"], {**clean_env, "JMLINK_APP_KEY": "only-the-key"})
    assert status == 3
    assert out == b""
    assert "JMLINK_APP_KEY" in err and "JMLINK_MASTER_SECRET" in err and "--sandbox" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_rejected_credentials_exit_3(api_env):
    wrong = "not-the-secret-0123456789"
    status, out, err = run(["links", "--no-cache"], {**api_env, "JMLINK_MASTER_SECRET": wrong})
    assert status == 3
    assert "3002" in err and "auth failed" in err and "JMLINK_MASTER_SECRET" in err
    assert wrong not in err and "Traceback" not in err and out == b""


def test_other_api_errors_exit_4_with_the_code_and_message(api_env, sandbox):
    status, out, err = run(["stats", "--no-cache", "--start", "2024-06-01", "--end", "2024-06-02"],
                           {**api_env, "JMLINK_APP_KEY": sandbox.novip_app_key})
    assert status == 4
    assert "3010" in err and "this is vip function" in err
    assert "Traceback" not in err and out == b""


def test_a_blacklisted_app_exits_4(api_env, sandbox, monkeypatch, capsys):
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JMLINK_APP_KEY", sandbox.blacklisted_app_key)
    assert cli.main(["links", "--no-cache"]) == cli.EXIT_API
    err = capsys.readouterr().err
    assert "3009" in err and "app in black" in err


def test_an_unknown_link_key_in_a_report_is_a_usage_error(api_env, monkeypatch, capsys, tmp_path):
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["report", "--no-cache", "--links", "nope", "--out", str(tmp_path / "r")]) == cli.EXIT_USAGE
    assert "no such link key(s) in the app: nope" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_an_unusable_cache_exits_1_without_a_traceback(api_env, tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    status, out, err = run(["links", "--cache", str(junk)], api_env)
    assert status == 1 and out == b""
    assert "not a jmlink-analytics cache" in err and "Traceback" not in err


def test_verbose_shows_the_traceback_and_unexpected_errors_exit_1(api_env, monkeypatch, capsys):
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)

    def broken(*args, **kwargs):
        raise RuntimeError("something broke")

    monkeypatch.setattr("jmlink_analytics.data.fetch_links", broken)
    assert cli.main(["links", "--no-cache"]) == cli.EXIT_UNEXPECTED
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: something broke" in err and "-v" in err and "Traceback" not in err
    assert cli.main(["links", "--no-cache", "-v"]) == cli.EXIT_UNEXPECTED
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_links_as_parquet_and_json_files(api_env, sandbox, monkeypatch, tmp_path, capsys):
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["links", "--no-cache", "--out", str(tmp_path / "links.parquet")]) == 0
    links = pd.read_parquet(tmp_path / "links.parquet")
    assert links["link_key"].tolist() == [link["link_key"] for link in sandbox.app.links]
    assert cli.main(["links", "--no-cache", "--out", str(tmp_path / "links.json"), "--no-progress"]) == 0
    records = json.loads((tmp_path / "links.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in records] == [link["name"] for link in sandbox.app.links]
    out = capsys.readouterr().out
    assert f"as PARQUET to {tmp_path / 'links.parquet'}" in out and f"as JSON to {tmp_path / 'links.json'}" in out


def test_the_cache_commands_on_a_missing_cache_touch_nothing(tmp_path, capsys):
    path = tmp_path / "none" / "cache.sqlite3"
    assert cli.main(["cache", "info", "--cache", str(path)]) == 0
    assert cli.main(["cache", "clear", "--cache", str(path)]) == 0
    assert f"no cache at {path}" in capsys.readouterr().out
    assert not path.parent.exists()


def test_an_app_without_links_has_no_report_and_exits_1(make_sandbox, clean_env, monkeypatch, capsys, tmp_path):
    empty = make_sandbox(links=0)
    for name, value in {"JMLINK_APP_KEY": empty.app_key, "JMLINK_MASTER_SECRET": empty.master_secret,
                        "JMLINK_BASE_URL": empty.base_url}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["report", "--no-cache", "--out", str(tmp_path / "r")]) == cli.EXIT_UNEXPECTED
    assert "has no links: there is nothing to report" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_csv_files_without_a_bom_on_request(api_env, monkeypatch, tmp_path):
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["links", "--no-cache", "--out", str(tmp_path / "a.csv"), "--encoding", "utf-8"]) == 0
    assert cli.main(["links", "--no-cache", "--out", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes().startswith(b"id,link_key,")
    assert (tmp_path / "b.csv").read_bytes().startswith(BOM + b"id,link_key,")


def test_missing_credentials_create_no_cache(clean_env, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", clean_env["XDG_CACHE_HOME"])
    for name in ("JMLINK_APP_KEY", "JMLINK_MASTER_SECRET", "JMLINK_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["links"]) == cli.EXIT_AUTH
    assert not (tmp_path / "xdg-cache").exists()


# ---------------------------------------------------------------------------- issue 14 / issue 11: the command's edges
def run_on_a_terminal(args, env, *, timeout=90):
    """Run with stderr on a pseudo-terminal (stdout piped); return status, stdout bytes and the terminal's text."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    process = subprocess.Popen([sys.executable, "-m", "jmlink_analytics", *args], env=env, stdout=subprocess.PIPE,
                               stderr=terminal)
    os.close(terminal)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], timeout)
            if not ready:
                raise TimeoutError("no output from the command")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        out = process.stdout.read()
        status = process.wait(timeout=timeout)
    finally:
        os.close(controller)
        process.stdout.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    return status, out, b"".join(chunks).decode("utf-8", "replace")


def test_the_progress_bar_is_drawn_on_a_terminal_only(clean_env, sandbox_keys):
    args = ["stats", "--sandbox", "--links", ",".join(sandbox_keys[:5]), "--days", "3", "--platform", "split"]
    status, out, err = run_on_a_terminal(args, clean_env)
    assert status == 0, err
    assert "jmlink stats" in err and "10/10" in err  # a terminal: the bar, 10 requests
    status, out, err = run(args, clean_env)  # stderr redirected: no frame, only the status lines
    assert status == 0, err
    assert "\r" not in err and "jmlink stats" not in err
    assert len(err.strip().splitlines()) <= 4, err
    status, out, err = run_on_a_terminal([*args, "--no-progress"], clean_env)  # --no-progress: silent, even there
    assert status == 0 and err == ""
    assert len(pd.read_csv(io.BytesIO(out))) == 5 * 2 * 3


@pytest.mark.parametrize("argv", [["-v", "links", "--no-cache"], ["links", "--no-cache", "-v"],
                                  ["-v", "links", "--no-cache", "-v"]])
def test_verbose_works_before_or_after_the_command(argv, api_env, monkeypatch, capsys):
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)

    def broken(*args, **kwargs):
        raise RuntimeError("something broke")

    monkeypatch.setattr("jmlink_analytics.data.fetch_links", broken)
    assert cli.main(argv) == cli.EXIT_UNEXPECTED
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert cli.parse_args(argv).verbose == argv.count("-v")


def test_verbose_before_the_command_as_a_user_types_it(clean_env):
    status, _out, err = run(["-vv", "links", "--sandbox", "--no-progress"], clean_env)
    assert status == 0, err
    assert "DEBUG" in err  # -vv: debug logs, HTTP requests included


@pytest.mark.parametrize("make_out, command, message", [
    (lambda d: d, "stats", "is a folder: give a file name"),                     # an existing folder for a file
    (lambda d: d / "a-file.txt" / "stats.csv", "stats", "a-file.txt is a file, not a folder"),
    (lambda d: d / "a-file.txt" / "deeper" / "x.csv", "links", "a-file.txt is a file, not a folder"),
    (lambda d: d / "a-file.txt", "report", "exists and is not a folder"),         # report --out is a folder
    (lambda d: d / "a-pipe", "links", "is not a regular file"),                   # a FIFO (like /dev/stdout)
])
def test_out_is_checked_before_anything_is_fetched(make_out, command, message, api_env, sandbox, tmp_path):
    (tmp_path / "a-file.txt").write_text("keep me")
    os.mkfifo(tmp_path / "a-pipe")  # never a real device: a regression would replace it with a file
    out = make_out(tmp_path)
    before = len(sandbox.requests)
    status, stdout, err = run([command, "--no-cache", "--out", str(out)], api_env)
    assert status == 2, err
    assert f"--out {out}" in err and message in err
    assert ".tmp" not in err and "Traceback" not in err and stdout == b""
    assert len(sandbox.requests) == before  # refused before any request
    assert (tmp_path / "a-file.txt").read_text() == "keep me"


def test_out_is_checked_before_credentials(clean_env, tmp_path):
    status, _out, err = run(["stats", "--out", str(tmp_path)], clean_env)  # no credentials set either
    assert status == 2 and f"--out {tmp_path} is a folder" in err


def test_a_write_failure_names_the_users_path_not_a_temporary_file(api_env, monkeypatch, capsys, tmp_path):
    for name, value in api_env.items():
        monkeypatch.setenv(name, value)
    target = tmp_path / "links.csv"

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(src))  # what os.replace says: the temporary file

    monkeypatch.setattr("jmlink_analytics.export._csv.os.replace", refuse)
    assert cli.main(["links", "--no-cache", "--out", str(target)]) == cli.EXIT_UNEXPECTED
    err = capsys.readouterr().err
    assert f"cannot write --out {target}: " in err and f"{target}: Permission denied" in err
    assert ".tmp" not in err and not list(tmp_path.glob("*links*"))  # no temporary file left beside the target


def test_an_unknown_link_key_in_stats_is_named_before_fetching_stats(api_env, sandbox):
    good = sandbox.app.links[0]["link_key"]
    before = len(sandbox.requests)
    status, out, err = run(["stats", "--no-cache", "--links", f"NOPE,{good},GNdD", "--days", "3"], api_env)
    assert status == 2, err
    assert "no such link key(s) in the app: NOPE, GNdD" in err
    assert "3005" not in err and "Traceback" not in err and out == b""
    assert not [r for r in sandbox.requests[before:] if r.path.endswith("/stat")]  # no stats request was sent


@pytest.mark.parametrize("argv, message", [
    (["stats", "--end", "2999-01-01"], "--end 2999-01-01 is in the future"),
    (["stats", "--start", "2999-01-01"], "--start 2999-01-01 is in the future"),
    (["report", "--start", "2024-01-01", "--end", "2999-01-02"], "--end 2999-01-02 is in the future"),
    (["stats", "--days", "-5"], "argument --days: expected a whole number of days from 1 to 3660; got '-5'"),
    (["stats", "--days", "3661"], "argument --days: expected a whole number of days from 1 to 3660"),
    (["stats", "--days", "99999999999999999999"], "argument --days: expected a whole number of days from 1 to"),
    (["stats", "--start", "1900-01-01"], "spans"),
    (["stats", "--links", "AbC1,x\ny"], "control character"),
    (["links", "--out", "a\tb.csv"], "control character"),
    (["report", "--out", "rep\x1b[31mort"], "control character"),
])
def test_absurd_arguments_exit_2_with_a_message(argv, message, clean_env):
    status, out, err = run(argv, clean_env)
    assert status == 2, err
    assert message in err and "Traceback" not in err and out == b""


def test_a_nul_in_an_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["links", "--sandbox", "--out", "a\x00b.csv"])  # possible from Python, not from a shell
    assert exit_info.value.code == 2
    assert "control character" in capsys.readouterr().err


def test_csv_on_stdout_quotes_every_cell_with_a_line_break(make_sandbox, clean_env):
    sandbox = make_sandbox(links=3, days=2)
    evil = ["line\rbreak", "two\nlines", "=HYPERLINK(\"http://x\")"]
    for link, name in zip(sandbox.app.links, evil, strict=True):
        link["name"] = name
    env = {**clean_env, "JMLINK_APP_KEY": sandbox.app_key, "JMLINK_MASTER_SECRET": sandbox.master_secret,
           "JMLINK_BASE_URL": sandbox.base_url}
    status, out, err = run(["links", "--no-cache"], env)
    assert status == 0, err
    text = out.decode("utf-8")
    assert '"line\rbreak"' in text and '"two\nlines"' in text  # quoted: a CR or LF never ends a row
    assert "'=HYPERLINK" in text  # formulas are still neutralized
    import csv

    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + 3 and len({len(r) for r in rows}) == 1  # header + 3 rows, all the same width
    names = [r[rows[0].index("name")] for r in rows[1:]]
    assert names == ["line\rbreak", "two\nlines", "'=HYPERLINK(\"http://x\")"]


@pytest.mark.parametrize("argv", [["report", "--sandbox", "--format", "csv,parquet"],
                                  ["stats", "--sandbox", "--out", "x.parquet"]])
def test_parquet_without_pyarrow_is_refused_before_fetching(argv, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as in a fresh `pip install jmlink-analytics`
    monkeypatch.setattr("jmlink_analytics.sandbox.Sandbox.start", lambda self: pytest.fail("fetched anyway"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "Parquet output needs pyarrow" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- issue 20: every range, N days against N
@pytest.mark.parametrize("days", [1, 2, 3, 7, 30, 365])
def test_report_at_every_range_compares_equal_periods(days, tmp_path, capsys):
    out = tmp_path / "report"
    status = cli.main(["report", "--sandbox", "--days", str(days), "--out", str(out), "--no-progress",
                       "--format", "csv,html"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    page = (out / "index.html").read_text(encoding="utf-8")
    daily = pd.read_csv(out / "daily.csv", encoding="utf-8-sig")
    today = china_today()
    start = today - dt.timedelta(days=days - 1)
    assert daily["date"].min() == f"{start:%Y-%m-%d}" and daily["date"].max() == f"{today:%Y-%m-%d}"
    complete = days - 2  # today and yesterday are partial
    if complete < 1:
        assert not (out / "period_comparison.csv").exists() and "No change is shown: only partial days" in page
    else:  # the days before were fetched too: N complete days against the N before
        before = start - dt.timedelta(days=complete)
        assert f"against the {complete:,} before ({before:%Y-%m-%d} to " in page
        assert (out / "period_comparison.csv").is_file()


def test_report_from_yesterday_to_today_works(tmp_path, capsys):
    today = china_today()
    status = cli.main(["report", "--sandbox", "--start", f"{today - dt.timedelta(days=1):%Y-%m-%d}", "--end",
                       f"{today:%Y-%m-%d}", "--out", str(tmp_path), "--no-progress", "--format", "html"])
    assert status == 0, capsys.readouterr().err
    assert "only partial days" in (tmp_path / "index.html").read_text(encoding="utf-8")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys")
@pytest.mark.parametrize("command, out", [("stats", "/sys/kernel/x.csv"), ("links", "/sys/kernel/x.csv"),
                                          ("report", "/sys/kernel/x")])
def test_an_unwritable_out_exits_2_before_any_request(command, out, api_env, sandbox):
    # as root os.access says yes to /sys/kernel; only a real file tells (issue 20: it fetched, then exited 1)
    before = len(sandbox.requests)
    status, stdout, err = run([command, "--no-cache", "--out", out], api_env)
    assert status == 2, err
    assert f"--out {out}: cannot write in /sys/kernel" in err and stdout == b""
    assert len(sandbox.requests) == before


def test_stats_out_has_the_columns_of_the_reports_daily_csv(api_env, sandbox, tmp_path):
    keys = [link["link_key"] for link in sandbox.app.links[:2]]
    target = tmp_path / "stats.csv"
    status, _out, err = run(["stats", "--no-cache", "--days", "5", "--links", ",".join(keys), "--out", str(target)],
                            api_env)
    assert status == 0, err
    stats = pd.read_csv(target, encoding="utf-8-sig")
    assert list(stats.columns[:3]) == ["link_key", "name", "channel"]
    assert {"ctr", "open_rate", "install_rate", "is_partial"} <= set(stats.columns)
    names = {link["link_key"]: link["name"] for link in sandbox.app.links}
    assert all(names[k] == n for k, n in zip(stats["link_key"], stats["name"], strict=True))
