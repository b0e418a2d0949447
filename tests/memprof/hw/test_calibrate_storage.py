"""Calibration storage: where it lives, JSON round trip, loading as host overrides, merging."""

from __future__ import annotations

import pytest

from memprof.hw import calibrate as cal
from memprof.hw.host import host_preset


def _entry(model, cycles, **params):
    return cal.ModelCalibration(model=model, cycles_per_lookup=cycles, ns_per_lookup_best=cycles / 2.5,
                                ns_per_lookup_median=cycles / 2.4, overhead_ns_per_call=1000.0,
                                lookups_per_call=4096, repeat=5, memory_bytes=1 << 16, params={"dim": 128, **params})


def _calibration(host="Test CPU 9000", freq=2.5, values=None, memory=None, **models):
    return cal.Calibration(host_cpu=host, created="2026-01-02T03:04:05+00:00", freq_ghz=freq,
                           freq_source="test", freq_assumed=False, budget_bytes=1 << 19,
                           models=models, versions={"numba": "x"}, method="test", values=values or {},
                           memory=memory or {})


VALUES = {
    "l1_hit_cycles": {"value": 4.0, "unit": "cycles", "source": "measured: chase at 16KiB", "median": 4.5},
    "dram_cycles": {"value": 300.0, "unit": "cycles", "source": "measured: chase at 256MiB"},
    "page_walk_cycles": {"value": 20.0, "unit": "cycles", "source": "assumed: the host preset's page_walk_cycles"},
    "page_walk_dram_cycles": {"value": 90.0, "unit": "cycles", "source": "measured: not a timing-model field"},
    "dram_line_gbps": {"value": None, "unit": "GB/s", "source": "unavailable: too small"},
    "fill_buffers": {"value": None, "unit": "lines", "source": "unavailable: a field without a value"},
    "kernel_call_cycles": {"value": 5000.0, "unit": "cycles", "source": "measured: empty bags"},
}


@pytest.fixture
def cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nmodel name\t: Test   CPU 9000\ncpu MHz\t\t: 2500.000\n")
    return path


def test_path_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEMPROF_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cal.calibration_path() == tmp_path / "home" / ".cache" / "memprof" / "calibration.json"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cal.calibration_path() == tmp_path / "xdg" / "memprof" / "calibration.json"
    monkeypatch.setenv("MEMPROF_CACHE_DIR", str(tmp_path / "mine"))
    assert cal.calibration_path() == tmp_path / "mine" / "calibration.json"


def test_round_trip(tmp_path):
    original = _calibration(dlrm=_entry("dlrm", 250.0), memrec=_entry("memrec", 700.0, k=1, k_weight=4))
    path = cal.save_calibration(original, tmp_path / "deep" / "dir" / "calibration.json")
    assert path.exists()
    assert cal.read_calibration(path) == original


def test_default_location_follows_the_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("MEMPROF_CACHE_DIR", str(tmp_path / "c"))
    cal.save_calibration(_calibration(dlrm=_entry("dlrm", 1.0)))
    assert (tmp_path / "c" / "calibration.json").exists()
    assert cal.read_calibration().models["dlrm"].cycles_per_lookup == 1.0


def test_missing_file_reads_as_none_and_loads_nothing(tmp_path, cpuinfo):
    assert cal.read_calibration(tmp_path / "none.json") is None
    overrides, note = cal.load_calibration(tmp_path / "none.json", cpuinfo_path=cpuinfo)
    assert overrides == {}
    assert "no calibration at" in note and "memprof calibrate" in note


def test_load_gives_host_overrides_on_the_same_cpu(tmp_path, cpuinfo):
    path = cal.save_calibration(_calibration(dlrm=_entry("dlrm", 250.0), qr=_entry("qr", 300.0, combine="mult")),
                                tmp_path / "c.json")
    overrides, note = cal.load_calibration(path, cpuinfo_path=cpuinfo)
    assert overrides == {"compute_cycles_per_lookup": {"dlrm": 250.0, "qr": 300.0}}
    assert "dlrm 250.0" in note and "2026-01-02" in note


def test_load_ignores_a_calibration_from_another_cpu(tmp_path, cpuinfo):
    path = cal.save_calibration(_calibration(host="Other CPU", dlrm=_entry("dlrm", 250.0)), tmp_path / "c.json")
    overrides, note = cal.load_calibration(path, cpuinfo_path=cpuinfo)
    assert overrides == {}
    assert "'Other CPU'" in note and "not used" in note


