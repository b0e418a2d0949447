"""Every representation's Numba kernel and address emitter against the pure-Python reference,
and each one's operations per lookup (what the timing model prices)."""

import math

import numpy as np
import pytest

from traces.batch import Batch
from traces.generator import SyntheticGenerator
from sim.timing.model import OP_KINDS, TimingModel
from traces.layout import PAGE_BYTES, make_layout
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
    ("memrec", {"d": 97, "d_weight": 31, "k": 2, "k_weight": 3}),  # released: sample pooling, wyhash, loader hashes
    ("memrec", {"d": 97, "d_weight": 31, "k": 3, "k_weight": 4, "hash_in_kernel": True}),
    ("memrec", {"d": 50, "d_weight": 20, "k": 1, "k_weight": 1, "weight_width": 4, "shared": False}),
    ("memrec", {"d": 97, "d_weight": 31, "k": 2, "k_weight": 3, "pooling": "feature", "hash": "mas"}),
    ("memrec", {"d": 97, "d_weight": 31, "k": 2, "k_weight": 3, "pooling": "feature", "hash_in_kernel": True}),
    ("memrec", {"d": 50, "d_weight": 20, "k": 1, "k_weight": 4, "weight_width": 4, "shared": False,
                "pooling": "feature", "hash": "mas"}),
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
    assert got.shape == (rep.output_features(SMALL.num_features), batch.batch_size, SMALL.dim)
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
    a = build("memrec", SMALL, hash="mas").emit(_batch(seed=9))
    b = build("memrec", SMALL, hash="mas").emit(_batch(seed=9))
    c = build("memrec", SMALL, hash="mas", hash_seed=1).emit(_batch(seed=9))  # hash_seed picks mas's parameters
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


# --------------------------------------------------------------------------- the reference is independent

def _lines_differ_after(name, params, tamper):
    rep = build(name, SMALL, **params)
    tamper(rep)
    batch = _batch(seed=3)
    return rep.emit(batch).tolist() != reference_lines(rep, batch)


def test_reference_derives_factorisations_sizes_and_hash_parameters_itself():
    # Each tampering leaves the representation self-consistent (its emitter follows it) but wrong
    # by the published definition, which the reference recomputes: the comparison must fail.
    def ttrec_rows(rep):
        rep.p_factors[3] = [15, 14, 15]  # 3000 rows: (15, 15, 14) by definition; this also covers 3000

    def ttrec_dim(rep):
        rep.q_factors[:] = [2, 2, 4]  # multiplies out to 16 with the same largest factor, but the split is (1, 4, 4)

    def robe_size(rep):
        rep.size_floats -= 1

    def memrec_hash(rep):
        rep.w_params = rep.w_params[::-1].copy()

    def hashing_hash(rep):
        rep.params = rep.params[::-1].copy()

    assert _lines_differ_after("ttrec", {"rank": 3, "min_rows": 100}, ttrec_rows)
    assert _lines_differ_after("ttrec", {"rank": 3, "min_rows": 100}, ttrec_dim)
    assert _lines_differ_after("robe", {"chunk": 4, "size_floats": 997}, robe_size)
    assert _lines_differ_after("memrec", {"d": 97, "d_weight": 31, "k": 2, "k_weight": 3, "hash": "mas"}, memrec_hash)
    assert _lines_differ_after("hashing", {"rows": 100, "hash_seed": 3}, hashing_hash)


