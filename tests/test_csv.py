"""to_csv: what Excel users rely on (BOM, no formula injection, plain dates, Chinese) and atomic replacement."""

from __future__ import annotations

import csv
import io
import os
import stat

import numpy as np
import pandas as pd
import pytest

from jmlink_analytics import to_csv

BOM = b"\xef\xbb\xbf"


def _rows(path, encoding="utf-8-sig"):
    """The file's cells as text, exactly as written (no type inference)."""
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def test_bom_by_default_and_absent_with_plain_utf8(tmp_path):
    df = pd.DataFrame({"name": ["微信推广"], "clicks": [3]})
    with_bom = to_csv(df, tmp_path / "a.csv")
    without = to_csv(df, tmp_path / "b.csv", encoding="utf-8")
    assert with_bom.read_bytes().startswith(BOM + b"name,clicks")
    assert without.read_bytes().startswith(b"name,clicks")
    assert BOM not in without.read_bytes()
    assert with_bom == tmp_path / "a.csv"


@pytest.mark.parametrize("encoding", ["UTF8", "utf_8_sig", "UTF-8-SIG"])
def test_encoding_aliases_are_accepted(tmp_path, encoding):
    path = to_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv", encoding=encoding)
    assert path.read_bytes().startswith(BOM) == ("sig" in encoding.lower())


@pytest.mark.parametrize("encoding", ["latin-1", "gbk", "no-such-codec", "utf-16"])
def test_other_encodings_are_refused_naming_the_allowed_ones(tmp_path, encoding):
    with pytest.raises(ValueError, match="utf-8-sig.*utf-8"):
        to_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv", encoding=encoding)
    assert not (tmp_path / "a.csv").exists()


@pytest.mark.parametrize("text", ["=1+1", "+86 138", "-2", "@SUM(A1)", "\tcmd", "\rcmd", "＝1+1"])
def test_text_cells_that_start_a_formula_are_neutralized(tmp_path, text):
    df = pd.DataFrame({
        "object": pd.Series([text, "ok"], dtype=object),
        "string": pd.array([text, "ok"], dtype="string"),
        "category": pd.Categorical([text, "ok"]),
    })
    rows = _rows(to_csv(df, tmp_path / "a.csv"))
    assert rows[1] == ["'" + text] * 3
    assert rows[2] == ["ok"] * 3


def test_numbers_booleans_and_dates_are_never_touched(tmp_path):
    df = pd.DataFrame({
        "int": [-5, 7],
        "float": [-0.25, 1.5],
        "nullable": pd.array([-3, None], dtype="Int64"),
        "flag": [True, False],
        "day": pd.to_datetime(["2024-06-01", "2024-06-02"]),
        "label": ["-5", "a-b"],
    })
    rows = _rows(to_csv(df, tmp_path / "a.csv"))
    assert rows[1] == ["-5", "-0.25", "-3", "True", "2024-06-01", "'-5"]
    assert rows[2] == ["7", "1.5", "", "False", "2024-06-02", "a-b"]
    back = pd.read_csv(tmp_path / "a.csv", encoding="utf-8-sig")
    assert back["int"].tolist() == [-5, 7]
    assert back["float"].tolist() == [-0.25, 1.5]


def test_text_in_the_middle_and_column_names_follow_the_rule(tmp_path):
    df = pd.DataFrame({"=bad": ["a=b", "微信 - 推广", "x@y"]})
    rows = _rows(to_csv(df, tmp_path / "a.csv"))
    assert rows == [["'=bad"], ["a=b"], ["微信 - 推广"], ["x@y"]]


def test_sanitize_false_writes_text_as_is(tmp_path):
    df = pd.DataFrame({"formula": ["=1+1", "-x"]})
    rows = _rows(to_csv(df, tmp_path / "a.csv", sanitize=False))
    assert rows == [["formula"], ["=1+1"], ["-x"]]


