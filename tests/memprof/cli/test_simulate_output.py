"""The headline's output contract: JSON is a plain list of records with the fixed column
names, the terminal table shows the headline columns unless --all-columns, and
--metadata writes what reproduces the run."""

import json

from click.testing import CliRunner

from memprof.cli.main import main

SMALL = ["simulate", "--llc", "1MB", "--batches", "3", "--batch-size", "64", "--workload", "1000,2000,5000",
         "--no-progress"]
FIXED = ["model", "llc_bytes", "ways", "policy", "model_bytes", "compression", "accesses", "llc_hits", "llc_misses",
         "llc_miss_ratio", "dram_read_bytes", "dram_write_bytes", "cycles", "seconds", "dram_bw_gbps", "cycles_ratio",
         "llc_misses_ratio", "dram_bw_ratio"]


def test_json_is_a_list_of_records_with_the_fixed_names(tmp_path):
    meta = tmp_path / "run.json"
    result = CliRunner().invoke(main, [*SMALL, "--format", "json", "--metadata", str(meta)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["schema"] == "memprof.analysis/1" and payload["metadata"]["seed"] == 0
    records = payload["rows"]
    assert isinstance(records, list) and [r["model"] for r in records] == ["dlrm", "memrec"]
    for record in records:
        assert set(FIXED) <= set(record)
    dlrm, memrec = records
    assert dlrm["cycles_ratio"] == dlrm["llc_misses_ratio"] == dlrm["dram_bw_ratio"] == 1.0
    assert memrec["llc_misses_ratio"] == dlrm["llc_misses"] / memrec["llc_misses"]
    metadata = json.loads(meta.read_text())
    assert metadata["seed"] == 0 and metadata["workload"]["cardinalities"] == [1000, 2000, 5000]
    assert metadata["numba_version"]


def test_table_shows_headline_columns_unless_all_columns():
    narrow = CliRunner().invoke(main, [*SMALL, "--format", "csv"])
    table = CliRunner().invoke(main, SMALL)
    wide = CliRunner().invoke(main, [*SMALL, "--all-columns"])
    for result in (narrow, table, wide):
        assert result.exit_code == 0, result.output
    header = table.output.splitlines()[0].split()
    assert header[:2] == ["model", "llc_bytes"] and "cycles_ratio" in header and "dram_bw_ratio" in header
    assert "l1_hits" not in header and "memory_stall_cycles" not in header
    csv_header = narrow.output.splitlines()[0].split(",")
    assert "l1_hits" in csv_header and "memory_stall_cycles" in csv_header  # CSV keeps every column
    assert wide.output.splitlines()[0].split() == csv_header