def test_reference_recomputes_the_layout():
    rep = build("qr", SMALL, collisions=16, threshold=10)
    assert rep.emit(_batch()).tolist() == reference_lines(rep, _batch())
    rep.layout = make_layout([(r.name, r.nbytes // 4 + 1024) for r in rep.layout.regions])  # arrays a page too long
    assert rep.emit(_batch()).tolist() != reference_lines(rep, _batch())


# --------------------------------------------------------------------------- operations per lookup

def _ops(**counts):
    return {kind: float(counts.get(kind, 0)) for kind in OP_KINDS if kind in counts}


def test_plain_table_ops_and_hashing_without_a_hash_for_small_tables():
    wl = get_workload("50,1000", dim=16)
    ops = build("dlrm", wl).op_counts()
    assert ops.work([3, 4]) == [("dlrm", _ops(lookups=1, divmods=1, rows=1, adds=16), 3),
                                ("dlrm", _ops(lookups=1, divmods=1, rows=1, adds=16), 4)]
    hashing = build("hashing", wl, rows=100).op_counts()
    assert hashing.plain == (True, False)  # 50 rows <= m = 100 keep their ids: no hash
    assert hashing.feature(1) == ("hashing", {**_ops(lookups=1, divmods=1, rows=1, adds=16), "hashes": 1.0})


@pytest.mark.parametrize("combine, adds, muls", [("mult", 64, 64), ("add", 128, 0), ("concat", 64, 0)])
def test_qr_ops(combine, adds, muls):
    ops = build("qr", get_workload("5,1000", dim=64), combine=combine, threshold=10).op_counts()
    label, got = ops.feature(1)
    assert label == "qr" and (got["divmods"], got["rows"], got["adds"], got.get("muls", 0)) == (2, 2, adds, muls)
    assert ops.feature(0) == ("dlrm", _ops(lookups=1, divmods=1, rows=1, adds=64))  # 5 rows <= threshold


@pytest.mark.parametrize("dim, chunk, chunks", [(128, 32, 4), (128, 48, 3), (16, 32, 1), (128, 1, 128)])
def test_robe_reads_ceil_dim_over_z_chunks(dim, chunk, chunks):
    ops = build("robe", get_workload("1000", dim=dim), chunk=chunk).op_counts().ops
    assert ops["hashes"] == ops["rows"] == chunks
    assert ops["divmods"] == 1 + 2 * chunks
    assert ops["adds"] == dim


def _count_tt_fmas(q1, q2, q3, r):
    """Count the multiply-adds of a naive left-to-right contraction G1 (q1 x r), G2 (r x q2 x r), G3 (r x q3)."""
    count = 0
    for _a in range(q1):
        for _b in range(q2):
            for _v in range(r):
                count += r  # t12[a, b, v] = sum over u of G1[a, u] G2[u, b, v]
    for _ab in range(q1 * q2):
        for _c in range(q3):
            count += r  # e[ab, c] = sum over v of t12[ab, v] G3[v, c]
    return count


@pytest.mark.parametrize("dim, q, r", [(16, (2, 2, 4), 4), (128, (2, 8, 8), 3), (5, (1, 1, 5), 2)])
def test_ttrec_fmas_match_a_naive_contraction(dim, q, r):
    ops = build("ttrec", get_workload("10,2000", dim=dim), rank=r, min_rows=100).op_counts()
    label, got = ops.feature(1)
    assert label == "ttrec" and got["fmas"] == _count_tt_fmas(*q, r)
    assert got["rows"] == 3 and got["divmods"] == 4 and got["adds"] == dim
    assert ops.plain == (True, False)  # 10 rows < min_rows: a full table


def test_memrec_ops():
    two = get_workload("1000,7", dim=64)
    ops = build("memrec", two, k=2, k_weight=3, d=50, d_weight=20, pooling="feature", hash="mas",
                hash_in_kernel=True).op_counts()
    assert ops.plain == (False, False)
    got = ops.ops
    assert got["hashes"] == got["rows"] == 5  # mas: one hash per row
    assert got["adds"] == 2 * 64 + 3 and got["muls"] == 2 * 64  # per token: alpha times each of its k rows
    wide = build("memrec", get_workload("1000", dim=64), weight_width=4, d=50, d_weight=20).op_counts().ops
    assert wide["adds"] == 64 + 4 * 4  # k = 1 token row, k' = 4 weight entries of 4 floats


def test_memrec_released_ops():
    two = get_workload("1000,7", dim=64)
    released = build("memrec", two, k=2, k_weight=3, d=50, d_weight=20)  # sample pooling, wyhash, loader hashes
    assert released.op_counts().ops["hashes"] == 0  # hashed by the data loader: not the kernel's work
    assert released.hash_calls_per_lookup() == 3  # the first wyhash call covers 2 rows, each extra call 2 more
    assert released.op_counts().ops["muls"] == 64 / 2  # V * V_w once per sample of 2 features
    timed = build("memrec", two, k=2, k_weight=3, d=50, d_weight=20, hash_in_kernel=True)
    assert timed.op_counts().ops["hashes"] == 3


def test_memrec_sample_pooling_is_one_bag_per_sample():
    rep = build("memrec", SMALL, d=97, d_weight=31)
    rep.allocate(seed=2)
    batch = Batch.from_bags([[[1], [2]], [[3], []], [[], []], [[4], []], [[0], []]])
    out = rep.pooled(batch)
    assert out.shape == (1, 2, SMALL.dim)
    tokens, weights = rep.array("token_table").reshape(97, -1), rep.array("weight_table")
    hashed = rep.prepare(batch)
    rows = hashed.token_rows.reshape(-1, 1)[:, 0]  # k = 1: lookups in batch order: (0,0) (0,1) (1,0) (3,0) (4,0)
    wrows = hashed.weight_rows.reshape(-1, 4)
    sample0 = [0, 2, 3, 4]  # lookups of sample 0: features 0, 1, 3, 4
    expected = sum(tokens[rows[i]].astype(np.float64) for i in sample0) * sum(
        weights[wrows[i]].astype(np.float64).sum() for i in sample0)
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-5)
    np.testing.assert_allclose(out[0, 1], tokens[rows[1]] * weights[wrows[1]].astype(np.float64).sum(), rtol=1e-5)


@pytest.mark.parametrize("params", [{"pooling": "rows"}, {"hash": "md5"}])
def test_memrec_unknown_mode_lists_the_known_ones(params):
    with pytest.raises(ValueError, match="known: "):
        build("memrec", SMALL, **params)


@pytest.mark.parametrize("name,params", CASES)
def test_every_representation_prices_its_lookups(name, params):
    ops = build(name, SMALL, **params).op_counts()
    assert len(ops.plain) == SMALL.num_features
    for t in range(SMALL.num_features):
        label, counts = ops.feature(t)
        assert set(counts) <= set(OP_KINDS) and label in REGISTRY
        assert math.isfinite(TimingModel().cycles_per_lookup(counts)) and TimingModel().cycles_per_lookup(counts) > 0
    with pytest.raises(ValueError, match="2 lookup counts for 5 features"):
        ops.work([1, 2])


@pytest.mark.parametrize("pooling", ["sample", "feature"])
def test_memrec_hashing_in_the_loader_or_the_kernel_gives_the_same_work(pooling):
    batch = _batch(seed=4)
    loader = build("memrec", SMALL, d=97, d_weight=31, k=2, k_weight=3, pooling=pooling)
    kernel = build("memrec", SMALL, d=97, d_weight=31, k=2, k_weight=3, pooling=pooling, hash_in_kernel=True)
    loader.allocate(seed=3)
    kernel.allocate(seed=3)
    prepared = loader.prepare(batch)
    assert kernel.prepare(batch) is batch  # nothing to do before the kernel when it hashes itself
    assert np.array_equal(loader.pooled(prepared), kernel.pooled(batch))
    assert np.array_equal(loader.pooled(batch), kernel.pooled(batch))
    assert np.array_equal(loader.emit(prepared), kernel.emit(batch))


@pytest.mark.parametrize("parallel", [False, True])
def test_memrec_released_shape_at_dim_128_equals_reference(parallel):
    # dim 128 with one weight float is compiled as constants: check that path too (serial, and the
    # prange kernel itself over 2 sample blocks)
    workload = get_workload("1000,50,7", dim=128)
    rep = build("memrec", workload, d=97, d_weight=31)
    rep.allocate(seed=8)
    batch = SyntheticGenerator(workload, alpha=0.9, pooling="poisson:2", seed=2).batch(80, 0)
    out = np.empty((1, 80, 128), dtype=np.float32)
    rep._pooled(batch, out, 3, parallel)
    np.testing.assert_allclose(out, reference_pooled(rep, batch), rtol=2e-5, atol=2e-5)
    assert rep.emit(batch).tolist() == reference_lines(rep, batch)