def test_chinese_text_round_trips_through_pandas(tmp_path):
    df = pd.DataFrame({
        "name": ["春季大促·微信", "抖音「直播」", None, ""],
        "channel": pd.Categorical(["微信", "抖音", "小红书", "短信"]),
        "clicks": [1, 2, 3, 4],
    })
    for encoding in ("utf-8-sig", "utf-8"):
        path = to_csv(df, tmp_path / f"{encoding}.csv", encoding=encoding)
        back = pd.read_csv(path, encoding=encoding, keep_default_na=False)
        assert back["name"].tolist() == ["春季大促·微信", "抖音「直播」", "", ""]
        assert back["channel"].tolist() == ["微信", "抖音", "小红书", "短信"]
        assert back["clicks"].tolist() == [1, 2, 3, 4]


def test_dates_are_written_as_plain_days_or_with_the_time_when_there_is_one(tmp_path):
    df = pd.DataFrame({
        "date": pd.to_datetime(["2024-06-01", None, "2024-06-03"]),
        "create_time": pd.to_datetime(["2024-06-01 09:30:00", "2024-06-02 00:00:00", None]),
        "objects": pd.Series([pd.Timestamp("2024-06-05"), pd.Timestamp("2024-06-05 08:00"), None], dtype=object),
    })
    rows = _rows(to_csv(df, tmp_path / "a.csv"))
    assert rows[1:] == [
        ["2024-06-01", "2024-06-01 09:30:00", "2024-06-05"],
        ["", "2024-06-02 00:00:00", "2024-06-05 08:00:00"],
        ["2024-06-03", "", ""],
    ]


def test_a_named_index_is_written_and_row_numbers_are_not(tmp_path):
    df = pd.DataFrame({"channel": ["微信", "QQ", "微信"], "clicks": [1, 2, 3]})
    grouped = df.groupby("channel")["clicks"].sum().to_frame()
    assert _rows(to_csv(grouped, tmp_path / "g.csv")) == [["channel", "clicks"], ["QQ", "2"], ["微信", "4"]]
    assert _rows(to_csv(df, tmp_path / "d.csv"))[0] == ["channel", "clicks"]


def test_the_frame_is_not_modified(tmp_path):
    df = pd.DataFrame({"a": ["=1"], "d": pd.to_datetime(["2024-01-01"])})
    before = df.copy()
    to_csv(df, tmp_path / "a.csv")
    pd.testing.assert_frame_equal(df, before)


def test_parent_folders_are_created_and_the_file_replaced(tmp_path):
    target = tmp_path / "deep" / "er" / "a.csv"
    to_csv(pd.DataFrame({"a": [1]}), target)
    to_csv(pd.DataFrame({"a": [2]}), target)
    assert _rows(target) == [["a"], ["2"]]
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.csv"]


