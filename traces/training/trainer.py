"""``Trainer``: a representation's backward pass and optimizer step, run and traced.

    tr = Trainer(rep, TrainConfig(grad="dense", optimizer="adagrad"))
    rep.allocate(seed); tr.allocate()
    out = rep.pooled(batch); tr.backward(batch, grad_out); tr.step()   # or tr.train_step(batch, grad_out)
    trace = tr.emit(batch, phase="train")                              # uint64 lines, writes flagged

``backward`` leaves the gradient in the trainer (dense: ``grad``, the parameters' shape;
sparse: ``unique_rows`` (global row ids, sorted), ``compact`` (their gradient rows, packed) and
``compact_offsets``) for ``step`` to apply. ``emit`` needs no allocated arrays.
"""

from __future__ import annotations

import numpy as np

from traces.batch import Batch
from traces.representations.base import Representation, check_line_bytes, reduce_tokens
from traces.training import kernels as K
from traces.training.grads import GradSegments, gradient_segments
from traces.training.layout import TrainLayout, train_layout
from traces.training.names import TrainConfig, check_phase

_NONE_F = np.zeros(0, dtype=np.float32)
_NONE_I = np.zeros(0, dtype=np.int64)
_NONE_U = np.zeros(0, dtype=np.uint64)


def _lines(nbytes: np.ndarray | int, line_bytes: int):
    """Most lines an access of ``nbytes`` can touch (any alignment), elementwise."""
    return -(-np.asarray(nbytes, dtype=np.int64) // line_bytes) + 1


class Trainer:
    """Backward + optimizer of one representation under one ``TrainConfig``."""

    def __init__(self, rep: Representation, config: TrainConfig | None = None):
        self.rep = rep
        self.config = config or TrainConfig()
        self.tl: TrainLayout = train_layout(rep, self.config)
        self.grad = self.state = None
        self.unique_rows = self.compact = self.compact_offsets = None
        self._pending = None

    @property
    def adagrad(self) -> bool:
        return self.config.optimizer == "adagrad"

    @property
    def dense(self) -> bool:
        return self.config.grad == "dense"

    def describe(self) -> dict:
        return {"grad": self.config.grad, "optimizer": self.config.optimizer, "lr": self.config.lr,
                "eps": self.config.eps}

    def state_bytes(self) -> int:
        """Bytes a training step adds to the parameters: gradient buffer (dense; sparse: at most
        the parameters' size when every row is touched) and Adagrad state."""
        rows = self.tl.total_rows
        grad = self.rep.memory_bytes if self.dense else self.rep.memory_bytes + 8 * rows
        return grad + (4 * rows if self.adagrad else 0)

    def allocate(self) -> None:
        """The gradient buffer (dense) and the Adagrad state (zeros), float32."""
        total = self.rep.layout.total_elems
        self.grad = np.zeros(total, dtype=np.float32) if self.dense else None
        self.compact = np.empty(total, dtype=np.float32) if not self.dense else None
        self.state = np.zeros(self.tl.total_rows, dtype=np.float32) if self.adagrad else _NONE_F

    def _check(self, batch):
        if self.rep.weights is None or self.state is None:
            raise ValueError(f"{self.rep.name}: call rep.allocate() and Trainer.allocate() before training")
        reduce_tokens(batch, self.rep.rows)

    def _grad_out(self, batch, grad_out):
        shape = (self.rep.output_features(batch.num_features), batch.batch_size, self.rep.dim)
        g = np.asarray(grad_out)
        if g.shape != shape:
            raise ValueError(f"{self.rep.name}: grad_out must have the pooled output's shape {shape}, got {g.shape}")
        return np.ascontiguousarray(g, dtype=np.float32)

    # --- compute ---------------------------------------------------------------------------
    def backward(self, batch: Batch, grad_out: np.ndarray) -> None:
        """dL/d(parameters) of L = sum(pooled * grad_out), kept for ``step``."""
        self._check(batch)
        seg = gradient_segments(self.rep, batch, self._grad_out(batch, grad_out), compute=True)
        self._scatter(seg, compute=True, out=_NONE_U)

    def step(self) -> None:
        """Apply the optimizer to the gradient of the last ``backward``."""
        if self._pending is None:
            raise ValueError(f"{self.rep.name}: step() needs a backward() first")
        self._update(compute=True, out=_NONE_U)
        self._pending = None

    def train_step(self, batch: Batch, grad_out: np.ndarray | None = None, **pooled_kw) -> np.ndarray:
        """Forward (``rep.pooled``), backward and step; grad_out None = ones (L = sum of the outputs,
        the PSS paper's Table 2 loss). Returns the forward output."""
        out = self.rep.pooled(batch, **pooled_kw)
        self.backward(batch, np.ones_like(out) if grad_out is None else grad_out)
        self.step()
        return out

    def _scatter(self, seg: GradSegments, compute: bool, out: np.ndarray, pos: int = 0) -> int:
        tl, lb = self.tl, self.line_bytes
        record = out.shape[0] > 0
        if record:
            pos = K.emit_reads(seg.rd_elem, seg.rd_len, seg.rd_reg, tl.elem_offset, tl.param_addr, lb, out, pos)
        if self.dense:
            pos = K.dense_backward(seg.seg_elem, seg.seg_len, seg.seg_reg, seg.seg_src, seg.src,
                                   self.grad if compute else _NONE_F, tl.elem_offset, tl.elems, tl.grad_addr,
                                   compute, record, lb, out, pos)
            self._pending = ()
            return pos
        ids, slot, uniq, ureg, coff = K.sparse_rows(seg.seg_elem, seg.seg_len, seg.seg_reg, tl.elem_offset, tl.elems,
                                                  tl.width, tl.row_base)
        pos = K.sparse_backward(seg.seg_elem, seg.seg_len, seg.seg_reg, seg.seg_src, seg.src, ids, slot, uniq, coff,
                                self.compact if compute else _NONE_F, tl.elem_offset, tl.width, tl.row_base,
                                tl.unique_addr, tl.compact_addr, compute, record, lb, out, pos)
        self._pending = (uniq, ureg, coff)
        if compute:
            self.unique_rows, self.compact_offsets = uniq, coff
        return pos

    def _update(self, compute: bool, out: np.ndarray, pos: int = 0) -> int:
        tl, c, lb = self.tl, self.config, self.line_bytes
        record = out.shape[0] > 0
        weights = self.rep.weights if compute else _NONE_F
        state = self.state if compute else _NONE_F
        if self.dense:
            return K.dense_update(weights, self.grad if compute else _NONE_F, state, tl.elem_offset, tl.elems,
                                  tl.width, tl.row_base, tl.param_addr, tl.grad_addr, tl.state_addr, self.adagrad,
                                  c.lr, c.eps, compute, record, lb, out, pos)
        uniq, ureg, coff = self._pending
        return K.sparse_update(weights, self.compact if compute else _NONE_F, state, uniq, ureg, coff,
                               tl.elem_offset, tl.width, tl.row_base, tl.param_addr, tl.state_addr, tl.unique_addr,
                               tl.compact_addr, self.adagrad, c.lr, c.eps, compute, record, lb, out, pos)

    line_bytes = 64  # set by emit; the compute paths ignore it

    # --- trace -----------------------------------------------------------------------------
    def emit(self, batch: Batch, phase: str = "train", line_bytes: int = 64) -> np.ndarray:
        """Line addresses (uint64, bit 63 = store) of ``phase`` on ``batch``, kernel order:
        forward = the representation's reads; backward = its own parameter reads, then the
        gradient scatter; train = forward, backward, then the optimizer step."""
        phase = check_phase(phase)
        self.line_bytes = check_line_bytes(line_bytes)
        reduce_tokens(batch, self.rep.rows)
        forward = self.rep.emit(batch, line_bytes) if phase in ("forward", "train") else _NONE_U
        if phase == "forward":
            return forward
        seg = gradient_segments(self.rep, batch, None, compute=False)
        out = np.empty(self._bound(seg, phase == "train"), dtype=np.uint64)
        out[:1] = 0
        pos = self._scatter(seg, compute=False, out=out) if out.shape[0] else 0
        if phase == "train":
            pos = self._update(compute=False, out=out, pos=pos)
        self._pending = None
        return np.concatenate([forward, out[:pos]])

    def _bound(self, seg: GradSegments, with_update: bool) -> int:
        """An upper bound on the backward (+ update) trace length."""
        tl, lb = self.tl, self.line_bytes
        total = int(_lines(seg.rd_len * 4, lb).sum())
        pieces = 2 * seg.seg_len.shape[0]  # a segment spans at most two rows (ROBE), one elsewhere
        total += 2 * 2 * int(_lines(seg.seg_len * 4, lb).sum())
        per_row = 3 * _lines(tl.width * 4, lb) + (2 + _lines(tl.width * 4, lb) if self.adagrad else 0)
        if self.dense:
            total += int(_lines(tl.elems * 4, lb).sum())
            if with_update:
                total += int(((tl.elems + tl.width - 1) // tl.width * per_row).sum())
        else:
            total += int(_lines(8 * pieces, lb)) + int(_lines(4 * pieces * int(tl.width.max()), lb))
            if with_update:
                total += pieces * (1 + int(per_row.max()))
        return max(total, 1)
