"""memprof workload stats and --skew: the published figures beside the workload's, the preset
refusing the options it replaces, and TraceSpec carrying the preset through argv."""

from __future__ import annotations

import json

from click.testing import CliRunner

from memprof.cli.main import main
from traces.skew import get_skew
from traces.spec import TraceSpec


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_stats_rows_workload_then_published():
    result = _run("workload", "stats", "--workload", "5000,300", "--batch-size", "64", "--batches", "2",
                  "--pooling", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["schema"] == "memprof.workload-stats/1"
    ours, meta21, meta22 = document["rows"]
    assert ours["batches"] == 2 and ours["lookups"] == 2 * 64 * 2 * 3
    assert 0 < ours["rows_once_pct"] <= 100
    assert (meta21["rows_once_pct"], meta21["accesses_once_pct"]) == (47.3, 6.9)  # SPEC section 7
    assert meta22["top_1.8pct_rows_access_pct"] == 52.0


def test_skew_replaces_alpha_and_pooling():
    for option, value in (("--alpha", "0.8"), ("--pooling", "2")):
        result = _run("workload", "stats", "--workload", "5000", "--skew", "meta-2021", option, value)
        assert result.exit_code == 2 and f"{option} does not apply with --skew meta-2021" in result.output


def test_skew_travels_through_argv():
    spec = TraceSpec(model="dlrm", workload="5000,300", batch_size=64, batches=1, skew="meta-2022")
    preset = get_skew("meta-2022")
    assert (spec.alpha, spec.pooling) == (preset.alpha, str(preset.pooling))
    argv = spec.to_argv()
    assert "--skew" in argv and "--alpha" not in argv and "--pooling" not in argv


def test_trace_windows_count_lines(tmp_path):
    import numpy as np

    path = tmp_path / "t.npy"
    np.save(path, np.array([0, 0, 64, 128, 0, 64 + 8], dtype=np.uint64))  # 72 is in line 1
    result = _run("workload", "stats", "--trace", str(path), "--window", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    ours = json.loads(result.output)["rows"][0]
    # windows: lines (0, 0, 1): 2 distinct, 1 used once; (2, 0, 1): 3 distinct, all once
    assert ours["batches"] == 2 and ours["lookups"] == 6 and ours["unique_rows"] == 5
    assert ours["rows_once_pct"] == 75.0  # mean of 50% and 100%
    refused = _run("workload", "stats", "--window", "3")
    assert refused.exit_code == 2 and "--window applies to --trace" in refused.output
