"""A slow, plain-Python cache hierarchy: the oracle the Numba engine is tested against.

One object per set, written for clarity, not speed. Semantics (the engine's docstring
lists the same rules): lookup from the first level, fill every missed level deepest
first; invalid ways fill first (lowest way); dirty victims are written back to the next
level (allocating there on a miss) or to DRAM; an inclusive LLC removes its victims from
the upper levels; writes dirty the first level only; the next-line prefetcher fetches
line+1 into the LLC after each demand access that reached the LLC.
"""

from __future__ import annotations

from sim.config import CacheConfig
from sim.splitmix import GOLDEN_INT as GOLDEN
from sim.splitmix import MASK64
from sim.splitmix import mix64_py as mix64

WRITE_FLAG = 1 << 63
MAX_RRPV = 3


class RandomStream:
    """A set's SplitMix64 stream, seeded as documented in ``sim.policies._rng``."""

    def __init__(self, seed: int, level: int, set_index: int) -> None:
        self.state = mix64((seed * GOLDEN + (level << 32) + set_index) & MASK64)

    def next(self) -> int:
        self.state = (self.state + GOLDEN) & MASK64
        return mix64(self.state)


class RefSet:
    """One set: ``slots[way]`` holds a line or None; policies keep their own state."""

    def __init__(self, policy: str, ways: int, stream: RandomStream) -> None:
        self.policy = policy
        self.ways = ways
        self.slots: list[int | None] = [None] * ways
        self.order: list[int] = []  # lru/fifo: lines, oldest first
        self.rrpv = [MAX_RRPV] * ways
        self.tree = {}  # plru: node -> 0 (victim on the left) / 1 (right)
        self.stream = stream

    def find(self, line: int) -> int | None:
        return self.slots.index(line) if line in self.slots else None

    # -- policy ---------------------------------------------------------------------
    def touch_hit(self, way: int) -> None:
        line = self.slots[way]
        if self.policy == "lru":
            self.order.remove(line)
            self.order.append(line)
        elif self.policy == "plru":
            self._plru_point_away(way)
        elif self.policy in ("srrip", "brrip", "drrip"):
            self.rrpv[way] = 0

    def choose_victim(self) -> int:
        for way, line in enumerate(self.slots):
            if line is None:
                return way
        if self.policy in ("lru", "fifo"):
            return self.slots.index(self.order[0])
        if self.policy == "random":
            return self.stream.next() % self.ways
        if self.policy == "plru":
            node = 1
            while node < self.ways:
                node = 2 * node + self.tree.get(node, 0)
            return node - self.ways
        while True:  # RRIP: first way at MAX_RRPV, else age everyone and retry
            for way in range(self.ways):
                if self.rrpv[way] == MAX_RRPV:
                    return way
            self.rrpv = [r + 1 for r in self.rrpv]

    def fill(self, way: int, line: int, bimodal: bool) -> None:
        old = self.slots[way]
        if old is not None and old in self.order:
            self.order.remove(old)
        self.slots[way] = line
        if self.policy in ("lru", "fifo"):
            self.order.append(line)
        elif self.policy == "plru":
            self._plru_point_away(way)
        elif self.policy == "srrip" or (self.policy == "drrip" and not bimodal):
            self.rrpv[way] = MAX_RRPV - 1
        elif self.policy in ("brrip", "drrip"):
            self.rrpv[way] = MAX_RRPV - 1 if self.stream.next() % 32 == 0 else MAX_RRPV

    def invalidate(self, way: int) -> None:
        line = self.slots[way]
        if line in self.order:
            self.order.remove(line)
        self.slots[way] = None

    def _plru_point_away(self, way: int) -> None:
        depth = self.ways.bit_length() - 1
        node = 1
        for level in range(depth):
            bit = (way >> (depth - 1 - level)) & 1  # 1 = the way is in the right subtree
            self.tree[node] = 1 - bit
            node = 2 * node + bit


