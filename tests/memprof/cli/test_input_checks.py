"""Issue 15 at the command line: empty or zero work is an error, not data; inputs people have
(gzip din, standard input); the trace's line size; parameters for models not selected; a
repeated sweep axis; another run's checkpoint is never overwritten silently."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from traces.format.tracefile import write_trace

SMALL = ["--workload", "1000,2000", "--batches", "2", "--batch-size", "64", "--no-progress"]


def _run(args, **kw):
    return CliRunner().invoke(main, args, **kw)


def _last_line(result) -> str:
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def addrs():
    return (np.random.default_rng(3).integers(0, 4000, 6000) * 64).astype(np.uint64)


def test_a_huge_cardinality_is_one_line_not_an_overflow():
    result = _run(["simulate", "--workload", "99999999999999999999", "--no-progress"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "99,999,999,999,999,999,999 rows" in _last_line(result) and "address space" in _last_line(result)


@pytest.mark.parametrize("command", ["simulate", "mrc"])
@pytest.mark.parametrize("name", ["e.npy", "e.din"])
def test_an_empty_trace_is_an_error_and_writes_nothing(tmp_path, command, name):
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, np.zeros(0, np.uint64))
    else:
        path.write_bytes(b"")
    out = tmp_path / "out.csv"
    result = _run([command, "--trace", str(path), "--no-progress", "-o", str(out)])
    assert result.exit_code != 0 and not out.exists()
    assert f"{name}: the trace holds no accesses" in _last_line(result)


def test_zero_lookups_give_no_ratio():
    table = _run(["simulate", *SMALL, "--pooling", "0", "--llc", "1MB"])
    assert table.exit_code == 0, table.output
    rows = [line for line in table.stdout.splitlines() if line.startswith(("dlrm", "memrec"))]
    assert len(rows) == 2 and all(row.count("unavailable (no lookups)") == 3 for row in rows)
    doc = json.loads(_run(["simulate", *SMALL, "--pooling", "0", "--llc", "1MB", "--format", "json"]).stdout)
    records = doc["rows"] if "rows" in doc else doc["data"]
    assert all(r[c] is None for r in records for c in ("cycles_ratio", "llc_misses_ratio", "dram_bw_ratio"))
    assert doc["metadata"]["ratios_unavailable"] == {"dlrm": "no lookups", "memrec": "no lookups"}
    normal = _run(["simulate", *SMALL, "--llc", "1MB", "--format", "csv"])
    ratios = pd.read_csv(io.StringIO(normal.stdout))["cycles_ratio"]
    assert ratios.notna().all()  # with lookups every ratio is measured


def test_an_empty_dataset_says_so_for_simulate_and_trace(tmp_path):
    data = tmp_path / "empty.tsv"
    data.write_bytes(b"")
    result = _run(["simulate", "--data", str(data), "--no-progress"])
    assert result.exit_code != 0 and "empty.tsv: the dataset has no rows" in _last_line(result)
    assert "warm-up" not in result.output
    out = tmp_path / "e.trace"
    result = _run(["trace", "--data", str(data), "-o", str(out)])
    assert result.exit_code != 0 and "the dataset has no rows" in _last_line(result) and not out.exists()
    result = _run(["trace", "--workload", "100,200", "--pooling", "0", "--batches", "2", "-o", str(out)])
    assert result.exit_code == 2 and "reads nothing" in _last_line(result) and not out.exists()


def test_gzip_din_and_stdin_give_the_file_s_rows(tmp_path, addrs):
    din = "".join(f"{i % 2} {int(a):x}\n" for i, a in enumerate(addrs)).encode()
    plain, packed, trace = tmp_path / "t.din", tmp_path / "t.din.gz", tmp_path / "t.trace"
    plain.write_bytes(din)
    packed.write_bytes(gzip.compress(din))
    write_trace(trace, [addrs], {"line_bytes": 64})
    args = ["simulate", "--llc", "64KB", "--format", "csv", "--no-progress", "--trace"]
    want = pd.read_csv(io.StringIO(_run([*args, str(plain)]).stdout)).drop(columns="trace")
    assert want["accesses"].iloc[0] == addrs.size
    for source, stdin in ((str(packed), None), ("-", gzip.compress(din)), ("-", din)):
        result = _run([*args, source], input=stdin)
        assert result.exit_code == 0, result.output
        assert pd.read_csv(io.StringIO(result.stdout)).drop(columns="trace").equals(want)
    mrc = ["mrc", "--format", "csv", "--no-progress", "--trace"]
    from_file = pd.read_csv(io.StringIO(_run([*mrc, str(trace)]).stdout)).drop(columns="representation")
    from_stdin = _run([*mrc, "-"], input=trace.read_bytes())
    assert from_stdin.exit_code == 0, from_stdin.output
    assert pd.read_csv(io.StringIO(from_stdin.stdout)).drop(columns="representation").equals(from_file)
    assert len(from_file) > 10


def test_two_pass_options_on_stdin_say_so(addrs):
    din = "".join(f"0 {int(a):x}\n" for a in addrs).encode()
    result = _run(["simulate", "--trace", "-", "--warmup", "0.1", "--no-progress"], input=din)
    assert result.exit_code == 2 and "standard input cannot give" in _last_line(result)
    result = _run(["sweep", "--trace", "-", "--param", "ways=4,8", "--no-progress"], input=din)
    assert result.exit_code == 2 and "standard input can be read once" in _last_line(result)
    npy = io.BytesIO()
    np.save(npy, addrs)
    result = _run(["simulate", "--trace", "-", "--no-progress"], input=npy.getvalue())
    assert result.exit_code != 0 and "not from standard input" in _last_line(result)


def test_the_trace_header_line_size_wins_or_conflicts(tmp_path, addrs):
    path = tmp_path / "l128.trace"
    write_trace(path, [addrs * np.uint64(2)], {"line_bytes": 128})
    for command in (["simulate", "--llc", "1MB"], ["mrc"]):
        result = _run([*command, "--trace", str(path), "--line", "64", "--no-progress"])
        assert result.exit_code == 2
        assert "64 B" in _last_line(result) and "128 B lines" in _last_line(result)
    result = _run(["simulate", "--llc", "1MB", "--trace", str(path), "--no-progress", "--format", "csv"])
    assert result.exit_code == 0 and "using the trace's line size, 128 B" in result.stderr
    assert pd.read_csv(io.StringIO(result.stdout))["line_bytes"].tolist() == [128]


def test_a_parameter_of_an_unselected_model_and_a_repeated_axis_are_errors():
    result = _run(["simulate", *SMALL, "--param", "robe.chunk=16"])
    assert result.exit_code == 2 and "robe.chunk=16" in _last_line(result)
    assert "robe is not among the selected models (dlrm, memrec)" in _last_line(result)
    result = _run(["sweep", *SMALL, "--param", "ways=8", "--param", "ways=16"])
    assert result.exit_code == 2 and "ways given twice" in _last_line(result)
    result = _run(["sweep", *SMALL, "--param", "d=1000", "--param", "memrec.d=2000"])
    assert result.exit_code == 2 and "memrec.d given twice" in _last_line(result)


def test_another_run_s_checkpoint_is_refused_unless_overwritten(tmp_path, addrs):
    trace = tmp_path / "t.npy"
    np.save(trace, addrs)
    ck = tmp_path / "ck"
    ck.mkdir()
    saved = ck / "simulate-trace.ckpt.npz"
    saved.write_bytes(b"another run's state")
    args = ["simulate", "--trace", str(trace), "--llc", "64KB", "--no-progress", "--checkpoint", str(ck)]
    result = _run(args)
    assert result.exit_code != 0 and "--overwrite-checkpoint" in _last_line(result)
    assert saved.read_bytes() == b"another run's state"
    result = _run([*args, "--overwrite-checkpoint"])
    assert result.exit_code == 0, result.output
    assert not saved.exists()  # replaced, then removed by the finished run, as asked
    result = _run([*args, "--resume", "--overwrite-checkpoint"])
    assert result.exit_code == 2 and "give one" in _last_line(result)
