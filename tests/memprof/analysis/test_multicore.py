"""The multi-core analysis: --cores 1 is run_analysis's row; private tables; the loaded
latency fixed point; bandwidth saturates."""

import math

import pytest

from memprof.analysis.experiment import CacheSetup, run_analysis
from memprof.analysis.multicore import predict_cores, run_cores, table_offsets
from sim.timing.loaded import queue_latency, solve_loaded_latency
from traces.spec import TraceSpec

SPEC = TraceSpec(model="dlrm", workload="1000,5000,20000", dim=16, batch_size=64, batches=4, seed=3)
SETUP = CacheSetup((64 * 1024, 256 * 1024), ways=16)


@pytest.mark.parametrize("model", ["dlrm", "memrec"])
def test_one_core_is_the_single_core_row(model):
    spec = TraceSpec(model=model, workload=SPEC.workload, dim=16, batch_size=64, batches=4, seed=3)
    single, _ = run_analysis([spec.build()] if model == "dlrm" else [SPEC.build(), spec.build()], SETUP,
                             cpu="icx", progress=False)
    single = single[single["model"] == model].reset_index(drop=True)
    multi, _ = run_cores([spec], SETUP, [1], ["shared", "private"], cpu="icx")
    assert len(multi) == 4
    for _, row in multi.iterrows():
        want = single[single["llc_bytes"] == row["llc_bytes"]].iloc[0]
        shared = [c for c in single.columns if c in multi.columns]
        assert {"cycles", "llc_misses", "accesses", "cycles_dram", "l1_hits", "l2_hits", "evictions"} <= set(shared)
        for column in shared:
            assert row[column] == want[column] or (row[column] != row[column] and want[column] != want[column]), column


def test_private_tables_offsets_and_limit():
    trace = SPEC.build()
    assert table_offsets(trace, 3, "shared") == [0, 0, 0]
    assert table_offsets(trace, 3, "private") == [0, 1 << 30, 2 << 30]  # a 1.7 MB layout: 1 GiB apart
    big = TraceSpec(model="dlrm", workload="criteo-tb", batch_size=8, batches=1).build()  # ~100 GB of tables
    with pytest.raises(ValueError, match="2\\*\\*47"):
        table_offsets(big, 2000, "private")


def test_private_tables_miss_more_than_shared():
    """Two cores with private copies can never share a line; with one copy they can."""
    frame, _ = run_cores([SPEC], CacheSetup((256 * 1024,), ways=16), [2], ["shared", "private"], cpu="icx")
    misses = dict(zip(frame["tables"], frame["llc_misses"]))
    assert misses["private"] > misses["shared"]


def test_queue_latency_curve_by_hand():
    assert queue_latency(100.0, 0.0) == 100.0
    assert queue_latency(100.0, 0.5) == pytest.approx(200.0)
    assert queue_latency(100.0, 3.0) == pytest.approx(2000.0)  # capped at u = 0.95


def test_fixed_point_constant_and_falling_demand():
    point = solve_loaded_latency(100.0, 10.0, lambda latency: 5.0)  # u = 0.5 whatever the latency
    assert point.latency == pytest.approx(200.0, rel=1e-6)
    # demand = 1000 / L: L = 100 / (1 - 100 / L) -> L = 200 (by hand: L - 100 = 100)
    point = solve_loaded_latency(100.0, 10.0, lambda latency: 1000.0 / latency)
    assert point.latency == pytest.approx(200.0, rel=1e-6)
    assert solve_loaded_latency(100.0, 10.0, lambda latency: 0.0).latency == 100.0


def test_bandwidth_saturates_below_peak():
    """A table far beyond the LLC on many cores: the socket's bandwidth stays below the
    preset's peak and per-core throughput falls as cores are added."""
    spec = TraceSpec(model="dlrm", workload="400000,400000", dim=64, batch_size=128, batches=2, seed=1)
    frame, meta = run_cores([spec], CacheSetup((64 * 1024,), ways=16), [1, 8, 32], ["private"], cpu="icx",
                            timing_overrides={"peak_dram_gbps": 20.0})
    bw = list(frame["socket_dram_bw_gbps"])
    per_core = list(frame["core_lookups_per_second"])
    assert all(b <= 20.0 * (1 + 1e-9) for b in bw)
    assert per_core[0] > per_core[1] > per_core[2]
    assert frame["loaded_dram_latency_ns"].is_monotonic_increasing
    assert math.isclose(frame["loaded_dram_latency_cycles"].iloc[0] / frame["loaded_dram_latency_ns"].iloc[0], 3.4)


def test_predict_cores():
    pred = predict_cores(SPEC, 2, "private", setup=CacheSetup((256 * 1024,), ways=16), cpu="icx")
    assert len(pred.ns_per_lookup_per_core) == 2
    assert pred.ns_per_lookup == pytest.approx(sum(pred.ns_per_lookup_per_core) / 2)
    assert pred.ns_per_lookup == pytest.approx(pred.row["core_ns_per_lookup"])


def _cli(*args):
    from click.testing import CliRunner

    from memprof.cli.main import main

    return CliRunner().invoke(main, ["cores", "--workload", "1000,5000,20000", "--dim", "16", "--batch-size", "64",
                                     "--batches", "2", "--llc", "64KB", "--no-progress", *args])


@pytest.mark.parametrize("args,message", [
    (["--cores", "0"], "must be >= 1"),
    (["--cores", "two"], "expected core counts"),
    (["--cores", "4000000000"], "exceeds"),
    (["--cores", "1", "--prefetch"], "prefetcher"),
    (["--cores", "1", "--phase", "train"], "read-only"),
])
def test_cli_bad_input_is_one_line_exit_2(args, message):
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_rows_and_plot(tmp_path):
    plot = tmp_path / "cores.png"
    result = _cli("--cores", "1..2", "--tables", "shared,private", "--format", "csv", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    import io

    import pandas as pd

    frame = pd.read_csv(io.StringIO(result.output))
    assert sorted(set(frame["cores"])) == [1, 2] and set(frame["tables"]) == {"shared", "private"}
    assert len(frame) == 2 * 2 * 2  # models (dlrm, memrec) x cores x table modes
    assert plot.stat().st_size > 0


def test_core_c_reads_its_own_batches_of_one_stream():
    """Two cores x 2 batches, no warm-up: the socket's lookups are those of batches 0..3 of the
    seed's stream (bags are random, so a copy of core 0's batches would count differently)."""
    spec = TraceSpec(model="dlrm", workload=SPEC.workload, dim=16, batch_size=64, batches=2, seed=3,
                     pooling="poisson:3")
    frame, _ = run_cores([spec], CacheSetup((64 * 1024,), ways=16, warmup=0.0), [2], ["shared"], cpu="icx")
    generator = spec.build().generator
    want = sum(generator.batch(64, k).num_lookups for k in range(4))
    copied = 2 * sum(generator.batch(64, k).num_lookups for k in range(2))
    assert want != copied
    assert frame["lookups"].iloc[0] == want
