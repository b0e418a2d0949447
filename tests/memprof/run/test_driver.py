"""memprof.run.driver on its own: the one warm-up rule, the warm-up boundary split inside a
chunk, skipping what a resumed consumer has seen, and steps counted for seekable streams."""

import numpy as np
import pytest

from memprof.run.driver import Stream, Warmup, chunk_stream, drive, resolve_warmup


class Recorder:
    """A consumer that records what it was fed and when the warm-up ended."""

    def __init__(self, start: int = 0):
        self.fed = start
        self.pieces: list[tuple[int, int]] = []  # (offset, length)
        self.warm_ended_at: list[int] = []

    @property
    def position(self):
        return self.fed

    def feed(self, chunk, offset):
        assert offset == self.fed
        self.pieces.append((offset, len(chunk)))
        self.fed += len(chunk)

    def end_warmup(self):
        self.warm_ended_at.append(self.fed)

    def result(self):
        return list(self.pieces)

    def checkpoint_objects(self):
        return {}

    def checkpoint_extra(self):
        return {}

    def restore_extra(self, extra):
        pass


def _chunks(sizes):
    return [np.zeros(n, dtype=np.uint64) for n in sizes]


def test_warmup_counts_and_fractions():
    assert resolve_warmup(2_500) == 2_500
    assert resolve_warmup(0.25, 10_001) == 2_500  # accesses round down
    assert resolve_warmup(0.3, 5, steps=True) == 2  # 1.5 batches: to the nearest
    assert resolve_warmup(0.0, None) == 0
    counted = []
    assert resolve_warmup(100, lambda: counted.append(1) or 10) == 100 and not counted  # not counted when not needed
    assert resolve_warmup(0.5, lambda: counted.append(1) or 10) == 5 and counted == [1]
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        resolve_warmup(1.5, 10)
    with pytest.raises(ValueError, match="trace length"):
        resolve_warmup(0.5, None)


def test_the_warmup_ends_exactly_at_its_boundary_inside_a_chunk():
    consumer = Recorder()
    where = drive(chunk_stream(_chunks([1000, 1000, 1000])), consumer, warmup=Warmup(1500), progress=False)
    assert consumer.pieces == [(0, 1000), (1000, 500), (1500, 500), (2000, 1000)]
    assert consumer.warm_ended_at == [1500]
    assert (where.steps, where.accesses, where.measured) == (3, 3000, True)


def test_a_resumed_consumer_gets_only_what_it_has_not_seen():
    consumer = Recorder(start=1_700)  # e.g. restored from a checkpoint taken with other chunk sizes
    drive(chunk_stream(_chunks([1000, 1000, 1000])), consumer, progress=False)
    assert consumer.pieces == [(1700, 300), (2000, 1000)]


def test_a_warmup_covering_the_input_is_refused():
    with pytest.raises(ValueError, match="covers the whole trace"):
        drive(chunk_stream(_chunks([1000])), Recorder(), warmup=Warmup(1000), progress=False)
    with pytest.raises(ValueError, match="no batch left to measure"):
        drive(chunk_stream(_chunks([10, 10])), Recorder(), warmup=Warmup(2, steps=True), progress=False)


def test_a_seekable_stream_opens_at_the_step_and_ends_the_warmup_at_a_step():
    opened = []

    def steps(start):
        opened.append(start)
        return iter(_chunks([10] * (4 - start)))

    consumer = Recorder()
    where = drive(Stream("s", steps, seekable=True, steps=4), consumer, warmup=Warmup(1, steps=True), progress=False)
    assert opened == [0] and consumer.warm_ended_at == [10] and where.steps == 4 and where.measured
