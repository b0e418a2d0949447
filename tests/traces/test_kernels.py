"""The pooled() kernels' production options: prefetch distance, threads and out= change how the
kernel runs, never what it computes; bad values are one clear ValueError."""

import platform

import numba
import numpy as np
import pytest

from tests.traces.test_representations import CASES, SMALL, _batch
from traces.batch import Batch
from traces.generator import SyntheticGenerator
from traces.reference import reference_pooled, reference_reads
from traces.representations import build
from traces.representations import base
from sim.jit import max_threads
from traces.workloads import get_workload

needs_two_threads = pytest.mark.skipif(max_threads() < 2, reason="numba has fewer than 2 threads on this host")


def _allocated(name, params, seed=5):
    rep = build(name, SMALL, **params)
    rep.allocate(seed=seed)
    return rep


@pytest.mark.parametrize("name,params", CASES)
def test_prefetch_distance_does_not_change_the_output(name, params):
    rep = _allocated(name, params)
    batch = _batch(seed=2, batch_size=9)
    off = rep.pooled(batch, prefetch_distance=0)
    for distance in (1, 3, 50):
        assert np.array_equal(rep.pooled(batch, prefetch_distance=distance), off)


@needs_two_threads
@pytest.mark.parametrize("name,params", CASES)
def test_two_threads_give_the_one_thread_output(name, params, monkeypatch):
    monkeypatch.setattr(base, "PARALLEL_MIN_LOOKUPS", 0)  # the parallel kernel even for this small batch
    rep = _allocated(name, params)
    batch = _batch(seed=4, batch_size=150)  # 3 sample blocks per feature: several work items per thread
    one = rep.pooled(batch, threads=1)
    assert np.array_equal(rep.pooled(batch, threads=2), one)
    assert np.array_equal(rep.pooled(batch, threads=2, prefetch_distance=0), one)
    direct = np.full_like(one, np.nan)
    rep._pooled(batch, direct, 3, True)  # the prange kernel itself
    assert np.array_equal(direct, one)