def test_load_skips_models_measured_with_other_compute_parameters(tmp_path, cpuinfo):
    path = cal.save_calibration(
        _calibration(memrec=_entry("memrec", 700.0, k=1, k_weight=4, weight_width=1), dlrm=_entry("dlrm", 250.0)),
        tmp_path / "c.json")
    # d differs (a size parameter: fine); k_weight differs (changes the work): memrec is skipped.
    overrides, note = cal.load_calibration(
        path, model_params={"memrec": {"d": 75000, "k_weight": 8, "dim": 128}, "dlrm": {"dim": 128}},
        cpuinfo_path=cpuinfo)
    assert overrides == {"compute_cycles_per_lookup": {"dlrm": 250.0}}
    assert "not used (measured with other parameters): memrec" in note
    same, _ = cal.load_calibration(path, model_params={"memrec": {"d": 75000, "k_weight": 4}}, cpuinfo_path=cpuinfo)
    assert same["compute_cycles_per_lookup"]["memrec"] == 700.0


def test_calibrated_host_timing_applies_the_overrides(tmp_path, cpuinfo):
    path = cal.save_calibration(_calibration(memrec=_entry("memrec", 700.0)), tmp_path / "c.json")
    timing, note = cal.calibrated_host_timing(path, sysfs_root=tmp_path / "nosys", cpuinfo_path=cpuinfo)
    ops = {"lookups": 1, "rows": 1}
    assert timing.cycles_per_lookup(ops, "memrec") == 700.0
    plain = host_preset(sysfs_root=tmp_path / "nosys", cpuinfo_path=cpuinfo).timing
    assert plain.cycles_per_lookup(ops, "memrec") == 10.0  # the default overhead 6 + one row 4
    assert timing.freq_ghz == plain.freq_ghz == 2.5


def test_overrides_must_name_representations():
    assert cal.check_model_overrides({"mlp": 3, "compute_cycles_per_lookup": {"qr": 1.0}})["mlp"] == 3
    with pytest.raises(ValueError, match="unknown model 'bert'; known models: dlrm, hashing, qr, robe, ttrec, memrec"):
        cal.check_model_overrides({"compute_cycles_per_lookup": {"bert": 1.0}})


def test_op_count_cycles_of_an_entry_uses_its_parameters():
    # memrec k = 1, k' = 4, dim 128, per-feature pooling and mas hashes in the kernel, at the default
    # costs: overhead 6 + 5 hashes x 4 + 1 divmod x 10 + 5 rows x 4 + (128 + 4 adds + 128 muls) x 0.125 = 88.5
    entry = _entry("memrec", 700.0, k=1, k_weight=4, weight_width=1, d=64, d_weight=64, shared=True,
                   pooling="feature", hash="mas", hash_in_kernel=True)
    assert cal.op_count_cycles(entry) == 88.5
    # as released (sample pooling, ids hashed by the data loader), on the one-feature calibration
    # workload: no hash in the kernel, V * V_w once per sample of one feature: 88.5 - 5 x 4 = 68.5
    released = _entry("memrec", 700.0, k=1, k_weight=4, weight_width=1, d=64, d_weight=64, shared=True)
    assert cal.op_count_cycles(released) == 68.5
    # ttrec rank 4, dim 128 = 2 x 8 x 8: 6 + 4 divmods x 10 + 3 rows x 4 + 2*8*4*(4+8) fmas x 0.125 + 128 adds x 0.125
    assert cal.op_count_cycles(_entry("ttrec", 1.0, rank=4, min_rows=1, q_factors=[2, 8, 8])) == 6 + 40 + 12 + 96 + 16


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"schema": "other/9"}', "not a memprof.calibration/2 file"),
    ('{"schema": "memprof.calibration/2", "models": {}}', "malformed calibration"),
    ('{"schema": "memprof.calibration/1", "models": {}}', "from an older memprof .*re-run `memprof calibrate`"),
])
def test_corrupt_files_give_one_clear_error(tmp_path, text, message):
    path = tmp_path / "calibration.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        cal.read_calibration(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_invalid_entries_are_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        _entry("bert", 1.0)
    with pytest.raises(ValueError, match="cycles_per_lookup must be a finite number"):
        _entry("dlrm", float("nan"))


