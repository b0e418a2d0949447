"""Every representation's Numba kernel and address emitter against the pure-Python reference."""

import numpy as np
import pytest

from traces.batch import Batch
from traces.generator import SyntheticGenerator
from traces.layout import PAGE_BYTES
from traces.reference import reference_lines, reference_pooled
from traces.representations import REGISTRY, build
from traces.workloads import get_workload

SMALL = get_workload("1000,50,7,3000,1", dim=16)

# Parameters that make every code path of each representation active on SMALL.
CASES = [
    ("dlrm", {}),
    ("hashing", {"rows": 100, "hash_seed": 3}),
    ("qr", {"collisions": 16, "threshold": 10}),
    ("qr", {"collisions": 5, "combine": "add", "threshold": 10}),
    ("qr", {"collisions": 7, "combine": "concat", "threshold": 10}),
    ("robe", {"chunk": 4, "size_floats": 997}),
    ("robe", {"chunk": 5, "size_floats": 64}),  # Z does not divide dim: a short last chunk
    ("ttrec", {"rank": 3, "min_rows": 100}),
    ("memrec", {"d": 97, "d_weight": 31, "k": 2, "k_weight": 3}),
    ("memrec", {"d": 50, "d_weight": 20, "k": 1, "k_weight": 4, "weight_width": 4, "shared": False}),
]


def _batch(seed=0, pooling="poisson:2", batch_size=6):
    return SyntheticGenerator(SMALL, alpha=0.9, pooling=pooling, seed=seed).batch(batch_size, 0)


@pytest.mark.parametrize("name,params", CASES)
@pytest.mark.parametrize("line_bytes", [64, 32])
def test_emitted_lines_equal_reference(name, params, line_bytes):
    rep = build(name, SMALL, **params)
    batch = _batch(seed=len(params))
    emitted = rep.emit(batch, line_bytes=line_bytes)
    assert emitted.dtype == np.uint64
    assert emitted.tolist() == reference_lines(rep, batch, line_bytes)


@pytest.mark.parametrize("name,params", CASES)
def test_pooled_embeddings_equal_reference(name, params):
    rep = build(name, SMALL, **params)
    rep.allocate(seed=5)
    batch = _batch(seed=1)
    got = rep.pooled(batch)
    assert got.shape == (SMALL.num_features, batch.batch_size, SMALL.dim)
    np.testing.assert_allclose(got, reference_pooled(rep, batch), rtol=2e-5, atol=2e-5)


def test_empty_bags_give_zero_embeddings_and_no_reads():
    rep = build("dlrm", SMALL)
    rep.allocate()
    bags = [[[1, 2], []], [[], []], [[3], [4]], [[], [5]], [[0], []]]
    batch = Batch.from_bags(bags)
    out = rep.pooled(batch)
    assert not out[1].any() and not out[0, 1].any() and not out[3, 0].any()
    expected = rep.array("table_0").reshape(-1, 16)[1] + rep.array("table_0").reshape(-1, 16)[2]
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-6)
    assert rep.emit(batch).size == batch.num_lookups == 6  # a 64-byte row = one line


def test_analytic_lines_per_lookup_on_criteo_tb():
    wl = get_workload("criteo-tb")
    batch = SyntheticGenerator(wl, seed=0).batch(64, 0)
    lookups = batch.num_lookups
    # Full dim-128 fp32 row = 512 B = 8 lines (rows are 512 B aligned in page-aligned tables).
    assert build("dlrm", wl).emit(batch).size == 8 * lookups
    # Mem-Rec default: k' = 4 scalar weight reads (one line each) + k = 1 token row of 8 lines.
    assert build("memrec", wl).emit(batch).size == 12 * lookups


def test_layout_regions_are_page_aligned_and_disjoint():
    rep = build("ttrec", get_workload("criteo-tb"))
    regions = rep.layout.regions
    assert all(r.base_addr % PAGE_BYTES == 0 for r in regions)
    assert all(a.end_addr <= b.base_addr for a, b in zip(regions, regions[1:]))
    assert regions[-1].end_addr < 1 << 63


def test_model_sizes_follow_from_parameters():
    wl = get_workload("criteo-tb")
    assert build("dlrm", wl).memory_bytes == wl.total_rows * 128 * 4 == 187_767_399 * 512
    memrec = build("memrec", wl)
    assert memrec.memory_bytes == 75000 * 128 * 4 + 75000 * 4  # 38.4 MB token + 300 KB weight table
    assert memrec.compression == pytest.approx(187_767_399 * 512 / (75000 * 516))


def test_same_seed_same_trace_and_different_seed_differs():
    a = build("memrec", SMALL).emit(_batch(seed=9))
    b = build("memrec", SMALL).emit(_batch(seed=9))
    c = build("memrec", SMALL, hash_seed=1).emit(_batch(seed=9))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_registry_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown representation 'nope'; known: dlrm"):
        build("nope", SMALL)
    with pytest.raises(ValueError, match="unknown parameter"):
        build("memrec", SMALL, dd=3)
    with pytest.raises(ValueError, match="k must be >= 1"):
        build("memrec", SMALL, k=0)
    with pytest.raises(ValueError, match="concat"):
        build("qr", get_workload("100", dim=15), combine="concat")


def test_allocate_refuses_over_budget():
    rep = build("dlrm", get_workload("criteo-tb"))
    with pytest.raises(ValueError, match="over the memory budget"):
        rep.allocate(budget_bytes=1 << 30)


def test_every_registered_model_is_covered():
    assert {name for name, _ in CASES} == set(REGISTRY)
