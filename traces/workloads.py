"""Embedding-table workloads: table cardinalities and dimension (public presets, SPEC section 3).

A ``Workload`` is what a representation compresses and what a generator draws token
ids for: one ``TableSpec`` per categorical feature, plus optional per-feature pooling
factors (multi-hot bag sizes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

CRITEO_TB_V1 = (
    39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10,
    2208, 11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935, 12972, 108, 36,
)
CRITEO_TB_V2 = (
    40000000, 39060, 17295, 7424, 20265, 3, 7122, 1543, 63, 40000000, 3067956, 405282, 10,
    2209, 11938, 155, 4, 976, 14, 40000000, 40000000, 40000000, 590152, 12973, 108, 36,
)
CRITEO_TB_V2_MULTIHOT = (3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1)
CRITEO_KAGGLE = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
    5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
)
AVAZU = (7, 7, 4737, 7745, 26, 8552, 559, 36, 2686408, 6729486, 8251, 5, 4, 2626, 8, 9, 435, 4, 68, 172, 60)


@dataclass(frozen=True)
class TableSpec:
    """One embedding table: ``rows`` categories of ``dim`` float32 values each."""

    rows: int
    dim: int

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError(f"table rows must be >= 1, got {self.rows}")
        if self.dim < 1:
            raise ValueError(f"table dim must be >= 1, got {self.dim}")

    @property
    def nbytes(self) -> int:
        return self.rows * self.dim * 4


@dataclass(frozen=True)
class Workload:
    """A set of embedding tables (one per feature) and their pooling factors (None = one-hot)."""

    name: str
    tables: tuple[TableSpec, ...]
    pooling: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not self.tables:
            raise ValueError(f"workload {self.name!r}: needs at least one table")
        dims = {t.dim for t in self.tables}
        if len(dims) != 1:
            raise ValueError(f"workload {self.name!r}: all tables must share one dim, got {sorted(dims)}")
        if self.pooling is not None:
            if len(self.pooling) != len(self.tables):
                raise ValueError(
                    f"workload {self.name!r}: pooling has {len(self.pooling)} entries, expected one per table "
                    f"({len(self.tables)})"
                )
            if any(p < 0 for p in self.pooling):
                raise ValueError(f"workload {self.name!r}: pooling factors must be >= 0")

    @property
    def num_features(self) -> int:
        return len(self.tables)

    @property
    def dim(self) -> int:
        return self.tables[0].dim

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return tuple(t.rows for t in self.tables)

    @property
    def total_rows(self) -> int:
        return sum(self.cardinalities)

    @property
    def full_bytes(self) -> int:
        """Bytes of the uncompressed float32 tables (the full-DLRM baseline)."""
        return sum(t.nbytes for t in self.tables)

    def capped(self, max_rows: int) -> "Workload":
        """The same workload with every table capped at ``max_rows`` rows (to fit a machine)."""
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        tables = tuple(TableSpec(min(t.rows, max_rows), t.dim) for t in self.tables)
        return replace(self, name=f"{self.name}[cap={max_rows}]", tables=tables)

    def with_dim(self, dim: int) -> "Workload":
        return replace(self, tables=tuple(TableSpec(t.rows, dim) for t in self.tables))

    def describe(self) -> dict:
        """JSON-ready description (goes into trace headers and result metadata)."""
        return {
            "name": self.name,
            "cardinalities": list(self.cardinalities),
            "dim": self.dim,
            "pooling": None if self.pooling is None else list(self.pooling),
        }


def _preset(name: str, rows: tuple[int, ...], dim: int, pooling=None) -> Workload:
    return Workload(name, tuple(TableSpec(r, dim) for r in rows), pooling)


PRESETS = {
    "criteo-tb": lambda: _preset("criteo-tb", CRITEO_TB_V1, 128),
    "criteo-tb-v2": lambda: _preset("criteo-tb-v2", CRITEO_TB_V2, 128),
    "criteo-tb-v2-multihot": lambda: _preset("criteo-tb-v2-multihot", CRITEO_TB_V2, 128, CRITEO_TB_V2_MULTIHOT),
    "criteo-kaggle": lambda: _preset("criteo-kaggle", CRITEO_KAGGLE, 16),
    "avazu": lambda: _preset("avazu", AVAZU, 16),
}
PRESET_DIMS = {"criteo-tb": 128, "criteo-tb-v2": 128, "criteo-tb-v2-multihot": 128, "criteo-kaggle": 16, "avazu": 16}


def get_workload(spec: str, dim: int | None = None) -> Workload:
    """A preset by name, or a comma list of cardinalities ("1000,20,5"; dim defaults to 128).

    ``dim`` overrides the preset's dimension.
    """
    key = spec.strip().lower()
    if key in PRESETS:
        workload = PRESETS[key]()
        return workload if dim is None or dim == workload.dim else workload.with_dim(dim)
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    try:
        rows = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"workload {spec!r}: not a preset ({', '.join(PRESETS)}) nor a comma list of table cardinalities"
        ) from None
    if not rows:
        raise ValueError(f"workload {spec!r}: empty")
    return _preset(f"custom{len(rows)}", rows, 128 if dim is None else dim)
