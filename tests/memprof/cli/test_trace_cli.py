"""``memprof trace`` end to end: write, info, export; errors are one line with exit 2."""

import json

import numpy as np
from click.testing import CliRunner

from memprof.cli.main import main
from traces.stream import model_trace
from traces.format.tracefile import TraceReader, iter_trace_file

ARGS = ["--workload", "1000,50,7", "--dim", "32", "--batch-size", "16", "--batches", "3", "--seed", "4"]


def _run(args):
    return CliRunner().invoke(main, args)


def test_trace_writes_exactly_the_model_trace(tmp_path):
    out = tmp_path / "run.trace"
    result = _run(["trace", *ARGS, "--model", "memrec", "--param", "memrec.d=100", "-o", str(out)])
    assert result.exit_code == 0, result.output
    expected = np.concatenate(list(model_trace("memrec", _workload(), batch_size=16, batches=3, seed=4, d=100)))
    got = np.concatenate(list(iter_trace_file(out)))
    assert np.array_equal(got, expected)
    header = TraceReader(out).header
    assert header["representation"]["d"] == 100 and header["seed"] == 4
    assert [r["name"] for r in header["regions"]] == ["token_table", "weight_table"]


def _workload():
    from traces.workloads import get_workload

    return get_workload("1000,50,7", dim=32)


def test_info_and_export(tmp_path):
    out = tmp_path / "run.trace"
    assert _run(["trace", *ARGS, "--model", "dlrm", "-o", str(out)]).exit_code == 0
    info = _run(["trace", "info", str(out), "--format", "json"])
    assert info.exit_code == 0, info.output
    payload = json.loads(info.output)
    rows = {r["region"]: r for r in payload["rows"]}
    lookups = 3 * 16 * 3
    assert rows["total"]["accesses"] == lookups * 2  # a 128-byte row is two 64-byte lines
    assert sum(rows[f"table_{t}"]["accesses"] for t in range(3)) == lookups * 2
    din = tmp_path / "run.din"
    assert _run(["trace", "export", str(out), "--to", "din", "-o", str(din)]).exit_code == 0
    lines = din.read_text().splitlines()
    assert len(lines) == lookups * 2 and all(line.startswith("0 ") for line in lines)
    first = np.concatenate(list(iter_trace_file(out)))[0]
    assert int(lines[0].split()[1], 16) == int(first)


def test_errors_are_one_line(tmp_path):
    missing_output = _run(["trace", *ARGS])
    assert missing_output.exit_code == 2 and "needs -o FILE" in missing_output.output
    bad_param = _run(["trace", *ARGS, "--param", "memrec.k=0", "-o", str(tmp_path / "x")])
    assert bad_param.exit_code == 2 and "k must be >= 1" in bad_param.output
    bad_pool = _run(["trace", *ARGS, "--pooling", "poisson:-3", "-o", str(tmp_path / "x")])
    assert bad_pool.exit_code == 2 and "pooling" in bad_pool.output
    garbage = tmp_path / "garbage.trace"
    garbage.write_bytes(b"\x93MPTRACE" + b"\0" * 10)
    bad_file = _run(["trace", "info", str(garbage)])
    assert bad_file.exit_code == 2 and str(garbage) in bad_file.output and "Traceback" not in bad_file.output
    assert not (tmp_path / "x").exists()