@pytest.mark.parametrize("name,params", [("dlrm", {}), ("hashing", {"rows": 100, "hash_seed": 3})])
def test_bags_are_summed_in_float32_in_lookup_order(name, params):
    # Bit-identical to a float32 sum 0 + r1 + r2 + ... in bag order (no reassociation); the rows
    # are the reference's reads (one per lookup here, in kernel order).
    rep = _allocated(name, params)
    batch = _batch(seed=6, pooling="poisson:4")
    reads = iter(reference_reads(rep, batch))
    elem_of = {r.base_addr: (r, off) for r, off in zip(rep.layout.regions, rep.layout.elem_offsets)}
    got = rep.pooled(batch)
    for t in range(batch.num_features):
        for b in range(batch.batch_size):
            acc = np.zeros(rep.dim, dtype=np.float32)
            for _ in batch.bag(t, b):
                addr, nbytes = next(reads)
                region, first = next((r, off) for base, (r, off) in elem_of.items()
                                     if base <= addr < r.end_addr)
                start = first + (addr - region.base_addr) // 4
                acc = acc + rep.weights[start:start + nbytes // 4]
            assert np.array_equal(got[t, b], acc), (t, b)
    assert next(reads, None) is None


def test_out_is_reused_and_fully_overwritten():
    rep = _allocated("qr", {"collisions": 5, "combine": "add", "threshold": 10})
    bags = [[[1, 2], []], [[], [3]], [[3], [4, 4]], [[], [5]], [[0], []]]
    batch = Batch.from_bags(bags)
    fresh = rep.pooled(batch)
    buffer = np.full(fresh.shape, np.nan, dtype=np.float32)
    result = rep.pooled(batch, out=buffer)
    assert result is buffer
    assert np.array_equal(buffer, fresh)
    assert not buffer[0, 1].any() and not buffer[1, 0].any()  # empty bags written as zeros, not left NaN
    other = _batch(seed=7, batch_size=2)
    assert np.array_equal(rep.pooled(other, out=buffer), rep.pooled(other))


@pytest.mark.parametrize("bad", [np.empty((5, 2, 16), dtype=np.float64), np.empty((5, 3, 16), dtype=np.float32),
                                 np.empty((5, 2, 32), dtype=np.float32)[:, :, ::2], [[0.0]]])
def test_out_of_the_wrong_kind_is_refused(bad):
    rep = _allocated("dlrm", {})
    batch = Batch.from_bags([[[1], [2]]] * 5)
    with pytest.raises(ValueError, match=r"out must be a writeable C-contiguous float32 array of shape \(5, 2, 16\)"):
        rep.pooled(batch, out=bad)


@pytest.mark.parametrize("kwargs, message", [
    ({"prefetch_distance": -1}, "prefetch_distance must be an integer >= 0"),
    ({"prefetch_distance": 1.5}, "prefetch_distance must be an integer >= 0"),
    ({"prefetch_distance": None}, "prefetch_distance must be an integer >= 0"),
    ({"threads": "2"}, "threads must be an integer >= 1"),
    ({"threads": 0}, "threads must be an integer >= 1"),
    ({"threads": max_threads() + 1}, "threads must be <= "),
])
def test_bad_options_name_the_parameter(kwargs, message):
    rep = _allocated("dlrm", {})
    with pytest.raises(ValueError, match=message):
        rep.pooled(_batch(), **kwargs)


def test_threads_are_restored_after_a_parallel_call():
    rep = _allocated("dlrm", {})
    before = numba.get_num_threads()
    rep.pooled(_batch(), threads=max_threads())
    assert numba.get_num_threads() == before


def test_emitted_trace_does_not_depend_on_the_prefetch_distance():
    # The trace lists demand reads only: emit() has no prefetch option, and the kernel that
    # prefetches reads (and so computes from) exactly the rows the trace lists.
    rep = _allocated("dlrm", {})
    batch = _batch(seed=8)
    assert "prefetch_distance" not in rep.emit.__code__.co_varnames
    assert np.array_equal(rep.pooled(batch, prefetch_distance=2), rep.pooled(batch, prefetch_distance=0))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 assembly check")
def test_dlrm_kernel_loads_rows_contiguously_and_prefetches():
    from traces.representations import dlrm

    kernel = numba.njit(dlrm._pooled_kernel.py_func)  # an uncached copy: the cached one hides its assembly
    rep = _allocated("dlrm", {})
    batch = _batch()
    out = np.empty((batch.num_features, batch.batch_size, rep.dim), dtype=np.float32)
    kernel(batch.indices, batch.offsets, batch.batch_size, rep.rows, rep.layout.elem_offset_array(), rep.dim,
           rep.weights, out, 2)
    assert np.array_equal(out, rep.pooled(batch))
    asm = "\n".join(kernel.inspect_asm().values())
    assert "gather" not in asm
    assert "prefetcht0" in asm
    assert "addps" in asm  # packed (vector) float adds


def test_a_checked_buffer_is_not_kept_alive_and_the_representation_still_pickles():
    import gc
    import pickle
    import weakref

    rep = _allocated("dlrm", {})
    batch = _batch()
    buffer = np.empty((batch.num_features, batch.batch_size, rep.dim), dtype=np.float32)
    rep.pooled(batch, out=buffer)
    again = pickle.loads(pickle.dumps(rep))
    assert np.array_equal(again.pooled(batch), buffer)
    ref = weakref.ref(buffer)
    del buffer
    gc.collect()
    assert ref() is None
    with pytest.raises(ValueError, match="out must be"):  # a new, wrong buffer after the checked one is checked
        rep.pooled(batch, out=np.empty((batch.num_features, batch.batch_size, rep.dim), dtype=np.float64))


@pytest.mark.parametrize("name, params", [("dlrm", {}), ("hashing", {"rows": 50})])
@pytest.mark.parametrize("dim", [128, 64, 32, 24])  # the dims compiled as constants, and one that is not
def test_each_specialised_dim_equals_the_reference(name, params, dim):
    wl = get_workload("300,20,7", dim=dim)
    rep = build(name, wl, **params)
    rep.allocate(seed=1)
    batch = SyntheticGenerator(wl, alpha=0.9, pooling="poisson:3", seed=2).batch(70, 0)
    got = rep.pooled(batch)
    np.testing.assert_allclose(got, reference_pooled(rep, batch), rtol=2e-5, atol=2e-5)
    assert np.array_equal(rep.pooled(batch, prefetch_distance=0), got)
