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
Only table reads are traced (the index/offset arrays and the output buffer are not),
and only demand reads: the kernels' software prefetches (``prefetch_distance``) are
hints that bring lines the kernel reads a few lookups later, so the trace, which
lists those demand reads in order, is the same whatever the prefetch distance.

Kernel conventions (every representation follows them; see ``pooled``):
- one inline njit ``_block(t, b0, b1, ...)`` pools bags b0..b1-1 of feature t and writes
  each output row once per bag: the first row read is stored (``set_row``), later rows
  are added in lookup order (``add_row``), an empty bag stores zeros (``zero_row``); the
  sum per element is 0 + r1 + r2 + ... in float32, the order of ``traces.reference``.
- a serial kernel runs ``_block(t, 0, B)`` per feature; a parallel one (prange) runs
  blocks of ``SAMPLE_BLOCK`` samples over features x blocks: disjoint output rows, no
  atomics, bit-identical to the serial result.
- ``prefetch_distance`` d > 0: before lookup i the block prefetches every line of the
  rows lookup i + d will read (within the block; dlrm's serial kernel across features,
  which helps small batches); 0 turns it off.
- indices as ``sim.intrinsics.ix`` (unsigned), arrays ``borrowed`` at the kernel top,
  ``local_row`` (no division when the token is already < rows), no per-bag views.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np
from numba import njit

from sim.intrinsics import ix, prefetch
from sim.jit import check_threads, numba_threads
from traces.batch import Batch
from traces.layout import Layout, make_layout
from traces.workloads import Workload

DEFAULT_BUDGET_BYTES = 4 << 30
PLAIN_TABLE = "dlrm"  # the name of the full-table representation, and the label of a plain-table lookup
DEFAULT_PREFETCH_DISTANCE = 4  # lookups ahead; tuned with scripts/bench_kernels.py on the development machine
SAMPLE_BLOCK = 64  # samples per work item of the parallel kernels
PARALLEL_MIN_LOOKUPS = 1 << 12  # smaller batches run the serial kernel: waking threads costs more than it saves
PREFETCH_STRIDE = 16  # floats per 64-byte line: one prefetch per line of a row


def check_prefetch_distance(prefetch_distance) -> int:
    """The prefetch distance as an int >= 0 (ValueError otherwise)."""
    if not _is_integer(prefetch_distance) or prefetch_distance < 0:
        raise ValueError(f"prefetch_distance must be an integer >= 0 (0 = off), got {prefetch_distance!r}")
    return int(prefetch_distance)


