"""End to end: ``memprof profile --llc A,B`` under real cachegrind on a tiny workload.

Sizes, derived so the assertion must hold: one table of 65,536 rows x dim 32 (128 B = 2 lines
a row): dlrm's table is 8 MiB, over twice the larger LL (3.5 MiB = 14 ways x 64 B x 4,096
sets; the smaller: 1.75 MiB, 2,048 sets). 256 samples x pooling 8 x 4 batches = 8,192
uniform lookups draw about 65,536 (1 - e^-1/8) = 7,700 distinct rows = 15,400 distinct lines,
every one a cold LL miss after the 2 x LL flush. Mem-Rec with d = d_weight = 1,000 has
132,000 B of tables = 2,063 lines, which fit either LL: at most 2,063 table misses. The
output rows (256 x 128 B = 512 lines a batch) are written by both kernels, and Mem-Rec's
hashed index arrays (5 x 8,192 ids of at most 8 B = at most 5,120 lines) stay far below the gap.
About 2 minutes (1 min 46 s here at load 2-3): two valgrind start-ups of Python, NumPy and Numba, in parallel.
"""

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("traces.representations")

from memprof.cli.main import main
from memprof.hw.cachegrind import find_valgrind
from traces.spec import TraceSpec

KB = 1 << 10
LL_SIZES = (1792 * KB, 3584 * KB)
WORKLOAD = ["--workload", "65536", "--dim", "32", "--batch-size", "256", "--batches", "4", "--pooling", "8",
            "--alpha", "0", "--param", "memrec.d=1000", "--param", "memrec.d_weight=1000"]


def test_the_sizes_are_as_the_docstring_derives():
    dlrm = TraceSpec(model="dlrm", workload="65536", dim=32).representation()
    memrec = TraceSpec(model="memrec", workload="65536", dim=32, params={"d": 1000, "d_weight": 1000}).representation()
    assert dlrm.memory_bytes == 65536 * 128 > 2 * max(LL_SIZES)
    assert memrec.memory_bytes == 132_000 < min(LL_SIZES) // 4


@pytest.mark.slow
@pytest.mark.skipif(find_valgrind() is None, reason="valgrind is not installed (apt install valgrind)")
def test_twin_under_cachegrind_dlrm_misses_exceed_memrec_when_only_memrec_fits():
    result = CliRunner().invoke(main, ["profile", "--model", "dlrm,memrec", "--llc", "1792KB,3584KB", "--runs", "1",
                                       *WORKLOAD, "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["schema"] == "memprof.profile-twin/1"
    rows = {(r["model"], r["llc_bytes"]): r for r in payload["rows"]}
    assert set(rows) == {(m, s) for m in ("dlrm", "memrec") for s in LL_SIZES}
    for size in LL_SIZES:
        dlrm, memrec = rows[("dlrm", size)], rows[("memrec", size)]
        assert dlrm["llc_misses_source"].startswith(f"cachegrind --LL={size},14,64")
        assert dlrm["llc_misses"] > 15_000  # the cold distinct lines of the docstring
        assert memrec["llc_misses"] < 2_063 + 5_120 + 4 * 512 + 1_000  # tables + indices + output + slack
        assert dlrm["llc_misses"] > memrec["llc_misses"]
        assert memrec["llc_misses_ratio"] == pytest.approx(dlrm["llc_misses"] / memrec["llc_misses"])
        assert dlrm["lookups"] == memrec["lookups"] == 256 * 8 * 4
        for row in (dlrm, memrec):
            assert isinstance(row["cycles"], float) and row["cycles"] > 0
            assert isinstance(row["sim_llc_misses_ratio"], float) and isinstance(row["sim_cycles_ratio"], float)
            if row["dram_bytes_source"] == "none":  # no uncore/MBM: never a number
                assert row["dram_bytes"].startswith("unavailable (")
        if dlrm["dram_bytes_source"] == "none":
            assert memrec["dram_bytes_ratio"].startswith("unavailable (")
        # the simulator sees the same tables miss, and fewer for memrec
        assert rows[("memrec", size)]["sim_llc_misses_ratio"] > 1
    how = payload["metadata"]["measured_how"]
    assert "cachegrind" in how["llc_misses"] or "resctrl" in how["llc_misses"]
    assert payload["metadata"]["max_rows_cap"] is None  # 8 MiB of tables fits the 4 x LLC budget
