"""sim.rows: row accounting against a plain-Python reference and hand-made cases."""

import numpy as np
import pytest

from sim.rows import RowCounter


def reference_rows(lines, kinds, served, nlev):
    """Dict of counts; column nlev + 1 = unsimulated (a row with any 255 line)."""
    cols = nlev + 2
    out = {k: [0] * cols for k in ("rows", "row_lines", "data_lines", "leaf_reads", "upper_reads")}
    col = lambda level: level if level <= nlev else nlev + 1  # noqa: E731
    data = [(line, level) for line, kind, level in zip(lines, kinds, served) if kind == 0]
    for line, kind, level in zip(lines, kinds, served):
        if kind == 1:
            out["leaf_reads"][col(level)] += 1
        elif kind == 2:
            out["upper_reads"][col(level)] += 1
        else:
            out["data_lines"][col(level)] += 1
    runs = []
    for line, level in data:
        if runs and line == runs[-1][-1][0] + 1:
            runs[-1].append((line, level))
        else:
            runs.append([(line, level)])
    for run in runs:
        levels = [lv for _, lv in run]
        c = nlev + 1 if 255 in levels else max(levels)
        out["rows"][c] += 1
        out["row_lines"][c] += len(run)
    return out


def _as_reference_shape(stats):
    out = {}
    for field in ("rows", "row_lines", "data_lines", "leaf_reads", "upper_reads"):
        out[field] = list(getattr(stats, field)) + [getattr(stats, f"unsimulated_{field}")]
    return out


@pytest.mark.parametrize("nlev", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_reference(nlev, seed):
    rng = np.random.default_rng(seed)
    n = 5_000
    starts = rng.integers(0, 300, n)
    lines = np.empty(n, dtype=np.int64)
    lines[0] = 10
    step = rng.random(n) < 0.7  # mostly consecutive lines
    for i in range(1, n):
        lines[i] = lines[i - 1] + 1 if step[i] else starts[i]
    kinds = rng.choice([0, 0, 0, 0, 1, 2], n).astype(np.uint8)
    served = rng.integers(0, nlev + 1, n).astype(np.uint8)
    served[rng.random(n) < 0.02] = 255
    addrs = lines.astype(np.uint64) * np.uint64(64)
    addrs[rng.random(n) < 0.2] |= np.uint64(1 << 63)  # writes are rows too
    counter = RowCounter(nlev, 6)
    for lo in range(0, n, 777):  # rows continue across chunks
        counter.add(addrs[lo:lo + 777], kinds[lo:lo + 777], served[lo:lo + 777])
    want = reference_rows(lines.tolist(), kinds.tolist(), served.tolist(), nlev)
    assert _as_reference_shape(counter.stats()) == want
    assert want["rows"][nlev + 1] > 0


def test_hand_made_rows():
    # lines 5,6,7 (served 0,2,1) with a walk read between 6 and 7, then 7 again, then 8 (255)
    addrs = np.array([5, 6, 900, 7, 7, 8], dtype=np.uint64) * np.uint64(64)
    kinds = np.array([0, 0, 1, 0, 0, 0], dtype=np.uint8)
    served = np.array([0, 2, 2, 1, 0, 255], dtype=np.uint8)
    counter = RowCounter(2, 6, ("L1", "LLC"))
    counter.add(addrs, kinds, served)
    s = counter.stats()
    assert s.levels == ("L1", "LLC", "memory")
    assert s.rows == (0, 0, 1) and s.row_lines == (0, 0, 3)  # 5,6,7: slowest at memory
    assert s.unsimulated_rows == 1 and s.unsimulated_row_lines == 2  # 7,8
    assert s.data_lines == (2, 1, 1) and s.unsimulated_data_lines == 1
    assert s.leaf_reads == (0, 0, 1)
    d = s.as_dict()
    assert d["rows_memory"] == 1 and d["unsimulated_rows"] == 1
    counter.reset_stats()  # the open row (7, 8) was read before the reset: dropped with the counts
    assert counter.stats().unsimulated_rows == 0 and counter.stats().data_lines == (0, 0, 0)
    counter.add(np.array([9, 10], dtype=np.uint64) * np.uint64(64), np.zeros(0, np.uint8),
                np.array([0, 0], np.uint8))  # 9 follows 8, but starts a new row after the reset
    assert counter.stats().rows == (1, 0, 0) and counter.stats().row_lines == (2, 0, 0)


def test_empty_kinds_mean_all_data():
    counter = RowCounter(1, 6)
    counter.add(np.array([0, 64, 128], dtype=np.uint64), np.zeros(0, np.uint8), np.array([0, 1, 0], np.uint8))
    assert counter.stats().rows == (0, 1) and counter.stats().row_lines == (0, 3)