def _is_integer(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@njit(cache=True, inline="always")
def local_row(token, rows):
    """``token mod rows`` for a token >= 0, without the division when it is already < rows."""
    return token if token < rows else token % rows


@njit(cache=True, inline="always")
def set_row(out, o, src, s, n):
    """out[o:o+n] = 0 + src[s:s+n] (the first row of a bag: the float32 sum starts at +0)."""
    for j in range(n):
        out[ix(o + j)] = np.float32(0.0) + src[ix(s + j)]


@njit(cache=True, inline="always")
def add_row(out, o, src, s, n):
    """out[o:o+n] += src[s:s+n] (a later row of a bag, in lookup order)."""
    for j in range(n):
        out[ix(o + j)] += src[ix(s + j)]


@njit(cache=True, inline="always")
def zero_row(out, o, n):
    for j in range(n):
        out[ix(o + j)] = np.float32(0.0)


@njit(cache=True, inline="always")
def prefetch_row(weights, s, n):
    """Prefetch every line of weights[s:s+n] (a hint: never faults, not a demand read)."""
    for k in range(0, n, PREFETCH_STRIDE):
        prefetch(weights, ix(s + k))
    prefetch(weights, ix(s + n - 1))


@njit(cache=True, inline="always")
def block_count(batch_size):
    return (batch_size + SAMPLE_BLOCK - 1) // SAMPLE_BLOCK


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
def plain_bag(indices, lo, hi, prefetch_end, table_elem, rows, dim, weights, out, o, distance):
    """Pool the bag indices[lo:hi] of a plain table at element ``table_elem`` into out[o:o+dim]
    (rows ``token mod rows``), prefetching the row ``distance`` lookups ahead below ``prefetch_end``."""
    if lo == hi:
        zero_row(out, o, dim)
        return
    for i in range(lo, hi):
        if distance > 0 and i + distance < prefetch_end:
            prefetch_row(weights, table_elem + local_row(indices[ix(i + distance)], rows) * dim, dim)
        s = table_elem + local_row(indices[ix(i)], rows) * dim
        if i == lo:
            set_row(out, o, weights, s, dim)
        else:
            add_row(out, o, weights, s, dim)


@njit(cache=True, inline="always")
def plain_bags(indices, offsets, batch_size, t, b0, b1, table_elem, rows, dim, weights, out, distance):
    """Pool bags b0..b1-1 of feature t from the plain table at element ``table_elem`` into the
    flat output (row k = t * batch_size + b at out[k * dim:]): dlrm's tables, qr's and ttrec's
    small ones."""
    k0 = t * batch_size
    end = offsets[ix(k0 + b1)]
    for b in range(b0, b1):
        k = k0 + b
        plain_bag(indices, offsets[ix(k)], offsets[ix(k + 1)], end, table_elem, rows, dim, weights, out, k * dim,
                  distance)


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
    per_batch: Mapping[str, float] = field(default_factory=dict)  # once per batch (a dense training update)
    phase: str = "forward"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", dict(self.ops))
        object.__setattr__(self, "plain_ops", dict(self.plain_ops))
        object.__setattr__(self, "per_batch", dict(self.per_batch))
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

    def _pooled(self, batch: Batch, out: np.ndarray, prefetch_distance: int, parallel: bool) -> None:
        """Fill every row of ``out`` (the serial kernel, or the prange one when ``parallel``)."""
        raise NotImplementedError

    def _emit(self, batch: Batch, line_bytes: int, out: np.ndarray) -> int:
        raise NotImplementedError

    def max_lines_per_lookup(self, line_bytes: int) -> int:
        raise NotImplementedError

    def _ops_per_lookup(self) -> dict[str, float]:
        """Operations of one lookup on this representation's own (compressed) path."""
        raise NotImplementedError

    def output_features(self, num_features: int) -> int:
        """Pooled output rows per sample (one per feature; Mem-Rec's sample pooling gives 1)."""
        return num_features

    def prepare(self, batch):
        """What the data loader does before the kernel (Mem-Rec: hash the ids); ``pooled`` and
        ``emit`` take its result, and a benchmark times the kernel on it. Default: the batch."""
        return batch

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

    def op_counts(self, phase: str = "forward", grad: str = "sparse", optimizer: str = "sgd") -> OpCounts:
        """Operations per lookup, by kind, and which features a plain table serves; off the
        forward phase (backward, train) those of the training passes (traces.training.ops),
        with a dense update's per-batch operations in ``per_batch``."""
        if phase == "forward":
            return OpCounts(self.name, self._ops_per_lookup(), tuple(self._plain_features()), plain_row_ops(self.dim))
        from traces.training.ops import training_ops  # training builds on the representations

        own, plain, per_batch = training_ops(self, phase, grad, optimizer)
        return OpCounts(self.name, own, tuple(self._plain_features()), plain, per_batch, phase)

    @property
    def framework_calls_per_batch(self) -> int:
        """Embedding-operator calls a framework makes per batch for this representation: one per
        table (DLRM's reference code keeps one EmbeddingBag per feature); memprof's own kernels
        make one call per batch whatever this says (the timing model prices both)."""
        return self.workload.num_features

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

    def pooled(self, batch: Batch, out: np.ndarray | None = None, *,
               prefetch_distance: int = DEFAULT_PREFETCH_DISTANCE, threads: int = 1) -> np.ndarray:
        """Sum-pooled embeddings, shape (output_features, batch_size, dim), float32.

        ``out``: a C-contiguous float32 array of that shape to write into (reused across
        calls: every row is overwritten, no zeroing needed); a new one when None.
        ``prefetch_distance``: software-prefetch the rows this many lookups ahead (0 = off).
        ``threads``: 1 runs the serial kernel; more runs the parallel one with numba's
        thread count set to this for the call, for batches of at least
        ``PARALLEL_MIN_LOOKUPS`` lookups (smaller ones run serially). Outputs are
        bit-identical whatever the prefetch distance and thread count.
        """
        if self.weights is None:
            raise ValueError(f"{self.name}: call allocate() before computing embeddings")
        if type(prefetch_distance) is not int or prefetch_distance < 0:  # the checks cost ~1 us: only when needed
            prefetch_distance = check_prefetch_distance(prefetch_distance)
        if type(threads) is not int or threads != 1:
            threads = check_threads(threads)
        if batch.num_features != self.rows.shape[0]:
            reduce_tokens(batch, self.rows)
        shape = (self.output_features(batch.num_features), batch.batch_size, self.workload.dim)
        if out is None:
            out = np.empty(shape, dtype=np.float32)
        else:
            checked = self.__dict__.get("_checked_out")  # a weak reference to the buffer last checked
            if checked is None or checked() is not out or out.shape != shape:  # a reused buffer is checked once
                if not (isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float32
                        and out.flags.c_contiguous and out.flags.writeable):
                    raise ValueError(
                        f"{self.name}: out must be a writeable C-contiguous float32 array of shape {shape}")
                self._checked_out = weakref.ref(out)
        if threads == 1 or batch.num_lookups < PARALLEL_MIN_LOOKUPS:
            self._pooled(batch, out, prefetch_distance, False)
        else:
            with numba_threads(threads):
                self._pooled(batch, out, prefetch_distance, True)
        return out

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_checked_out"}  # a weak reference: not picklable

    def _elem_offsets(self) -> np.ndarray:
        """``layout.elem_offset_array()``, kept while the layout object stays the same."""
        cached = self.__dict__.get("_elem_offsets_cache")
        if cached is None or cached[0] is not self.layout:
            cached = (self.layout, self.layout.elem_offset_array())
            self._elem_offsets_cache = cached
        return cached[1]

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
