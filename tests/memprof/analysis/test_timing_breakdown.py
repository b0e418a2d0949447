"""The analysis rows' timing: the breakdown sums to cycles, rows and page walks reach the model,
the TLB's page size and the framework call overhead act as documented, and the CLI options
that set them refuse bad values in one line."""

import pytest
from click.testing import CliRunner

from memprof.analysis.experiment import CacheSetup, run_analysis
from memprof.cli.main import main
from memprof.report.schema import BREAKDOWN_COLUMNS
from sim.timing.model import BREAKDOWN
from traces.stream import model_trace
from traces.workloads import get_workload

# dim 128: a dlrm row is 128 x 4 B = 512 B = 8 aligned 64 B lines; 4 tables of 20,000 rows = 41 MB.
WORKLOAD = get_workload("20000,20000,20000,20000", dim=128)
MIB = 1 << 20


def _run(page_bytes=4096, models=("dlrm", "memrec"), timing=None, batches=6):
    traces = [model_trace(m, WORKLOAD, batch_size=32, batches=batches, seed=5, alpha=0.8) for m in models]
    setup = CacheSetup((2 * MIB,), ways=16, warmup=1 / 3, page_bytes=page_bytes)
    return run_analysis(traces, setup, progress=False, timing_overrides=timing)


def test_breakdown_columns_are_the_models_terms_and_sum_to_cycles():
    assert BREAKDOWN_COLUMNS == tuple(f"cycles_{term}" for term in BREAKDOWN)
    frame, metadata = _run()
    for _, row in frame.iterrows():
        assert sum(row[c] for c in BREAKDOWN_COLUMNS) == pytest.approx(row["cycles"], rel=1e-9)
        assert all(row[c] >= 0 for c in BREAKDOWN_COLUMNS)
    assert "page-walk reads go through the simulated caches" in metadata["tlb"]


def test_a_dlrm_lookup_is_one_eight_line_row():
    frame, _ = _run(page_bytes=None, models=("dlrm",))
    row = frame.iloc[0]
    # every lookup reads one 512 B row; two lookups of adjacent token ids would merge into one
    # longer contiguous read, so rows <= lookups, and all 8 lines of each are data accesses
    assert row["accesses"] == 8 * row["lookups"]
    assert 0.95 * row["lookups"] <= row["rows"] <= row["lookups"]
    assert row["tlb_walks"] == 0 and row["cycles_tlb_walk"] == 0


def test_walk_reads_go_through_the_caches_but_not_into_accesses():
    with_tlb, _ = _run(page_bytes=4096, models=("dlrm",))
    without, _ = _run(page_bytes=None, models=("dlrm",))
    a, b = with_tlb.iloc[0], without.iloc[0]
    assert a["accesses"] == b["accesses"]  # trace accesses, walk reads apart
    assert a["tlb_walks"] > 0 and a["cycles_tlb_walk"] > 0
    # each walk reads a leaf entry (plus an upper one on a paging-structure-cache miss): L1 sees them
    assert a["l1_accesses"] - b["l1_accesses"] >= a["tlb_walks"]


def test_huge_pages_walk_less_than_small_pages():
    # 41 MB of tables: 10,000 pages of 4 KiB overflow a 2048-entry STLB; 21 pages of 2 MiB fit its 32-entry DTLB
    small, _ = _run(page_bytes=4096, models=("dlrm",))
    huge, _ = _run(page_bytes=2 * MIB, models=("dlrm",))
    assert huge.iloc[0]["tlb_walks"] < small.iloc[0]["tlb_walks"] / 10
    assert huge.iloc[0]["cycles_tlb_walk"] < small.iloc[0]["cycles_tlb_walk"]


def test_framework_call_overhead_is_charged_per_embedding_call():
    # 4 measured batches (6, the first third warm-up); dlrm makes one call per table (4), memrec one per batch
    base, _ = _run()
    more, _ = _run(timing={"call_overhead_cycles": 1000.0})
    for model, calls_per_batch in (("dlrm", 4), ("memrec", 1)):
        before = base[base["model"] == model].iloc[0]
        after = more[more["model"] == model].iloc[0]
        assert after["cycles_calls"] - before["cycles_calls"] == pytest.approx(4 * calls_per_batch * 1000)
        assert after["cycles"] - before["cycles"] == pytest.approx(4 * calls_per_batch * 1000)


@pytest.mark.parametrize("args, message", [
    (["--page-size", "8KB"], "must be one of 4KB, 2MB, 1GB"),
    (["--call-overhead", "-5"], "cycles per call must be a finite number >= 0"),
    (["--call-overhead", "nan"], "cycles per call must be a finite number >= 0"),
])
def test_bad_timing_options_are_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, ["simulate", "--workload", "1000,1000", "--batches", "2", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_breakdown_flag_shows_the_terms_in_the_table(tmp_path):
    args = ["simulate", "--workload", "2000,2000", "--dim", "16", "--batch-size", "16", "--batches", "3",
            "--llc", "1MB", "--no-progress"]
    plain = CliRunner().invoke(main, args)
    shown = CliRunner().invoke(main, [*args, "--breakdown"])
    assert plain.exit_code == 0 and shown.exit_code == 0, shown.output
    assert "cycles_dram" not in plain.output
    assert "cycles_dram" in shown.output and "cycles_tlb_walk" in shown.output


def test_training_reports_dram_writes_for_every_representation():
    # --phase train writes every parameter line a batch touches (the optimizer's update, and the
    # dense gradient buffer); a 2 KiB LLC (32 lines) cannot hold them, so dirty lines are written
    # back to DRAM for every representation (each keeps more than 32 lines: robe compressed only 2x);
    # the forward phase only reads.
    args = ["simulate", "--workload", "3000,3000", "--dim", "16", "--batch-size", "16", "--batches", "3",
            "--llc", "2KB", "--ways", "2", "--no-private-levels", "--model", "dlrm,hashing,qr,robe,ttrec,memrec",
            "--no-progress", "--format", "json", "--param", "qr.threshold=10", "--param", "ttrec.min_rows=10",
            "--param", "hashing.rows=1000", "--param", "robe.compression=2"]
    import json

    train = CliRunner().invoke(main, [*args, "--phase", "train", "--grad", "dense"])
    forward = CliRunner().invoke(main, args)
    assert train.exit_code == 0 and forward.exit_code == 0, train.output + forward.output
    written = {row["model"]: row["dram_write_bytes"] for row in json.loads(train.output)["rows"]}
    assert set(written) == {"dlrm", "hashing", "qr", "robe", "ttrec", "memrec"}
    assert all(v > 0 for v in written.values()), written
    assert all(row["dram_write_bytes"] == 0 for row in json.loads(forward.output)["rows"])
    dram = {row["model"]: row["cycles_dram"] for row in json.loads(train.output)["rows"]}
    assert all(v > 0 for v in dram.values())