def test_a_failed_write_leaves_the_old_file_intact_and_no_temporary_file(tmp_path, monkeypatch):
    target = to_csv(pd.DataFrame({"a": ["good"]}), tmp_path / "a.csv")
    good = target.read_bytes()
    real_to_csv = pd.DataFrame.to_csv

    def half_then_fail(self, handle, **kwargs):
        real_to_csv(self.head(1), handle, **kwargs)  # some bytes reach the temporary file
        handle.flush()
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    big = pd.DataFrame({"a": np.arange(1000)})
    with pytest.raises(OSError, match="disk full"):
        to_csv(big, target)
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_an_interrupted_first_write_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(self, handle, **kwargs):
        handle.write("a\r\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        to_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_raise_before_writing(tmp_path):
    with pytest.raises(TypeError, match="DataFrame"):
        to_csv([1, 2], tmp_path / "a.csv")
    with pytest.raises(TypeError, match="sanitize"):
        to_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv", sanitize="yes")
    with pytest.raises(TypeError, match="path"):
        to_csv(pd.DataFrame({"a": [1]}), io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_multiindex_column_headers_are_neutralized_on_every_level(tmp_path):
    df = pd.DataFrame({"day": ["2024-06-01", "2024-06-01"], "channel": ["=HYPERLINK(\"x\")", "-2+3"],
                       "clicks": [1, 2]})
    wide = df.pivot_table(index="day", columns="channel", values=["clicks"], aggfunc="sum")
    wide.columns = wide.columns.set_levels(["@SUM(A1)"], level=0)
    rows = _rows(to_csv(wide, tmp_path / "wide.csv"))
    cells = [cell for row in rows for cell in row]
    assert "'@SUM(A1)" in cells and "'=HYPERLINK(\"x\")" in cells and "'-2+3" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert rows[-1] == ["2024-06-01", "2", "1"]  # the numbers stay numbers (columns sorted: "-2+3" first)
    raw = _rows(to_csv(wide, tmp_path / "raw.csv", sanitize=False))
    assert "=HYPERLINK(\"x\")" in [cell for row in raw for cell in row]


@pytest.mark.parametrize("n", [3000, 140_000], ids=["one chunk", "three chunks"])
def test_the_fast_writer_writes_exactly_what_pandas_writes(tmp_path, n):
    from jmlink_analytics.export._csv import prepare_frame

    rng = np.random.default_rng(3)
    texts = np.array(["a,b", 'say "hi"', "two\nlines", "cr\rx", "", "=SUM(A1)", "微信", " padded ", "-2", "'q"],
                     dtype=object)
    frame = pd.DataFrame({
        "text": rng.choice(texts, n), "ints": rng.integers(-5, 10**12, n), "rates": rng.random(n).round(6),
        "flags": rng.random(n) > 0.5, "category": pd.Categorical(rng.choice(texts, n)),
        "string": pd.array(rng.choice(texts, n), dtype="string"),
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 100, n), "D"),
        "tiny": np.where(rng.random(n) > 0.8, np.nan, rng.random(n) * 1e-5),
        "inf": np.where(rng.random(n) > 0.9, np.inf, 1.5), "huge": rng.random(n) * 1e20,
        "mixed": pd.Series(rng.choice(np.array([None, 1, 2.5, "x", float("nan"), True], dtype=object), n)),
    })
    frame.loc[3, "text"] = None
    path = to_csv(frame, tmp_path / "a.csv")
    expected = prepare_frame(frame).to_csv(index=False, lineterminator="\r\n")
    assert path.read_bytes() == BOM + expected.encode("utf-8")


