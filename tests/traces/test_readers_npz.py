"""npz index/offset reader: per-table (B+1 and B offsets) and table-major layouts, re-batching, errors."""

from __future__ import annotations

import numpy as np
import pytest

from traces.readers import open_dataset
from traces.readers.npz import iter_npz_batches, load_npz_arrays

# bags[t][b]: 2 tables, 5 samples, with empty bags (including the last bag of table 1)
BAGS = [
    [[1, 2], [], [3], [4, 5, 6], [7]],
    [[10], [11, 12], [], [13], []],
]


def _per_table_arrays(with_end: bool):
    arrays = {}
    for t, bags in enumerate(BAGS):
        lengths = [len(b) for b in bags]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        arrays[f"indices_{t}"] = np.array([x for b in bags for x in b], dtype=np.int32)
        arrays[f"offsets_{t}"] = offsets if with_end else offsets[:-1]
    return arrays


def _as_bags(batch):
    return [[batch.bag(t, s).tolist() for s in range(batch.batch_size)] for t in range(batch.num_features)]


@pytest.mark.parametrize("with_end", [True, False])
@pytest.mark.parametrize("compressed", [False, True])
def test_per_table_rebatched(tmp_path, with_end, compressed):
    path = tmp_path / "d.npz"
    (np.savez_compressed if compressed else np.savez)(path, **_per_table_arrays(with_end))
    batches = list(iter_npz_batches(path, 2))
    assert [b.batch_size for b in batches] == [2, 2, 1]
    assert _as_bags(batches[0]) == [[[1, 2], []], [[10], [11, 12]]]
    assert _as_bags(batches[1]) == [[[3], [4, 5, 6]], [[], [13]]]
    assert _as_bags(batches[2]) == [[[7]], [[]]]
    (whole,) = list(iter_npz_batches(path))
    assert _as_bags(whole) == BAGS


def test_uncompressed_members_are_memory_mapped(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, **_per_table_arrays(True))
    arrays = load_npz_arrays(path)
    assert isinstance(arrays["indices_0"], np.memmap)
    assert arrays["indices_1"].tolist() == [10, 11, 12, 13]


def test_ambiguous_last_bag_override(tmp_path):
    # B form where every table's last bag is empty looks like the B+1 form: force it
    path = tmp_path / "d.npz"
    np.savez(path, indices_0=np.array([5, 6]), offsets_0=np.array([0, 1, 2]),
             indices_1=np.array([7]), offsets_1=np.array([0, 1, 1]))
    (auto,) = list(iter_npz_batches(path))
    assert auto.batch_size == 2
    (forced,) = list(iter_npz_batches(path, offsets_have_end=False))
    assert _as_bags(forced) == [[[5], [6], []], [[7], [], []]]


def test_caps_reduce(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, **_per_table_arrays(True))
    (batch,) = list(open_dataset(path, None, caps=[3, 5]))
    assert _as_bags(batch) == [[[b % 3 for b in bag] for bag in BAGS[0]], [[b % 5 for b in bag] for bag in BAGS[1]]]


def _table_major(bags):
    lengths = np.array([[len(b) for b in table] for table in bags])
    offsets = np.concatenate([[0], np.cumsum(lengths.ravel())])
    indices = np.array([x for table in bags for b in table for x in b], dtype=np.int64)
    return indices, offsets, lengths


def test_table_major_with_lengths(tmp_path):
    indices, offsets, lengths = _table_major(BAGS)
    path = tmp_path / "meta.npz"
    np.savez(path, indices=indices, offsets=offsets, lengths=lengths)
    batches = list(iter_npz_batches(path, 3))
    assert [b.batch_size for b in batches] == [3, 2]
    assert _as_bags(batches[0]) == [table[:3] for table in BAGS]
    assert _as_bags(batches[1]) == [table[3:] for table in BAGS]


def test_table_major_needs_num_features(tmp_path):
    indices, offsets, _ = _table_major(BAGS)
    path = tmp_path / "meta.npz"
    np.savez(path, indices=indices, offsets=offsets)
    with pytest.raises(ValueError, match=r"give the workload with T tables \(--workload"):
        iter_npz_batches(path, 2)
    (batch,) = list(iter_npz_batches(path, None, num_features=2))
    assert _as_bags(batch) == BAGS
    (batch,) = list(iter_npz_batches(path, None, caps=[1000, 1000]))  # T from the workload's tables
    assert _as_bags(batch) == BAGS
    with pytest.raises(ValueError, match=r"array 'offsets' has 11 entries, not T \* B \+ 1 for T=3 tables "
                                         r"\(the --workload's"):
        iter_npz_batches(path, 2, num_features=3)


@pytest.mark.parametrize("arrays, match", [
    ({"indices_0": np.array([1, 2]), "offsets_0": np.array([0, 2, 1])}, r"array 'offsets_0' must be non-decreasing; entry 2"),
    ({"indices_0": np.array([1, 2]), "offsets_0": np.array([1, 2])}, r"array 'offsets_0' must start at 0"),
    ({"indices_0": np.array([1, -2]), "offsets_0": np.array([0, 2])}, r"array 'indices_0' holds a negative token id -2"),
    ({"indices_0": np.array([1.0]), "offsets_0": np.array([0, 1])}, r"array 'indices_0' must hold integers"),
    ({"indices_0": np.array([1]), "offsets_0": np.array([0, 1]), "indices_1": np.array([1])}, r"unpaired suffixes: \['1'\]"),
    ({"indices_0": np.array([1]), "offsets_0": np.array([0, 1]),
      "indices_1": np.array([1, 2]), "offsets_1": np.array([0, 1, 2])}, "same number of samples"),
    ({"indices_0": np.array([1]), "offsets_0": np.array([0, 5])}, r"array 'offsets_0' ends at 5, beyond"),
    ({"indices": np.array([1, 2]), "offsets": np.array([0, 1, 2]), "lengths": np.array([[1, 2]])},
     r"array 'lengths' disagrees"),
    ({"indices": np.array([1, 2, 3]), "offsets": np.array([0, 1, 2]), "lengths": np.array([[1, 1]])},
     r"array 'offsets' must end at len\(indices\) = 3"),
    ({"rows": np.array([1])}, "expected arrays 'indices'"),
])
def test_validation_errors_name_the_array(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        iter_npz_batches(path, 2)


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"hello")
    with pytest.raises(ValueError, match=r"x\.npz: not a readable \.npz"):
        iter_npz_batches(path)
