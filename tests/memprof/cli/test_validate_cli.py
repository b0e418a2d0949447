"""memprof validate at the command line: bad input is one line and exit 2; a missing calibration
says so; a tiny --quick run gives one row per point with both numbers (no timing assertions)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from memprof.cli.main import main

MODELS = ("dlrm", "memrec", "qr")


def _run(args, env=None):
    return CliRunner().invoke(main, ["validate", *args], env=env)


def _last_line(result) -> str:
    return result.output.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A calibration of the three models used here (few repeats: only its existence matters)."""
    from memprof.hw import calibrate as cal

    directory = tmp_path_factory.mktemp("cal")
    cal.save_calibration(cal.calibrate(MODELS, repeat=1, rounds=1), directory / "calibration.json")
    return {"MEMPROF_CACHE_DIR": str(directory)}


@pytest.mark.parametrize("args, words", [
    (["--model", "dlrm,bogus"], "unknown model(s) bogus"),
    (["--footprints", "512KB"], "a footprint must be at least 1MiB"),
    (["--footprints", "8MB,128MB", "--budget", "64MB"], "128MB: above the memory budget 64MiB"),
    (["--batch-sizes", "64,0"], "batch sizes must be >= 1"),
    (["--skews", "1.05,steep"], "skew 'steep'"),
    (["--repeat", "3"], "3 is not in the range x>=5"),
])
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path):
    result = _run([*args, "--quick"], env={"MEMPROF_CACHE_DIR": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert words in _last_line(result)


def test_no_calibration_is_one_line_and_exit_2(tmp_path):
    result = _run(["--quick", "--footprints", "1MB"], env={"MEMPROF_CACHE_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0  # one line, nothing measured first
    assert f"no calibration at {tmp_path / 'calibration.json'}" in result.output and "--calibrate" in result.output


def test_an_unreadable_calibration_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "calibration.json").write_text('{"schema": "memprof.calibration/0"}')
    result = _run(["--quick", "--footprints", "1MB"], env={"MEMPROF_CACHE_DIR": str(tmp_path)})
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0
    assert "calibration.json" in result.output and result.output.strip().endswith("or add --calibrate")


def test_quick_tiny_run_has_one_row_per_point_with_both_numbers(tmp_path, calibrated):
    out, plot = tmp_path / "v.json", tmp_path / "parity.png"
    result = _run(["--quick", "--model", ",".join(MODELS), "--footprints", "1MB", "--batch-sizes", "1,16",
                   "--ring-lookups", "64", "--no-progress", "-o", str(out), "--plot", str(plot)], env=calibrated)
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["schema"] == "memprof.validate/1"
    rows = document["rows"]
    # dlrm, memrec sample, memrec feature, qr: each at the one footprint, skew 1.05, batches 1 and 16
    assert sorted((r["model"], r["params"], r["batch_size"]) for r in rows) == sorted(
        (m, p, b) for m, p in [("dlrm", "defaults"), ("memrec", "pooling=sample"), ("memrec", "pooling=feature"),
                               ("qr", "defaults")] for b in (1, 16))
    for row in rows:
        assert row["measured_ns_per_lookup_best"] > 0 and row["predicted_ns_per_lookup"] > 0
        assert row["measured_ns_per_lookup_median"] >= row["measured_ns_per_lookup_best"]
        assert row["lookups"] >= 64 and row["footprint_bytes"] <= 1 << 20
        assert (row["speedup_error"] is None) == (row["model"] == "dlrm")
    meta = document["metadata"]
    assert meta["calibration"]["path"].endswith("calibration.json") and meta["machine"]
    assert [t["met"] in (True, False) for t in meta["summary"]["targets"]] == [True, True, True]
    assert "never used to fit" in meta["fitting"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "target median |error| <= 15%:" in result.output  # the summary, on stderr
