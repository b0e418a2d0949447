"""Per-access cost of the N-core simulation (sim.multicore) versus the single-core one
(sim.hierarchy_pass with one [L1, L2, LLC] Simulator): accesses per second, best and median
of 5, on pre-emitted batches (emission not timed). Usage: python scripts/bench_multicore.py [N ...]"""

import sys
import time

import numpy as np

from memprof.analysis.experiment import CacheSetup, _private_configs, tlb_config
from memprof.hw.host import cpu_preset
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.hierarchy_pass import HierarchyPass
from sim.multicore import MulticoreHierarchy
from sim.tlb import Tlb
from traces.spec import TraceSpec

REPEATS = 5
preset = cpu_preset("icx")
setup = CacheSetup((56 << 20,))
l1, l2 = _private_configs(preset, setup)
llc = CacheConfig(56 << 20, 16, 64, "lru")
tlb = tlb_config(preset, setup)


def emitted(cores, batches=3, model="memrec"):
    """Core c: batches c*B .. c*B+B-1 of one seeded stream (as memprof.analysis.multicore does)."""
    trace = TraceSpec(model=model, batch_size=512, batches=batches).build()
    out = []
    for c in range(cores):
        batches_c = trace.generator.batches(trace.batch_size, batches, start=c * batches)
        out.append([(trace.emit(b).copy(), b.num_lookups) for b in batches_c])
    return out


def single(data):
    hp = HierarchyPass([Simulator(llc, l1=l1, l2=l2, inclusive=False)], Tlb(tlb))
    t = time.perf_counter()
    for addrs, _ in data[0]:
        hp.feed(addrs)
    return sum(a.size for a, _ in data[0]) / (time.perf_counter() - t)


def multi(data):
    hier = MulticoreHierarchy([llc], len(data), l1=l1, l2=l2, tlb=tlb)
    t = time.perf_counter()
    for b in range(len(data[0])):
        hier.feed_round([d[b][0] for d in data], [d[b][1] for d in data])
    return sum(a.size for d in data for a, _ in d) / (time.perf_counter() - t)


counts = [int(v) for v in sys.argv[1:]] or [4, 16]
data = emitted(max(counts))
single(data)  # compile
base = [single(data) for _ in range(REPEATS)]
print(f"1 core (HierarchyPass): best {max(base):.3e} accesses/s, median {np.median(base):.3e}")
for n in counts:
    multi(data[:n])
    rates = [multi(data[:n]) for _ in range(REPEATS)]
    print(f"{n} cores (MulticoreHierarchy): best {max(rates):.3e} accesses/s, median {np.median(rates):.3e}; "
          f"cost per access vs 1 core: best {max(base) / max(rates):.2f}x, median {np.median(base) / np.median(rates):.2f}x")
