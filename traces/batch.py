"""A lookup batch in the DLRM/TorchRec (keyed jagged) layout.

``indices`` holds the token ids of every feature, table-major and concatenated;
``offsets`` has ``num_features * batch_size + 1`` entries and bag (feature t,
sample b) is ``indices[offsets[t * B + b] : offsets[t * B + b + 1]]``. Empty bags
(equal consecutive offsets) are allowed. Pooling is sum. This is also the layout
of Meta's dlrm_datasets (table-major offsets, T*B+1 entries).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    indices: np.ndarray  # int64 token ids, all features concatenated table-major
    offsets: np.ndarray  # int64, num_features * batch_size + 1 entries, starts at 0
    num_features: int
    batch_size: int

    def __post_init__(self) -> None:
        indices = np.ascontiguousarray(self.indices, dtype=np.int64)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "offsets", offsets)
        if self.num_features <= 0 or self.batch_size <= 0:
            raise ValueError(
                f"batch: num_features ({self.num_features}) and batch_size ({self.batch_size}) must be positive"
            )
        expected = self.num_features * self.batch_size + 1
        if offsets.ndim != 1 or offsets.shape[0] != expected:
            raise ValueError(
                f"batch: offsets must have num_features * batch_size + 1 = {expected} entries, got {offsets.shape}"
            )
        if offsets[0] != 0 or offsets[-1] != indices.shape[0]:
            raise ValueError(
                f"batch: offsets must start at 0 and end at len(indices) = {indices.shape[0]}, "
                f"got {offsets[0]} .. {offsets[-1]}"
            )
        if np.any(np.diff(offsets) < 0):
            bad = int(np.argmax(np.diff(offsets) < 0))
            raise ValueError(f"batch: offsets must be non-decreasing; offsets[{bad + 1}] < offsets[{bad}]")
        if indices.size and indices.min() < 0:
            raise ValueError(f"batch: token ids must be non-negative; found {int(indices.min())}")

    @property
    def num_lookups(self) -> int:
        """Number of token lookups (sum of bag sizes)."""
        return int(self.indices.shape[0])

    def bag(self, feature: int, sample: int) -> np.ndarray:
        """Token ids of one bag."""
        k = feature * self.batch_size + sample
        return self.indices[self.offsets[k] : self.offsets[k + 1]]

    @classmethod
    def from_bags(cls, bags: list[list[list[int]]]) -> "Batch":
        """Build from nested lists ``bags[feature][sample] -> token ids`` (tests, small inputs)."""
        num_features = len(bags)
        batch_size = len(bags[0]) if bags else 0
        if any(len(f) != batch_size for f in bags):
            raise ValueError("batch: every feature needs the same number of samples")
        lengths = [len(bag) for feature in bags for bag in feature]
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        flat = [tok for feature in bags for bag in feature for tok in bag]
        return cls(np.asarray(flat, dtype=np.int64), offsets, num_features, batch_size)
