"""Backward and optimizer kernels against the float64 references (gradient by exact
differences of the forward reference), their traces against the pure-Python reference of the
same passes, analytic cases (a repeated id, empty bags, a hand-built trace) and bad names."""

import numpy as np
import pytest

from tests.traces.test_representations import CASES, SMALL, _batch
from traces.batch import Batch
from traces.layout import LAYOUT_BASE, PAGE_BYTES
from traces.reference_training import reference_gradient, reference_step, reference_train_lines
from traces.representations import build
from traces.training import GRADS, OPTIMIZERS, TrainConfig, Trainer
from traces.workloads import get_workload

W = 1 << 63
MODES = [(g, o) for g in GRADS for o in OPTIMIZERS]


def _trained(name, params, grad, optimizer, batch, grad_out=None, seed=5):
    rep = build(name, SMALL, **params)
    rep.allocate(seed=seed)
    before = rep.weights.copy()
    tr = Trainer(rep, TrainConfig(grad=grad, optimizer=optimizer, lr=0.05))
    tr.allocate()
    out = rep.pooled(batch)
    g = np.random.default_rng(7).standard_normal(out.shape).astype(np.float32) if grad_out is None else grad_out
    tr.backward(batch, g)
    return rep, tr, before, g


def _flat_gradient(tr):
    """The trainer's gradient as a flat array of the parameters' shape."""
    if tr.dense:
        return tr.grad.copy()
    tl, flat = tr.tl, np.zeros(tr.rep.layout.total_elems, dtype=np.float32)
    for u, row in enumerate(tr.unique_rows):
        reg = int(np.searchsorted(tl.row_base, row, side="right") - 1)
        start = tl.elem_offset[reg] + (row - tl.row_base[reg]) * tl.width[reg]
        n = tr.compact_offsets[u + 1] - tr.compact_offsets[u]
        flat[start:start + n] = tr.compact[tr.compact_offsets[u]:tr.compact_offsets[u + 1]]
    return flat