class RefLevel:
    """One cache level: sets, dirty / prefetched line sets, counters."""

    def __init__(self, name: str, config: CacheConfig, index: int) -> None:
        self.name = name
        self.config = config
        self.sets = [
            RefSet(config.policy, config.ways, RandomStream(config.seed, index, s)) for s in range(config.num_sets)
        ]
        self.dirty: set[int] = set()
        self.prefetched: set[int] = set()
        self.psel = 512
        self.counts = dict.fromkeys(
            ("accesses", "hits", "misses", "writes", "evictions", "writebacks", "back_invalidations",
             "prefetch_fills", "prefetch_hits", "useless_prefetches"), 0)

    def set_of(self, line: int) -> RefSet:
        return self.sets[line % self.config.num_sets]

    def role(self, line: int) -> str:
        """DRRIP set-dueling role of the line's set (see sim.policies.drrip)."""
        num_sets = self.config.num_sets
        s = line % num_sets
        leaders = min(32, num_sets // 2)
        if leaders == 0:
            return "follower"
        stride = num_sets // leaders
        if s // stride < leaders and s % stride == 0:
            return "srrip"
        if s // stride < leaders and s % stride == stride // 2:
            return "brrip"
        return "follower"

    def bimodal(self, line: int) -> bool:
        role = self.role(line)
        return role == "brrip" or (role == "follower" and self.psel > 512)


class ReferenceHierarchy:
    """[L1] [L2] LLC, fed one byte address at a time."""

    def __init__(self, config, *, l1=None, l2=None, inclusive=True, prefetch=False) -> None:
        self.levels = [
            RefLevel(name, cfg, i)
            for i, (name, cfg) in enumerate((n, c) for n, c in (("L1", l1), ("L2", l2), ("LLC", config)) if c is not None)
        ]
        self.inclusive = inclusive
        self.prefetch = prefetch
        self.line_bytes = config.line_bytes
        self.dram_reads = 0
        self.dram_writes = 0

    def reset_stats(self) -> None:
        for level in self.levels:
            for key in level.counts:
                level.counts[key] = 0
        self.dram_reads = self.dram_writes = 0

    def access(self, address: int) -> None:
        is_write = bool(address & WRITE_FLAG)
        line = (address & (WRITE_FLAG - 1)) // self.line_bytes
        hit_level = len(self.levels)
        for k, level in enumerate(self.levels):
            level.counts["accesses"] += 1
            if is_write and k == 0:
                level.counts["writes"] += 1
            cache_set = level.set_of(line)
            way = cache_set.find(line)
            if way is not None:
                level.counts["hits"] += 1
                cache_set.touch_hit(way)
                if line in level.prefetched:
                    level.counts["prefetch_hits"] += 1
                    level.prefetched.discard(line)
                if is_write and k == 0:
                    level.dirty.add(line)
                hit_level = k
                break
            level.counts["misses"] += 1
            if level.config.policy == "drrip":
                role = level.role(line)
                if role == "srrip":
                    level.psel = min(1023, level.psel + 1)
                elif role == "brrip":
                    level.psel = max(0, level.psel - 1)
        if hit_level == len(self.levels):
            self.dram_reads += 1
        for k in reversed(range(hit_level)):
            victim = self._fill(k, line, dirty=is_write and k == 0, prefetched=False)
            if victim is not None:
                self._write_back(k + 1, victim)
        if self.prefetch and hit_level >= len(self.levels) - 1:
            self._prefetch(line + 1)

    def _fill(self, k: int, line: int, dirty: bool, prefetched: bool) -> int | None:
        """Put ``line`` in level k; return the victim if it must be written back."""
        level = self.levels[k]
        cache_set = level.set_of(line)
        way = cache_set.choose_victim()
        victim = cache_set.slots[way]
        victim_dirty = False
        if victim is not None:
            level.counts["evictions"] += 1
            victim_dirty = victim in level.dirty
            level.dirty.discard(victim)
            if victim in level.prefetched:
                level.counts["useless_prefetches"] += 1
                level.prefetched.discard(victim)
            if self.inclusive and k == len(self.levels) - 1:
                for upper in self.levels[:-1]:
                    upper_set = upper.set_of(victim)
                    upper_way = upper_set.find(victim)
                    if upper_way is not None:
                        level.counts["back_invalidations"] += 1
                        victim_dirty = victim_dirty or victim in upper.dirty
                        upper.dirty.discard(victim)
                        upper_set.invalidate(upper_way)
            if victim_dirty:
                level.counts["writebacks"] += 1
        cache_set.fill(way, line, level.bimodal(line))
        if dirty:
            level.dirty.add(line)
        if prefetched:
            level.prefetched.add(line)
        return victim if victim_dirty else None

    def _write_back(self, k: int, line: int) -> None:
        if k == len(self.levels):
            self.dram_writes += 1
            return
        level = self.levels[k]
        if level.set_of(line).find(line) is not None:
            level.dirty.add(line)
            return
        victim = self._fill(k, line, dirty=True, prefetched=False)
        if victim is not None:
            self._write_back(k + 1, victim)

    def _prefetch(self, line: int) -> None:
        llc = self.levels[-1]
        if llc.set_of(line).find(line) is not None:
            return
        llc.counts["prefetch_fills"] += 1
        self.dram_reads += 1
        victim = self._fill(len(self.levels) - 1, line, dirty=False, prefetched=True)
        if victim is not None:
            self._write_back(len(self.levels), victim)

    def counts(self) -> dict:
        """{'L1': {...}, ..., 'LLC': {...}, 'dram_read_bytes': n, 'dram_write_bytes': n}."""
        out = {level.name: dict(level.counts) for level in self.levels}
        out["dram_read_bytes"] = self.dram_reads * self.line_bytes
        out["dram_write_bytes"] = self.dram_writes * self.line_bytes
        return out


def reference_simulate(addresses, config, *, l1=None, l2=None, inclusive=True, prefetch=False, warmup=0) -> dict:
    """Run byte addresses (ints, bit 63 = write) through the reference; counts after warm-up."""
    hierarchy = ReferenceHierarchy(config, l1=l1, l2=l2, inclusive=inclusive, prefetch=prefetch)
    for i, address in enumerate(addresses):
        if i == warmup and warmup:
            hierarchy.reset_stats()
        hierarchy.access(int(address))
    return hierarchy.counts()
