"""End to end: `memprof calibrate` stores compute costs that `memprof simulate --cpu host`
then uses (and says so); without a calibration it says it fell back to op counts."""

import json

from click.testing import CliRunner

from memprof.cli.main import main

SIMULATE = ["simulate", "--llc", "1MB", "--batches", "3", "--batch-size", "64", "--workload", "1000,2000,5000",
            "--cpu", "host", "--format", "json", "--no-progress"]


def _simulate(runner, tmp_path):
    """Rows (JSON: a list of records) and the metadata written by --metadata."""
    meta = tmp_path / "meta.json"
    result = runner.invoke(main, [*SIMULATE, "--metadata", str(meta)])
    assert result.exit_code == 0, result.output
    return {"rows": json.loads(result.output)["rows"], "metadata": json.loads(meta.read_text())}


def test_simulate_on_host_uses_the_stored_calibration(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMPROF_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    before = _simulate(runner, tmp_path)
    assert "no calibration" in before["metadata"]["compute_costs"].lower()

    result = runner.invoke(main, ["calibrate", "--no-memory", "--models", "dlrm,memrec", "--repeat", "1", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "cache" / "calibration.json").read_text())
    per_lookup = {m: stored["models"][m]["cycles_per_lookup"] for m in ("dlrm", "memrec")}
    assert all(v > 0 for v in per_lookup.values())

    after = _simulate(runner, tmp_path)
    assert str(tmp_path / "cache" / "calibration.json") in after["metadata"]["compute_costs"]
    for row in after["rows"]:
        expected = per_lookup[row["model"]] * row["lookups"]
        assert abs(row["compute_cycles"] - expected) <= 1e-6 * expected
        # the simulation is unchanged by a calibration: same counts, same rows and walks
        old = next(r for r in before["rows"] if r["model"] == row["model"])
        for column in ("llc_misses", "rows", "tlb_walks", "walk_llc_misses"):
            assert row[column] == old[column], column