def test_merge_keeps_other_models_on_the_same_host():
    old = _calibration(dlrm=_entry("dlrm", 250.0), qr=_entry("qr", 300.0))
    new = _calibration(qr=_entry("qr", 310.0), memrec=_entry("memrec", 700.0))
    merged, note = cal.merge_calibrations(old, new)
    assert {m: e.cycles_per_lookup for m, e in merged.models.items()} == {"dlrm": 250.0, "qr": 310.0, "memrec": 700.0}
    assert "kept earlier entries for dlrm" in note


def test_merge_replaces_a_calibration_from_another_host_or_frequency():
    old = _calibration(dlrm=_entry("dlrm", 250.0))
    for new in (_calibration(host="Other", qr=_entry("qr", 1.0)), _calibration(freq=3.0, qr=_entry("qr", 1.0))):
        merged, note = cal.merge_calibrations(old, new)
        assert set(merged.models) == {"qr"} and "replaced" in note
    assert cal.merge_calibrations(None, old)[0] is old


def test_round_trip_keeps_the_machine_values(tmp_path):
    original = _calibration(values=VALUES, memory={"latency_4k": [{"footprint_bytes": 16384, "ns_best": 1.5}]},
                            dlrm=_entry("dlrm", 250.0))
    assert cal.read_calibration(cal.save_calibration(original, tmp_path / "c.json")) == original


def test_a_version_1_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(_calibration(dlrm=_entry("dlrm", 1.0)).to_json().replace("calibration/2", "calibration/1"))
    with pytest.raises(ValueError) as info:
        cal.read_calibration(path)
    message = str(info.value)
    assert "\n" not in message and "memprof.calibration/1" in message and "re-run `memprof calibrate`" in message
    with pytest.raises(ValueError, match="re-run"):
        cal.load_machine_calibration(path)


def test_a_value_without_its_source_is_malformed(tmp_path):
    path = tmp_path / "c.json"
    cal.save_calibration(_calibration(values={"dram_cycles": {"value": 1.0, "unit": "cycles"}}), path)
    with pytest.raises(ValueError, match="lacks value/unit/source"):
        cal.read_calibration(path)


def test_machine_overrides_are_the_timing_fields_with_their_sources(tmp_path, cpuinfo):
    path = cal.save_calibration(_calibration(values=VALUES, dlrm=_entry("dlrm", 250.0)), tmp_path / "c.json")
    overrides, provenance, note = cal.load_machine_calibration(path, cpuinfo_path=cpuinfo)
    # only timing-model fields with a value: not page_walk_dram_cycles / dram_line_gbps (extras),
    # not fill_buffers (no value)
    assert overrides == {"l1_hit_cycles": 4.0, "dram_cycles": 300.0, "page_walk_cycles": 20.0,
                         "kernel_call_cycles": 5000.0}
    assert provenance == {"l1_hit_cycles": "measured: chase at 16KiB", "dram_cycles": "measured: chase at 256MiB",
                          "page_walk_cycles": "assumed: the host preset's page_walk_cycles",
                          "kernel_call_cycles": "measured: empty bags"}
    assert "assumed: page_walk_cycles" in note and "fill_buffers" in note
    # the compute overrides are unchanged and carry no machine field (with_overrides keeps working)
    compute, _ = cal.load_calibration(path, cpuinfo_path=cpuinfo)
    assert compute == {"compute_cycles_per_lookup": {"dlrm": 250.0}}


def test_machine_overrides_need_this_cpu(tmp_path, cpuinfo):
    path = cal.save_calibration(_calibration(host="Other CPU", values=VALUES), tmp_path / "c.json")
    assert cal.load_machine_calibration(path, cpuinfo_path=cpuinfo)[:2] == ({}, {})
    assert cal.load_machine_calibration(tmp_path / "none.json", cpuinfo_path=cpuinfo)[:2] == ({}, {})


def test_merge_keeps_the_memory_values_when_the_new_run_has_none():
    old = _calibration(values=VALUES, memory={"mlp": [1]}, dlrm=_entry("dlrm", 250.0))
    kernel_only = {"kernel_call_cycles": {"value": 6000.0, "unit": "cycles", "source": "measured: new"}}
    merged, note = cal.merge_calibrations(old, _calibration(values=kernel_only, dlrm=_entry("dlrm", 260.0)))
    assert merged.values["kernel_call_cycles"]["value"] == 6000.0
    assert merged.values["dram_cycles"]["value"] == 300.0 and merged.memory == {"mlp": [1]}
    assert "kept the earlier memory measurements" in note
