"""The twin's choice of sources on a machine without PMU, resctrl or valgrind (runs faked, no subprocess)."""

from types import SimpleNamespace

import pytest

from memprof.hw import backends, twin
from memprof.hw.runspec import RunSpec
from traces.spec import TraceSpec

MB = 1 << 20


@pytest.fixture
def bare_machine(monkeypatch):
    walls = iter([3000, 2000, 2500] * 2)  # ns of three native runs per model
    monkeypatch.setattr(backends, "_run_plain", lambda spec, timeout_s: {"region_wall_ns": next(walls),
                                                                         "lookups": 40})
    monkeypatch.setattr(twin, "read_host_frequency", lambda: (2.0, "test clock"))
    return twin.Capabilities(pmu=False, pmu_why="no PMU (test)", resctrl=False, resctrl_why="no resctrl (test)",
                             valgrind=False)


def test_without_counters_cycles_are_the_fastest_wall_time_times_frequency_and_the_rest_unavailable(bare_machine):
    specs = [RunSpec(TraceSpec(model=m, workload="1000", dim=16, batch_size=4, batches=1)) for m in ("dlrm", "qr")]
    geometries = {s: (s, 14, 64) for s in (14 * MB, 28 * MB)}
    cells = twin.measure(specs, [14 * MB, 28 * MB], geometries, (32768, 8, 64), SimpleNamespace(), bare_machine,
                         repeats=3)
    assert [(c["model"], c["llc_bytes"]) for c in cells] == [("dlrm", 14 * MB), ("qr", 14 * MB),
                                                              ("dlrm", 28 * MB), ("qr", 28 * MB)]
    for cell in cells:
        assert cell["cycles"] == 4000.0  # min(3000, 2000, 2500) ns x 2.0 GHz, by hand
        assert "wall-clock x 2.000 GHz (test clock)" in cell["cycles_source"] and "fastest of 3" in cell["cycles_source"]
        assert cell["llc_misses"].startswith("unavailable (") and "valgrind is not installed" in cell["llc_misses"]
        assert cell["dram_bytes"].startswith("unavailable (") and "no PMU (test)" in cell["dram_bytes"]
        assert cell["lookups"] == 40 and cell["ll_ways"] == 14


def test_the_description_names_the_emulation_and_why_not_resctrl(bare_machine):
    how = bare_machine.describe({14 * MB: (14 * MB, 14, 64)})
    assert "--LL=14680064,14,64" in how["llc_misses"] and "16,384 sets" in how["llc_misses"]
    assert "no resctrl (test)" in how["llc_misses"] and "no PMU (test)" in how["cycles"]
    assert how["dram_bytes"].startswith("unavailable here")
