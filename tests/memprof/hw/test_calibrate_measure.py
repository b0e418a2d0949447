"""Calibration against the real kernels (sizes, routing, bookkeeping) and the CLI commands.

No timing assertions: the measurements below run the real kernels but read a fake clock
whose call durations are given, so the expected ns and cycles per lookup follow by hand.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("traces.representations")

from memprof.hw import calibrate as cal  # noqa: E402
from memprof.cli.main import main  # noqa: E402

BUDGET = 256 * 1024
MODELS = ("dlrm", "hashing", "qr", "robe", "ttrec", "memrec")


def fake_clock(*durations):
    """A nanosecond clock under which the n-th timed call lasts durations[n] (1 us between calls)."""
    stamps = []
    now = 0
    for duration in durations:
        stamps += [now, now + duration]
        now += duration + 1000
    ticks = iter(stamps)
    return lambda: next(ticks)


def test_every_representation_is_calibrated():
    assert cal.MODELS == MODELS


@pytest.mark.parametrize("model", MODELS)
def test_small_build_fits_the_budget_and_takes_the_compressed_path(model):
    rep, workload, used = cal.build_small(model, None, dim=128, budget_bytes=BUDGET)
    assert rep.memory_bytes <= BUDGET
    rows = workload.tables[0].rows
    if model == "qr":
        assert rep.is_qr.all()
    elif model == "ttrec":
        assert rep.is_tt.all()
    elif model == "hashing":
        assert used["rows"] < rows
    elif model == "memrec":
        assert used["d"] == rows


def test_build_small_keeps_compute_parameters():
    rep, _, used = cal.build_small("memrec", {"k": 2, "k_weight": 3, "d": 75000}, dim=64, budget_bytes=BUDGET)
    assert (rep.config.k, rep.config.k_weight) == (2, 3)
    assert rep.config.d == used["d"] < 75000


def test_build_small_errors_when_nothing_fits():
    with pytest.raises(ValueError, match="over the 4,096-byte cache budget"):
        cal.build_small("ttrec", {"rank": 64}, dim=128, budget_bytes=4096)


def test_measure_model_subtracts_the_empty_call_and_takes_best_and_median():
    # 4 features x 8 samples x 4 lookups = 128 lookups per call. Three empty-batch calls (500, 400,
    # 600 ns: the best, 400, is the overhead), then three timed calls of 10400, 8400 and 12400 ns:
    # best (8400 - 400) / 128 = 62.5 ns, median (10400 - 400) / 128 = 78.125 ns; 62.5 ns at 2 GHz = 125 cycles.
    entry = cal.measure_model("dlrm", None, dim=32, budget_bytes=BUDGET, freq_ghz=2.0, repeat=3,
                              batch_size=8, pooling=4, clock=fake_clock(500, 400, 600, 10400, 8400, 12400))
    assert entry.lookups_per_call == 128 and entry.repeat == 3
    assert entry.overhead_ns_per_call == 400
    assert (entry.ns_per_lookup_best, entry.ns_per_lookup_median) == (62.5, 78.125)
    assert entry.cycles_per_lookup == 125.0
    assert entry.memory_bytes <= BUDGET and entry.params["dim"] == 32


def test_measure_model_never_reports_negative_time():
    # Every timed call (300 ns) is quicker than the best empty call (500 ns): zero, not negative.
    entry = cal.measure_model("dlrm", None, dim=16, budget_bytes=BUDGET, freq_ghz=2.0, repeat=3,
                              batch_size=8, pooling=4, clock=fake_clock(500, 500, 500, 300, 300, 300))
    assert (entry.ns_per_lookup_best, entry.ns_per_lookup_median, entry.cycles_per_lookup) == (0.0, 0.0, 0.0)


def test_calibrate_interleaves_rounds_over_the_models_with_a_fake_host(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Fake CPU\ncpu MHz\t\t: 2000.0\n")
    # repeat 2 in 2 rounds: per round and model, 3 empty calls then 1 timed call, dlrm before memrec.
    # 4 features x 64 samples x 16 lookups = 4096 lookups per call.
    lookups = 4096
    clock = fake_clock(
        1000, 1000, 1000, 1000 + 100 * lookups,  # round 1, dlrm: 100 ns/lookup
        2000, 2000, 2000, 2000 + 300 * lookups,  # round 1, memrec: 300 ns/lookup
        1000, 1000, 1000, 1000 + 150 * lookups,  # round 2, dlrm: 150 ns/lookup
        2000, 2000, 2000, 2000 + 200 * lookups,  # round 2, memrec: 200 ns/lookup
    )
    result = cal.calibrate(["dlrm", "memrec"], {"memrec": {"k_weight": 2}}, dim=32, repeat=2, rounds=2,
                           budget_bytes=BUDGET, sysfs_root=tmp_path / "nosys", cpuinfo_path=cpuinfo, clock=clock)
    assert result.host_cpu == "Fake CPU" and result.freq_ghz == 2.0 and not result.freq_assumed
    dlrm, memrec = result.models["dlrm"], result.models["memrec"]
    assert dlrm.lookups_per_call == memrec.lookups_per_call == lookups
    assert (dlrm.ns_per_lookup_best, dlrm.ns_per_lookup_median, dlrm.cycles_per_lookup) == (100.0, 125.0, 200.0)
    assert (memrec.ns_per_lookup_best, memrec.ns_per_lookup_median, memrec.cycles_per_lookup) == (200.0, 250.0, 400.0)
    assert memrec.params["k_weight"] == 2 and memrec.params["dim"] == 32
    path = cal.save_calibration(result, tmp_path / "c.json")
    overrides, _ = cal.load_calibration(path, cpuinfo_path=cpuinfo)
    assert overrides["compute_cycles_per_lookup"] == {"dlrm": 200.0, "memrec": 400.0}
    # the fixed cost of a call: each model's best call on one sample of empty bags (wall clock), x 2 GHz
    assert overrides["kernel_call_cycles_per_label"] == {m: result.models[m].call_ns * 2.0 for m in ("dlrm", "memrec")}
    assert all(result.models[m].call_ns > 0 for m in ("dlrm", "memrec"))


def test_calibrate_every_model_records_its_parameters(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Fake CPU\ncpu MHz\t\t: 2000.0\n")
    result = cal.calibrate(MODELS, {"ttrec": {"rank": 8}}, dim=32, repeat=1, budget_bytes=BUDGET,
                           sysfs_root=tmp_path / "nosys", cpuinfo_path=cpuinfo)
    assert tuple(result.models) == MODELS
    assert result.models["ttrec"].params["rank"] == 8
    assert all(entry.params["dim"] == 32 for entry in result.models.values())


def test_unreadable_frequency_is_stated_as_assumed(tmp_path):
    # The generic 3.0 GHz is assumed: 50 ns/lookup (4096 lookups per call) = 150 cycles.
    result = cal.calibrate(["dlrm"], dim=16, repeat=1, rounds=1, budget_bytes=BUDGET, sysfs_root=tmp_path / "nosys",
                           cpuinfo_path=tmp_path / "nocpuinfo", clock=fake_clock(1000, 1000, 1000, 1000 + 50 * 4096))
    assert result.freq_assumed and "assumed 3.0 GHz" in result.freq_source
    assert result.models["dlrm"].ns_per_lookup_best == 50.0
    assert result.models["dlrm"].cycles_per_lookup == 150.0


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMPROF_CACHE_DIR", str(tmp_path / "cache"))
    return CliRunner()


def test_cli_calibrate_json_and_store(runner, tmp_path):
    result = runner.invoke(main, ["calibrate", "--models", "dlrm,memrec", "--repeat", "1", "--dim", "32",
                                  "--no-memory", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    compute = [row for row in payload["rows"] if row["quantity"] == "compute_cycles_per_lookup"]
    assert [row["model"] for row in compute] == ["dlrm", "memrec"]
    assert all(row["unit"] == "cycles/lookup" and row["source"].startswith("measured:") for row in compute)
    call = [row for row in payload["rows"] if row["quantity"] == "kernel_call_cycles"]
    assert len(call) == 1 and call[0]["unit"] == "cycles" and call[0]["value"] > 0
    assert payload["metadata"]["freq_source"]
    assert (tmp_path / "cache" / "calibration.json").exists()
    shown = runner.invoke(main, ["calibrate", "--show", "--format", "csv"])
    assert shown.exit_code == 0
    assert shown.stdout.splitlines()[0] == "quantity,model,value,median,unit,how,footprint_bytes,source,note"
    # header, kernel_call_cycles, output_store_cycles_cache, output_store_cycles_dram, dlrm, memrec
    assert len(shown.stdout.splitlines()) == 6


def test_cli_no_save_and_show_without_file(runner, tmp_path):
    result = runner.invoke(main, ["calibrate", "--models", "dlrm", "--repeat", "1", "--dim", "16", "--no-save",
                                  "--no-memory"])
    assert result.exit_code == 0
    assert not (tmp_path / "cache" / "calibration.json").exists()
    shown = runner.invoke(main, ["calibrate", "--show"])
    assert shown.exit_code == 1
    assert "no calibration at" in shown.output and "Traceback" not in shown.output


@pytest.mark.parametrize("args, message", [
    (["--models", "bert"], "unknown model(s) bert"),
    (["--budget", "12q"], "size '12q'"),
    (["--repeat", "0"], "--repeat"),
    (["--param", "memrec.zz=1"], "has no parameter 'zz'"),
    (["--max-footprint", "512KB"], "below 1 MiB"),
    (["--max-footprint", "lots"], "size 'lots'"),
    (["--plot", "curve.gif"], "--plot"),
])
def test_cli_bad_options_exit_2_with_one_line(runner, args, message):
    result = runner.invoke(main, ["calibrate", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


def test_cli_impossible_budget_exits_1(runner):
    result = runner.invoke(main, ["calibrate", "--models", "ttrec", "--param", "ttrec.rank=64", "--budget", "4KB",
                                  "--no-memory"])
    assert result.exit_code == 1
    assert "cache budget" in result.output and "Traceback" not in result.output


def test_cli_cpus_lists_every_preset(runner):
    result = runner.invoke(main, ["cpus", "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert [row["cpu"] for row in payload["rows"]] == ["icx", "spr", "adl", "tgl", "genoa", "milan", "host"]
    assert payload["metadata"]["icx"]["sources"]


def test_arrays_are_sized_for_half_the_l1d_else_half_the_l2(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Fake CPU\ncpu MHz\t\t: 2000.0\n")
    # no sysfs: the generic 32 KiB L1d and 1 MiB L2 -> budgets 16 KiB then 512 KiB
    host = cal.host_preset(tmp_path / "nosys", cpuinfo)
    assert cal.resident_budgets(host, None) == [("l1", 16 * 1024), ("l2", 512 * 1024)]
    assert cal.resident_budgets(host, 4096) == [("budget", 4096)]
    result = cal.calibrate(["dlrm", "ttrec"], dim=128, repeat=1, rounds=1, sysfs_root=tmp_path / "nosys",
                           cpuinfo_path=cpuinfo)
    for model, entry in result.models.items():
        assert entry.resident_level in ("l1", "l2")
        assert entry.memory_bytes <= entry.budget_bytes
        if entry.resident_level == "l2":  # only when even its smallest arrays exceed half the L1d
            with pytest.raises(ValueError, match="cache budget"):
                cal.build_small(model, None, dim=128, budget_bytes=16 * 1024)
    assert result.models["dlrm"].resident_level == "l1"  # 4 tables x 8 rows x 512 B = 16 KiB fit
    assert result.values["kernel_call_cycles"]["source"].startswith("measured:")


def test_cli_memory_part_on_a_tiny_footprint(runner, tmp_path):
    """A real (fast) run of the memory part up to 1 MiB: measured L1/L2 values, DRAM assumed and
    said so on stderr, the latency plot written, every value with unit and source."""
    plot = tmp_path / "latency.png"
    result = runner.invoke(main, ["calibrate", "--models", "dlrm", "--repeat", "1", "--dim", "16",
                                  "--max-footprint", "1MiB", "--plot", str(plot), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["quantity"]: row for row in json.loads(result.stdout)["rows"] if not row["model"]}
    assert rows["l1_hit_cycles"]["source"].startswith("measured:") and rows["l1_hit_cycles"]["unit"] == "cycles"
    assert rows["dram_cycles"]["source"].startswith("assumed:")
    assert rows["l1d_bytes"]["unit"] == "bytes"
    assert "note: dram_cycles is assumed" in result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = cal.read_calibration(tmp_path / "cache" / "calibration.json")
    assert stored.values["l1_hit_cycles"]["value"] == rows["l1_hit_cycles"]["value"]
    assert stored.memory["latency_4k"][0]["footprint_bytes"] == 16 * 1024


def test_cli_refuses_a_version_1_file_in_one_line_and_calibrate_replaces_it(runner, tmp_path):
    stored = tmp_path / "cache" / "calibration.json"
    stored.parent.mkdir(parents=True)
    stored.write_text(json.dumps({"schema": "memprof.calibration/1", "models": {}}))
    shown = runner.invoke(main, ["calibrate", "--show"])
    assert shown.exit_code == 1 and "Traceback" not in shown.output
    assert len(shown.output.strip().splitlines()) == 1 and "re-run `memprof calibrate`" in shown.output
    result = runner.invoke(main, ["calibrate", "--models", "dlrm", "--repeat", "1", "--dim", "16", "--no-memory"])
    assert result.exit_code == 0, result.output
    assert "replacing" in result.stderr and "memprof.calibration/1" in result.stderr
    assert json.loads(stored.read_text())["schema"] == "memprof.calibration/2"