def test_a_failed_fast_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    from jmlink_analytics.export import _csv

    target = to_csv(pd.DataFrame({"a": ["good"], "b": [1]}), tmp_path / "a.csv")
    good = target.read_bytes()

    def header_then_fail(frame, **kwargs):
        yield "a,b\r\n"
        raise OSError("disk full")

    monkeypatch.setattr(_csv, "csv_chunks", header_then_fail)
    with pytest.raises(OSError, match="disk full"):
        to_csv(pd.DataFrame({"a": ["new"] * 10, "b": range(10)}), target)
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_a_fifo_or_a_folder_at_the_path_is_refused_and_left_as_it_is(tmp_path):
    # os.replace would rename the file over them: as root, `to_csv(df, "/dev/null")` replaced the device
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    for target, words in ((fifo, "not a regular file"), (folder, "a folder")):
        with pytest.raises(ValueError, match=f"path must be a regular file.*{words}"):
            to_csv(pd.DataFrame({"a": [1]}), target)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and folder.is_dir() and not list(folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.csv", "pipe.csv"]  # no temporary file left


# -- counts, NUL characters, a full disk --------------------------------------------------------
def test_counts_held_as_floats_are_written_as_integers(tmp_path):
    frame = pd.DataFrame({"actual": [2464.0, 0.0, np.nan], "expected": [10.5, 2.0, 3.0],
                          "click_count_change": [1.0, -2.0, 3.0], "score": [2.0, 1.0, 0.0],
                          "ctr": [1.0, 0.0, 0.5]})
    rows = _rows(to_csv(frame, tmp_path / "a.csv"))
    assert rows[1:] == [["2464", "10.5", "1", "2.0", "1.0"], ["0", "2.0", "-2", "1.0", "0.0"],
                        ["", "3.0", "3", "0.0", "0.5"]]  # counts whole; a fractional count, scores, rates: as they are


def test_the_reports_anomalies_csv_has_integer_counts(tmp_path):
    from jmlink_analytics import write_report

    days = pd.date_range("2024-01-01", periods=60)
    clicks = np.full(60, 100)
    clicks[40] = 2464
    stats = pd.DataFrame({"link_key": "AAAA", "platform": pd.Categorical(["all"] * 60, categories=["all", "ios",
                                                                                                     "android"]),
                          "date": days, "exposure_count": clicks * 5, "click_count": clicks, "open_count": clicks // 2,
                          "install_count": clicks // 4, "is_partial": False})
    write_report(stats, None, tmp_path, formats=("csv",))
    anomalies = pd.read_csv(tmp_path / "anomalies.csv", encoding="utf-8-sig", dtype=str)
    assert "2464" in set(anomalies["actual"]) and not anomalies["actual"].str.contains(r"\.").any()


def test_nul_characters_are_dropped_with_a_warning_and_the_row_kept(tmp_path, caplog):
    frame = pd.DataFrame({"name": ["a\x00b", "ok", "\x00"], "n": [1, 2, 3]})
    with caplog.at_level("WARNING", logger="jmlink_analytics"):
        path = to_csv(frame, tmp_path / "a.csv")
    assert b"\x00" not in path.read_bytes()
    assert _rows(path) == [["name", "n"], ["ab", "1"], ["ok", "2"], ["", "3"]]
    assert "'name'" in caplog.text and "NUL" in caplog.text


_WRITE_A_BIG_TABLE = """
import json, resource, signal, sys
import numpy as np, pandas as pd
from jmlink_analytics import to_csv, to_excel
from jmlink_analytics.export import _excel
_excel.CONSTANT_MEMORY_ROWS = 10  # XlsxWriter's row files on disk, as for a large sheet
kind, target, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = 30_000
frame = pd.DataFrame({"name": [f"活动 {i}" for i in range(n)], "click_count": np.arange(n)})
if limit:  # every file this process writes may hold `limit` bytes: a write past it fails with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    {"csv": to_csv, "xlsx": to_excel}[kind](frame, target)
    print(json.dumps(None))
except OSError as error:
    print(json.dumps({"errno": error.errno, "message": str(error), "filename": error.filename}))
"""


def write_until_the_disk_is_full(kind, folder, how):
    """Write a table of 30,000 rows to ``folder/big.<kind>`` where it cannot fit; the OSError's fields.

    ``how`` is "tmpfs" (a 64 KiB file system of its own: ENOSPC, as a full disk; needs root)
    or "rlimit" (RLIMIT_FSIZE of 50 kB per file in the writing process: EFBIG).
    """
    import json
    import subprocess
    import sys

    if how == "tmpfs":
        if os.geteuid() != 0:
            pytest.skip("mounting a tiny tmpfs needs root")
        folder.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                          capture_output=True).returncode:
            pytest.skip("this machine does not let us mount a tmpfs")
    try:
        target = folder / f"big.{kind}"
        result = subprocess.run([sys.executable, "-c", _WRITE_A_BIG_TABLE, kind, str(target),
                                 "50000" if how == "rlimit" else "0"], capture_output=True, text=True, check=True)
        error = json.loads(result.stdout.strip().splitlines()[-1])
        left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    finally:
        if how == "tmpfs":
            subprocess.run(["umount", str(folder)], check=True)
    return target, error, left


@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_a_full_disk_names_the_users_file_and_leaves_no_temporary_file(tmp_path, how):
    import errno

    target, error, left = write_until_the_disk_is_full("csv", tmp_path / "disk", how)
    assert error is not None, "the write was expected to fail"
    assert error["errno"] == (errno.ENOSPC if how == "tmpfs" else errno.EFBIG)
    assert str(target) in error["message"] and error["filename"] == str(target)
    assert left == []
