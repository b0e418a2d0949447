"""Operation counts of the training passes, per lookup (and per batch for dense updates).

Same kinds and conventions as the forward's ``OpCounts`` (lookups, hashes, divmods, rows,
adds, muls, fmas; combining l elements costs l operations). Backward, per lookup: the index
recomputation of the forward (its hashes and divmods), ``rows`` = the rows it re-reads to
recompute factors plus the rows it scatters into, ``adds`` = the floats it scatter-adds, and
the products of the factor gradients (qr mult: 2 l muls; ttrec: q1 q2 r (2 q3 + 3 r) fmas;
Mem-Rec: the recomputed sums and the alpha / token-sum products). Sparse gradients add one
loop step per lookup for finding the unique rows (the sort itself is not counted). The
optimizer step: sparse, per lookup (an upper bound: a row a batch touches twice is updated
once): per scattered float 1 fma (SGD) or 2 (Adagrad: the square sum and the update) and per
row 1 divmod for Adagrad's square root and division; dense, per batch (``OpCounts.per_batch``):
the same over every parameter, plus 1 add per parameter for zeroing the gradient buffer.
Writes are not a kind of their own: their cost is memory traffic, which the trace carries.
"""

from __future__ import annotations

from traces.representations.base import plain_row_ops
from traces.training.names import check_grad, check_optimizer, check_phase


def _add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in {*a, *b}}


def _plain_backward(dim: int) -> dict[str, float]:
    return {**plain_row_ops(dim)}  # the index recomputed, one row scattered, dim adds


def backward_ops(rep) -> tuple[dict[str, float], float, float]:
    """(backward operations of one lookup on rep's own path, floats scattered, rows scattered)."""
    name, dim = rep.name, rep.dim
    fwd = rep._ops_per_lookup()
    if name in ("dlrm", "hashing"):
        return {**fwd}, float(dim), 1.0
    if name == "robe":
        return {**fwd}, float(dim), float(fwd["rows"])
    if name == "qr":
        combine = rep.config.combine
        if combine == "mult":
            return {**plain_row_ops(dim), "divmods": 2.0, "rows": 4.0, "adds": 2.0 * dim, "muls": 2.0 * dim}, \
                2.0 * dim, 2.0
        floats = 2.0 * dim if combine == "add" else float(dim)
        return {**plain_row_ops(dim), "divmods": 2.0, "rows": 2.0, "adds": floats}, floats, 2.0
    if name == "ttrec":
        q1, q2, q3 = (int(v) for v in rep.q_factors)
        r = rep.config.rank
        floats = float(sum(rep._slice_floats()))
        return {**plain_row_ops(dim), "divmods": 4.0, "rows": 6.0, "adds": floats,
                "fmas": float(q1 * q2 * r * (2 * q3 + 3 * r))}, floats, 3.0
    if name == "memrec":
        c = rep.config
        per = c.k + c.k_weight
        floats = float(c.k * dim + c.k_weight * c.weight_width)
        hashes = fwd.get("hashes", 0.0)
        if c.pooling == "feature":  # alpha and the token sum recomputed, dT = alpha g, dW = sum g * tokens
            extra = {"fmas": float(c.k * dim + dim), "muls": float(dim)}
        else:  # per sample: V and alpha recomputed (adds), dV = alpha g and dalpha (l products) per sample
            extra = {"muls": 2.0 * dim / len(rep.rows)}
        return {**plain_row_ops(dim), "hashes": hashes, "rows": 2.0 * per, "adds": 2.0 * floats, **extra}, \
            floats, float(per)
    raise ValueError(f"no backward operation counts for representation {rep.name!r}")


def _update(floats: float, rows: float, optimizer: str) -> dict[str, float]:
    if optimizer == "sgd":
        return {"fmas": floats}
    return {"fmas": 2.0 * floats, "divmods": rows}


def training_ops(rep, phase: str, grad: str, optimizer: str):
    """(own-path ops per lookup, plain-table ops per lookup, ops per batch) of ``phase``."""
    check_phase(phase), check_grad(grad), check_optimizer(optimizer)
    dim = rep.dim
    own_fwd, plain_fwd = rep._ops_per_lookup(), plain_row_ops(dim)
    if phase == "forward":
        return own_fwd, plain_fwd, {}
    own, own_floats, own_rows = backward_ops(rep)
    plain = _plain_backward(dim)
    if grad == "sparse":
        own, plain = _add(own, {"lookups": 1.0}), _add(plain, {"lookups": 1.0})
    per_batch: dict[str, float] = {}
    if phase == "train":
        if grad == "sparse":
            own = _add(own, _update(own_floats, own_rows, optimizer))
            plain = _add(plain, _update(float(dim), 1.0, optimizer))
        else:
            from traces.training.layout import train_layout
            from traces.training.names import TrainConfig

            tl = train_layout(rep, TrainConfig(grad=grad, optimizer=optimizer))
            params = float(tl.elems.sum())
            per_batch = _add({"adds": params}, _update(params, float(tl.total_rows), optimizer))
        own, plain = _add(own_fwd, own), _add(plain_fwd, plain)
    elif grad == "dense":
        per_batch = {"adds": float(rep.layout.total_elems)}  # zeroing the gradient buffer
    return own, plain, per_batch
