"""``memprof mrc``: options, outputs and errors (small inputs with analytic answers)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from memprof.cli.mrc import parse_size_spec

MB = 1 << 20
K_LINES = 3000
ROUNDS = 4


@pytest.fixture()
def cyclic_npy(tmp_path):
    # K lines cycled ROUNDS times: LRU misses every access below K lines, only K above
    path = tmp_path / "cyclic.npy"
    np.save(path, np.tile(np.arange(K_LINES, dtype=np.uint64) * np.uint64(64), ROUNDS))
    return path


def run(*args):
    return CliRunner().invoke(main, ["mrc", *map(str, args)])


def test_size_spec_range_and_list():
    sizes = parse_size_spec("1MB..128MB", points=8)
    assert sizes[0] == MB and sizes[-1] == 128 * MB
    assert {14 * MB, 28 * MB, 56 * MB} <= set(sizes)
    assert sizes == sorted(sizes)
    assert parse_size_spec("56MB,14MB,14m") == [14 * MB, 56 * MB]
    for bad in ("8MB..1MB", "1MB..", "lots", ""):
        with pytest.raises(ValueError):
            parse_size_spec(bad)


def test_trace_file_curve_csv(cyclic_npy):
    below, at = (K_LINES - 1) * 64, K_LINES * 64
    result = run("--trace", cyclic_npy, "--sizes", f"{below},{at},1MB", "--format", "csv")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert frame["size_bytes"].tolist() == [below, at, MB]
    assert frame["misses"].tolist() == [K_LINES * ROUNDS, K_LINES, K_LINES]
    assert frame["miss_ratio"].tolist() == pytest.approx([1.0, 1 / ROUNDS, 1 / ROUNDS])
    assert set(frame["method"]) == {"exact"}
    assert set(frame["footprint_bytes"]) == {K_LINES * 64}


def test_set_associative_points_are_whole_ways(cyclic_npy):
    # 3000 lines over 10 sets = 300 lines per set: 299 ways miss always, 300 ways only cold
    result = run("--trace", cyclic_npy, "--sets", 10, "--sizes", f"{299 * 640},{300 * 640 + 100}",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["ways"], r["size_bytes"], r["misses"]) for r in rows] == [
        (299, 299 * 640, K_LINES * ROUNDS), (300, 300 * 640, K_LINES)]


def test_shards_methods_and_plot(cyclic_npy, tmp_path):
    png = tmp_path / "mrc.png"
    result = run("--trace", cyclic_npy, "--shards", 0.5, "--sizes", "64KB..1MB", "--points", 5, "--plot", png)
    assert result.exit_code == 0, result.output
    assert "shards R=0.5" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cyclic.npy", "mrc.png"]  # no temp files left
    result = run("--trace", cyclic_npy, "--shards-max", 256, "--sizes", "1MB")
    assert result.exit_code == 0, result.output
    assert "shards s_max=256" in result.stdout


def test_output_file_is_written(cyclic_npy, tmp_path):
    out = tmp_path / "curve.md"
    result = run("--trace", cyclic_npy, "--sizes", "1MB", "--format", "markdown", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("| representation | method |")


def test_model_working_set_regions_add_up():
    pytest.importorskip("traces.stream")
    result = run("--model", "dlrm,memrec", "--workload", "criteo-kaggle", "--batch-size", 64, "--batches", 2,
                 "--working-set", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    for model in ("dlrm", "memrec"):
        mine = [r for r in rows if r["representation"] == model]
        total = [r for r in mine if r["region"] == "(all)"][0]
        # regions are disjoint and hold every array the kernel reads
        assert sum(r["distinct_lines"] for r in mine if r["region"] != "(all)") == total["distinct_lines"]
        assert total["footprint_bytes"] == 64 * total["distinct_lines"]
        assert 0 < total["compulsory_miss_ratio"] <= 1
        assert total["size_1_1x_compulsory_bytes"] >= total["size_2x_compulsory_bytes"]


@pytest.mark.parametrize("with_trace,args,needle", [
    (False, (), "either --trace"),
    (True, ("--shards", 0.01, "--exact"), "choose one method"),
    (True, ("--shards", 1.5), "(0, 1]"),
    (True, ("--shards", 0.01, "--sets", 4), "--sets needs --exact"),
    (True, ("--sizes", "9MB..1MB"), "--sizes"),
    (False, ("--model", "nosuchmodel"), "unknown model"),
])
def test_usage_errors_exit_2_with_one_line(cyclic_npy, with_trace, args, needle):
    base = ("--trace", cyclic_npy) if with_trace else ()
    result = run(*base, *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_both_sources_is_an_error(cyclic_npy):
    result = run("--trace", cyclic_npy, "--model", "dlrm")
    assert result.exit_code == 2
    assert "either --trace" in result.output


def test_malformed_trace_file_exits_2(tmp_path):
    bad = tmp_path / "bad.din"
    bad.write_text("0 1000\n7 zzzz\n")
    result = run("--trace", bad)
    assert result.exit_code == 2, result.output  # a bad input file named by an option is a usage error
    assert "bad.din" in result.output
    assert "Traceback" not in result.output
