"""Calibration against the real kernels (sizes, routing, bookkeeping) and the CLI commands.

No timing assertions: only that a measurement was made and recorded consistently.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("traces.representations")

from memprof.hw import calibrate as cal  # noqa: E402
from memprof.cli.main import main  # noqa: E402
from sim.timing.model import KNOWN_MODELS  # noqa: E402

BUDGET = 256 * 1024


@pytest.mark.parametrize("model", KNOWN_MODELS)
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


def test_measure_model_records_a_consistent_entry():
    entry = cal.measure_model("dlrm", None, dim=32, budget_bytes=BUDGET, freq_ghz=2.0, repeat=2,
                              batch_size=8, pooling=4)
    assert entry.lookups_per_call == 4 * 8 * 4  # features x samples x bag size
    assert entry.cycles_per_lookup == pytest.approx(entry.ns_per_lookup_best * 2.0)
    assert entry.ns_per_lookup_best <= entry.ns_per_lookup_median
    assert entry.memory_bytes <= BUDGET and entry.params["dim"] == 32


def test_calibrate_all_models_with_a_fake_host(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Fake CPU\ncpu MHz\t\t: 2000.0\n")
    result = cal.calibrate(KNOWN_MODELS, {"ttrec": {"rank": 8}}, dim=32, repeat=1, budget_bytes=BUDGET,
                           sysfs_root=tmp_path / "nosys", cpuinfo_path=cpuinfo)
    assert set(result.models) == set(KNOWN_MODELS)
    assert result.host_cpu == "Fake CPU" and result.freq_ghz == 2.0 and not result.freq_assumed
    assert result.models["ttrec"].params["rank"] == 8
    path = cal.save_calibration(result, tmp_path / "c.json")
    overrides, _ = cal.load_calibration(path, cpuinfo_path=cpuinfo)
    assert set(overrides["compute_cycles_per_lookup"]) == set(KNOWN_MODELS)


def test_unreadable_frequency_is_stated_as_assumed(tmp_path):
    result = cal.calibrate(["dlrm"], dim=16, repeat=1, budget_bytes=BUDGET,
                           sysfs_root=tmp_path / "nosys", cpuinfo_path=tmp_path / "nocpuinfo")
    assert result.freq_assumed and "assumed" in result.freq_source
    assert result.models["dlrm"].ns_per_lookup_best >= 0


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMPROF_CACHE_DIR", str(tmp_path / "cache"))
    return CliRunner()


def test_cli_calibrate_json_and_store(runner, tmp_path):
    result = runner.invoke(main, ["calibrate", "--models", "dlrm,memrec", "--repeat", "1", "--dim", "32",
                                  "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [row["model"] for row in payload["rows"]] == ["dlrm", "memrec"]
    assert payload["metadata"]["freq_source"]
    assert (tmp_path / "cache" / "calibration.json").exists()
    shown = runner.invoke(main, ["calibrate", "--show", "--format", "csv"])
    assert shown.exit_code == 0
    assert shown.stdout.splitlines()[0].startswith("model,cycles_per_lookup")
    assert len(shown.stdout.splitlines()) == 3


def test_cli_no_save_and_show_without_file(runner, tmp_path):
    result = runner.invoke(main, ["calibrate", "--models", "dlrm", "--repeat", "1", "--dim", "16", "--no-save"])
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
])
def test_cli_bad_options_exit_2_with_one_line(runner, args, message):
    result = runner.invoke(main, ["calibrate", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_impossible_budget_exits_1(runner):
    result = runner.invoke(main, ["calibrate", "--models", "ttrec", "--param", "ttrec.rank=64", "--budget", "4KB"])
    assert result.exit_code == 1
    assert "cache budget" in result.output and "Traceback" not in result.output


def test_cli_cpus_lists_every_preset(runner):
    result = runner.invoke(main, ["cpus", "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert [row["cpu"] for row in payload["rows"]] == ["icx", "spr", "adl", "tgl", "genoa", "host"]
    assert payload["metadata"]["icx"]["sources"]
