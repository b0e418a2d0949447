"""What every embedding representation provides, and the pieces they share.

A representation is built from a ``Workload`` and a frozen config. It knows its
arrays (and so its virtual ``layout`` and ``memory_bytes``), can allocate real
float32 storage (seeded) when that fits a memory budget, computes pooled (sum)
embeddings with a Numba kernel (``pooled``), and emits the byte addresses of the
cache lines that kernel reads, in the kernel's order (``emit``). Kernel and
emitter call the same njit index functions, so the trace is what the kernel touches.

Each also states what one token lookup costs in operations (``op_counts``: hashes,
divisions, row gathers, element adds/multiplies/FMAs), which the timing model prices.

Trace granularity: a contiguous read of R bytes at byte address A touches lines
A // L .. (A + R - 1) // L; each is emitted once as its line-aligned byte address.
Only table reads are traced (the index/offset arrays and the output buffer are not).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
from numba import njit

from traces.batch import Batch
from traces.layout import Layout, make_layout
from traces.workloads import Workload

DEFAULT_BUDGET_BYTES = 4 << 30
PLAIN_TABLE = "dlrm"  # the name of the full-table representation, and the label of a plain-table lookup


@njit(cache=True, inline="always")
def emit_range(out, pos, addr, nbytes, line_bytes):
    """Append the line-aligned addresses of lines covering [addr, addr + nbytes); return new pos."""
    first = addr // line_bytes
    last = (addr + nbytes - 1) // line_bytes
    for line in range(first, last + 1):
        out[pos] = np.uint64(line * line_bytes)
        pos += 1
    return pos


@njit(cache=True, inline="always")
def pool_plain_row(out, t, b, weights, table_elem, token, rows, dim):
    """Add row ``token mod rows`` of the plain table at element ``table_elem`` into ``out[t, b]``."""
    start = table_elem + (token % rows) * dim
    for j in range(dim):
        out[t, b, j] += weights[start + j]


@njit(cache=True, inline="always")
def emit_plain_row(out, pos, table_addr, token, rows, dim, line_bytes):
    """Emit the lines of row ``token mod rows`` of the plain table at ``table_addr``; return new pos."""
    return emit_range(out, pos, table_addr + (token % rows) * dim * 4, dim * 4, line_bytes)


def plain_row_ops(dim: int) -> dict[str, float]:
    """Operations of one plain-table lookup: the loop overhead, token mod rows, one row gather
    and ``dim`` element adds into the bag."""
    return {"lookups": 1.0, "divmods": 1.0, "rows": 1.0, "adds": float(dim)}


@dataclass(frozen=True)
class OpCounts:
    """What one token lookup of a representation does, by operation kind, per feature.

    Kinds: lookups (loop overhead), hashes, divmods, rows (gathers), adds, muls, fmas
    (float32 element operations); the keys ``sim.timing.model.OP_KINDS`` prices. Features
    marked ``plain`` are served by a plain full table (qr and ttrec keep small tables
    whole; hashing needs no hash when the table fits) and cost ``plain_ops``, labelled
    ``PLAIN_TABLE``; the others cost ``ops``, labelled ``label``. Conventions: combining
    a row of l elements into a result costs l element operations; every kernel first
    reduces the token modulo the feature's rows (1 divmod).
    """

    label: str
    ops: Mapping[str, float]
    plain: tuple[bool, ...]
    plain_ops: Mapping[str, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", dict(self.ops))
        object.__setattr__(self, "plain_ops", dict(self.plain_ops))
        object.__setattr__(self, "plain", tuple(bool(p) for p in self.plain))

    def feature(self, t: int) -> tuple[str, Mapping[str, float]]:
        """(label, operations per lookup) of feature ``t``."""
        return (PLAIN_TABLE, self.plain_ops) if self.plain[t] else (self.label, self.ops)

    def work(self, lookups_per_feature: Sequence[int]) -> list[tuple[str, Mapping[str, float], int]]:
        """(label, operations per lookup, lookups) per feature: what ``TimingModel.compute_cycles`` takes."""
        if len(lookups_per_feature) != len(self.plain):
            raise ValueError(f"{len(lookups_per_feature)} lookup counts for {len(self.plain)} features")
        return [(*self.feature(t), n) for t, n in enumerate(lookups_per_feature)]


def max_lines(nbytes: int, line_bytes: int) -> int:
    """Most lines a contiguous read of ``nbytes`` can touch (unaligned start)."""
    return -(-nbytes // line_bytes) + 1


def check_line_bytes(line_bytes: int) -> int:
    if line_bytes < 4 or line_bytes & (line_bytes - 1):
        raise ValueError(f"line_bytes must be a power of two >= 4, got {line_bytes}")
    return int(line_bytes)


def reduce_tokens(batch: Batch, cardinalities: np.ndarray) -> None:
    """Check the batch matches the workload (token ids are reduced modulo each table's rows)."""
    if batch.num_features != cardinalities.shape[0]:
        raise ValueError(
            f"batch has {batch.num_features} features but the workload has {cardinalities.shape[0]} tables"
        )


class Representation:
    """Base class: subclasses set ``name``, ``config``, define ``_arrays`` and the two kernels."""

    name = "base"

    def __init__(self, workload: Workload, config):
        self.workload = workload
        self.config = config
        self.rows = np.array(workload.cardinalities, dtype=np.int64)
        # val_offset_t: global id of token 0 of feature t (ROBE's salting, reused for hashing).
        self.val_offsets = np.concatenate([[0], np.cumsum(self.rows)[:-1]]).astype(np.int64)
        self.layout: Layout = make_layout(self._arrays())
        self.weights: np.ndarray | None = None

    # --- to override ---------------------------------------------------------------------
    def _arrays(self) -> list[tuple[str, int]]:
        raise NotImplementedError

    def _pooled(self, batch: Batch, out: np.ndarray) -> None:
        raise NotImplementedError

    def _emit(self, batch: Batch, line_bytes: int, out: np.ndarray) -> int:
        raise NotImplementedError

    def max_lines_per_lookup(self, line_bytes: int) -> int:
        raise NotImplementedError

    def _ops_per_lookup(self) -> dict[str, float]:
        """Operations of one lookup on this representation's own (compressed) path."""
        raise NotImplementedError

    def _plain_features(self) -> Sequence[bool]:
        """Per feature: True where a plain full table serves it (default: none)."""
        return [False] * len(self.rows)

    # --- shared --------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.workload.dim

    @property
    def memory_bytes(self) -> int:
        """Bytes of all arrays of this representation (float32)."""
        return sum(r.nbytes for r in self.layout.regions)

    @property
    def parameters(self) -> int:
        return self.memory_bytes // 4

    @property
    def compression(self) -> float:
        """Full-table bytes / this representation's bytes."""
        return self.workload.full_bytes / self.memory_bytes

    def op_counts(self) -> OpCounts:
        """Operations per lookup, by kind, and which features a plain table serves."""
        return OpCounts(self.name, self._ops_per_lookup(), tuple(self._plain_features()), plain_row_ops(self.dim))

    def describe(self) -> dict:
        return {"model": self.name, **{k: v for k, v in asdict(self.config).items()}}

    def allocate(self, seed: int = 0, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        """Allocate and initialise real float32 arrays (uniform in [-1/sqrt(dim), 1/sqrt(dim)))."""
        if self.memory_bytes > budget_bytes:
            raise ValueError(
                f"{self.name}: its arrays need {self.memory_bytes:,} bytes, over the memory budget of "
                f"{budget_bytes:,} bytes; cap the workload's tables or raise the budget"
            )
        rng = np.random.default_rng(seed)
        scale = np.float32(1.0 / np.sqrt(self.dim))
        weights = rng.random(self.layout.total_elems, dtype=np.float32)
        weights *= 2 * scale
        weights -= scale
        self.weights = weights

    def array(self, name: str) -> np.ndarray:
        """The real storage of one array (a view into the flat buffer)."""
        if self.weights is None:
            raise ValueError(f"{self.name}: call allocate() before reading arrays")
        for region, offset in zip(self.layout.regions, self.layout.elem_offsets):
            if region.name == name:
                return self.weights[offset : offset + region.nbytes // 4]
        raise KeyError(f"{self.name}: no array named {name!r}")

    def pooled(self, batch: Batch) -> np.ndarray:
        """Sum-pooled embeddings, shape (num_features, batch_size, dim), float32."""
        if self.weights is None:
            raise ValueError(f"{self.name}: call allocate() before computing embeddings")
        reduce_tokens(batch, self.rows)
        out = np.zeros((batch.num_features, batch.batch_size, self.dim), dtype=np.float32)
        self._pooled(batch, out)
        return out

    def emit(self, batch: Batch, line_bytes: int = 64) -> np.ndarray:
        """Line-aligned byte addresses (uint64) of every line the kernel reads, in kernel order."""
        line_bytes = check_line_bytes(line_bytes)
        reduce_tokens(batch, self.rows)
        out = np.empty(batch.num_lookups * self.max_lines_per_lookup(line_bytes), dtype=np.uint64)
        count = self._emit(batch, line_bytes, out)
        return out[:count]


@dataclass(frozen=True)
class NoConfig:
    """Config of a representation without parameters (full DLRM tables)."""
