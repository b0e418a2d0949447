"""The one JSON envelope (schema name, metadata, rows) of every command's --format json, and the
``lookups`` column of analysis rows against counts derived by hand."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.report import schema
from memprof.report.tables import render

TINY = ["--workload", "100,20", "--dim", "16", "--batch-size", "4", "--batches", "4", "--pooling", "2",
        "--seed", "1"]


def _document(args) -> dict:
    from memprof.cli.main import main

    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _check_envelope(document: dict, kind: str) -> list[dict]:
    assert set(document) == {"schema", "metadata", "rows"}
    assert document["schema"] == f"memprof.{kind}/1"
    assert isinstance(document["metadata"], dict) and isinstance(document["rows"], list)
    return schema.rows_of(document, kind)


def test_render_wraps_rows_in_the_envelope_with_exact_values_and_null():
    frame = pd.DataFrame({"model": ["dlrm"], "llc_misses": [np.int64(2**53 + 1)], "ratio": [float("nan")]})
    document = json.loads(render(frame, "json", {"seed": 3}, kind="analysis"))
    assert document == {"schema": "memprof.analysis/1", "metadata": {"seed": 3},
                        "rows": [{"model": "dlrm", "llc_misses": 2**53 + 1, "ratio": None}]}
    assert json.loads(render(frame.iloc[:0], "json", kind="mrc")) == {"schema": "memprof.mrc/1", "metadata": {},
                                                                       "rows": []}


def test_unknown_kind_and_wrong_document_are_refused():
    with pytest.raises(ValueError, match="result kind 'nope'"):
        render(pd.DataFrame(), "csv", kind="nope")
    with pytest.raises(ValueError, match="expected a memprof.mrc/1 document, got 'memprof.sweep/1'"):
        schema.rows_of({"schema": "memprof.sweep/1", "rows": []}, "mrc")
    with pytest.raises(ValueError, match="got None"):
        schema.rows_of([{"model": "dlrm"}], "analysis")  # the pre-envelope plain list


def test_policies_json_is_the_envelope():
    rows = _check_envelope(_document(["policies"]), "policies")
    assert [r["policy"] for r in rows][:2] == ["lru", "fifo"]


def test_simulate_trace_json_is_the_envelope_without_made_up_lookups(tmp_path):
    path = tmp_path / "cyclic.npy"
    np.save(path, (np.arange(3000, dtype=np.uint64) % 100) * 64)
    document = _document(["simulate", "--trace", str(path), "--llc", "64KB", "--ways", "4"])
    rows = _check_envelope(document, "simulate-trace")
    assert rows[0]["accesses"] == 3000 and "lookups" not in rows[0]
    assert document["metadata"]["lookups"] == schema.LOOKUPS_UNKNOWN_TRACE


def test_mrc_json_is_the_envelope(tmp_path):
    path = tmp_path / "cyclic.npy"
    np.save(path, (np.arange(1000, dtype=np.uint64) % 10) * 64)
    rows = _check_envelope(_document(["mrc", "--trace", str(path), "--sizes", "640,1280"]), "mrc")
    assert {r["size_bytes"] for r in rows} == {640, 1280}


def test_analysis_rows_carry_the_lookups_after_warm_up():
    document = _document(["simulate", "--model", "memrec", *TINY, "--llc", "64KB", "--warmup", "0.25",
                          "--no-private-levels"])
    rows = _check_envelope(document, "analysis")
    # 4 batches x 4 samples x 2 features x bag 2, minus the one warm-up batch (0.25 of 4)
    assert [r["lookups"] for r in rows] == [(4 - 1) * 4 * 2 * 2] * 2
    assert [r["model"] for r in rows] == ["dlrm", "memrec"]
    columns = list(rows[0])
    assert columns.index("lookups") + 1 == columns.index("accesses")


def test_simulate_partitioned_rows_carry_lookups_on_a_model_source():
    document = _document(["simulate-partitioned", "--model", "dlrm", *TINY, "--llc", "16KB", "--ways", "4",
                          "--partitions", "2", "--warmup", "16"])
    (row,) = _check_envelope(document, "simulate-partitioned")
    # dlrm, dim 16: one line per lookup, so 16 accesses = the first batch exactly
    assert row["lookups"] == (4 - 1) * 4 * 2 * 2 and row["accesses"] == (4 - 1) * 16
    inside = _document(["simulate-partitioned", "--model", "dlrm", *TINY, "--llc", "16KB", "--ways", "4",
                        "--partitions", "2", "--warmup", "10"])
    (row,) = _check_envelope(inside, "simulate-partitioned")
    assert "lookups" not in row and "ends inside a batch" in inside["metadata"]["lookups"]