@pytest.mark.parametrize("name,params", CASES)
@pytest.mark.parametrize("grad", GRADS)
def test_gradient_equals_the_difference_reference(name, params, grad):
    batch = _batch(seed=3, batch_size=2)
    rep, tr, before, g = _trained(name, params, grad, "sgd", batch)
    rep.weights = before.copy()
    expected = reference_gradient(rep, batch, g)
    np.testing.assert_allclose(_flat_gradient(tr), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,params", CASES)
def test_sparse_and_dense_gradients_and_steps_are_bit_identical(name, params):
    batch = _batch(seed=4, batch_size=5)
    for optimizer in OPTIMIZERS:
        results = {}
        for grad in GRADS:
            rep, tr, _, _ = _trained(name, params, grad, optimizer, batch)
            flat = _flat_gradient(tr)
            tr.step()
            results[grad] = (flat, rep.weights.copy(), tr.state.copy())
        for a, b in zip(results["sparse"], results["dense"]):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("name,params", CASES)
@pytest.mark.parametrize("grad,optimizer", MODES)
def test_step_equals_the_numpy_reference(name, params, grad, optimizer):
    batch = _batch(seed=2, batch_size=4)
    rep, tr, before, g = _trained(name, params, grad, optimizer, batch)
    rep_ref = build(name, SMALL, **params)
    rep_ref.weights = before.copy()
    exact_grad = _flat_gradient(tr).astype(np.float64)  # checked against the reference above
    tr.step()
    weights, state = reference_step(rep_ref, exact_grad, optimizer, lr=0.05, eps=1e-8)
    np.testing.assert_allclose(rep.weights, weights, rtol=1e-5, atol=1e-6)
    if optimizer == "adagrad":
        np.testing.assert_allclose(tr.state, state, rtol=1e-5, atol=1e-9)
        # a second step reads the state the first one wrote
        tr.backward(batch, g)
        rep_ref.weights = rep.weights.copy()
        second = _flat_gradient(tr).astype(np.float64)
        tr.step()
        weights, state2 = reference_step(rep_ref, second, optimizer, lr=0.05, eps=1e-8, state=state)
        np.testing.assert_allclose(rep.weights, weights, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tr.state, state2, rtol=1e-5, atol=1e-9)
    assert np.all(np.isfinite(rep.weights))


@pytest.mark.parametrize("name,params", CASES)
@pytest.mark.parametrize("grad,optimizer", MODES)
@pytest.mark.parametrize("phase", ["backward", "train"])
def test_trace_equals_reference(name, params, grad, optimizer, phase):
    rep = build(name, SMALL, **params)
    batch = _batch(seed=len(params))
    got = Trainer(rep, TrainConfig(grad=grad, optimizer=optimizer)).emit(batch, phase)
    assert got.dtype == np.uint64
    assert got.tolist() == reference_train_lines(rep, batch, phase, grad, optimizer)


@pytest.mark.parametrize("name,params", [CASES[0], CASES[5], CASES[6], CASES[7], CASES[8]])
def test_trace_equals_reference_with_32_byte_lines(name, params):
    rep = build(name, SMALL, **params)
    batch = _batch(seed=1)
    got = Trainer(rep, TrainConfig(grad="sparse", optimizer="adagrad")).emit(batch, "train", line_bytes=32)
    assert got.tolist() == reference_train_lines(rep, batch, "train", "sparse", "adagrad", line_bytes=32)


def test_forward_phase_is_the_inference_trace():
    rep = build("robe", SMALL, chunk=4, size_floats=997)
    batch = _batch(seed=2)
    assert np.array_equal(Trainer(rep).emit(batch, "forward"), rep.emit(batch))


def test_repeated_id_adds_its_gradient_twice():
    # one table of 4 rows, dim 2; the bag [3, 3, 1]: dL/drow3 = 2 g, dL/drow1 = g
    wl = get_workload("4", dim=2)
    batch = Batch.from_bags([[[3, 3, 1]]])
    for grad in GRADS:
        rep = build("dlrm", wl)
        rep.allocate(seed=1)
        tr = Trainer(rep, TrainConfig(grad=grad, lr=0.5))
        tr.allocate()
        before = rep.weights.copy()
        g = np.array([[[1.0, -2.0]]], dtype=np.float32)
        tr.backward(batch, g)
        assert _flat_gradient(tr).tolist() == [0, 0, 1, -2, 0, 0, 2, -4]
        tr.step()
        assert np.allclose(rep.weights - before, [0, 0, -0.5, 1, 0, 0, -1, 2])


@pytest.mark.parametrize("grad,optimizer", MODES)
def test_empty_bags_change_nothing(grad, optimizer):
    wl = get_workload("10,3", dim=4)
    batch = Batch.from_bags([[[], []], [[], []]])
    rep = build("robe", wl, chunk=2, size_floats=9)
    rep.allocate(seed=2)
    before = rep.weights.copy()
    tr = Trainer(rep, TrainConfig(grad=grad, optimizer=optimizer))
    tr.allocate()
    tr.train_step(batch)
    assert np.array_equal(rep.weights, before)
    trace = tr.emit(batch, "backward")
    if grad == "sparse":
        assert trace.size == 0
    else:  # only the zeroing of the gradient buffer (9 floats: one 64-byte line), a store
        assert trace.tolist() == [(LAYOUT_BASE + PAGE_BYTES) | W]


def test_hand_built_sparse_sgd_trace():
    # table_0: 4 rows x 16 floats (one 64-byte line per row) at LAYOUT_BASE; unique_rows (4 int64)
    # on the next page, grad_rows (64 floats) on the one after. Bag [2, 2]:
    wl = get_workload("4", dim=16)
    rep = build("dlrm", wl)
    batch = Batch.from_bags([[[2, 2]]])
    row2, uniq, compact = LAYOUT_BASE + 128, LAYOUT_BASE + PAGE_BYTES, LAYOUT_BASE + 2 * PAGE_BYTES
    expected = [row2, row2,  # forward: the row, twice
                uniq | W, compact | W,  # one unique id written; its compact row zeroed
                compact, compact | W, compact, compact | W,  # two scatter-adds into it
                uniq, compact, row2, row2 | W]  # the SGD step: id, gradient row, read and write the row
    got = Trainer(rep, TrainConfig(grad="sparse", optimizer="sgd")).emit(batch, "train")
    assert got.tolist() == expected


def test_hand_built_dense_adagrad_trace():
    # 2 rows x 16 floats; dense: grad_table_0 on the next page, adagrad_table_0 (2 floats) after it
    wl = get_workload("2", dim=16)
    rep = build("dlrm", wl)
    batch = Batch.from_bags([[[1]]])
    t, g, s = LAYOUT_BASE, LAYOUT_BASE + PAGE_BYTES, LAYOUT_BASE + 2 * PAGE_BYTES
    expected = [t + 64,  # forward
                g | W, (g + 64) | W,  # zero the gradient buffer (two lines)
                g + 64, (g + 64) | W]  # scatter row 1
    for r in (0, 1):  # every row: gradient, state read/write, gradient, row read/write
        expected += [g + 64 * r, s, s | W, g + 64 * r, t + 64 * r, (t + 64 * r) | W]
    got = Trainer(rep, TrainConfig(grad="dense", optimizer="adagrad")).emit(batch, "train")
    assert got.tolist() == expected


@pytest.mark.parametrize("kwargs,word", [({"grad": "half"}, "gradient mode"), ({"optimizer": "adam"}, "optimizer")])
def test_unknown_grad_or_optimizer_lists_the_known_ones(kwargs, word):
    with pytest.raises(ValueError, match=f"unknown {word}.*known: "):
        TrainConfig(**kwargs)


def test_unknown_phase_lists_the_known_ones():
    rep = build("dlrm", SMALL)
    with pytest.raises(ValueError, match="unknown phase 'infer'; known: forward, backward, train"):
        Trainer(rep).emit(_batch(), "infer")


def test_bad_grad_out_shape_and_missing_allocation():
    rep = build("dlrm", SMALL)
    tr = Trainer(rep)
    with pytest.raises(ValueError, match="allocate"):
        tr.backward(_batch(), np.zeros(1))
    rep.allocate()
    tr.allocate()
    with pytest.raises(ValueError, match="shape"):
        tr.backward(_batch(), np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="backward"):
        tr.step()
