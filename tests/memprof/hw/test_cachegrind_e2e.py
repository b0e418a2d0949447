"""End to end: the DLRM kernel under cachegrind versus memprof's simulation of the same trace.

Geometry: a 3.5 MiB 14-way LL (4096 sets) and the host-like 32 KiB 8-way D1, a 32 MiB
table (9x the LL) and 262,144 lookups, so the kernel's own LL misses (about a million)
dwarf the few thousand of other unsymbolised code. Pooling 64 keeps the output buffer
(not in the trace) small. About 50 s, nearly all of it valgrind starting Python and
Numba.
"""

import pytest

pytest.importorskip("traces.representations")

from memprof.hw.cachegrind import find_valgrind
from memprof.hw.runspec import RunSpec
from traces.spec import TraceSpec

MB = 1 << 20


@pytest.mark.slow
@pytest.mark.skipif(find_valgrind() is None, reason="valgrind is not installed (apt install valgrind)")
def test_cachegrind_ll_misses_agree_with_the_simulator_within_5_percent():
    from memprof.hw import cachegrind_compare

    spec = RunSpec(TraceSpec(model="dlrm", workload="65536", dim=128, batch_size=64, batches=64, pooling="64",
                             alpha=0.8, seed=1))
    cmp = cachegrind_compare.run(spec, ll=(3584 * 1024, 14, 64), d1=(32768, 8, 64), timeout_s=600)
    assert cmp.lookups == 64 * 64 * 64
    assert cmp.trace_accesses == cmp.lookups * 8  # 512 B rows = 8 lines each
    assert cmp.aligned
    # the kernel dominates: far more misses than the ~5k of non-kernel unsymbolised code
    assert cmp.cachegrind_ll_read_misses > 200_000
    assert abs(cmp.relative_difference) < 0.05, (cmp.cachegrind_ll_read_misses, cmp.simulated_with_index)
    assert abs(cmp.exact_relative_difference) < 0.05, (cmp.cachegrind_ll_read_misses, cmp.simulated_exact_ll_misses)
