"""Dynamic RRIP with set dueling (Jaleel et al., ISCA 2010).

Leader sets: ``n = min(32, num_sets // 2)`` per policy, spread with stride
``num_sets // n``: set s is an SRRIP leader when ``s % stride == 0`` and a BRRIP leader
when ``s % stride == stride // 2`` (both with ``s // stride < n``); all other sets follow.
A 10-bit saturating PSEL (0..1023, starts at 512) counts demand misses: +1 in an SRRIP
leader, -1 in a BRRIP leader. Followers insert like BRRIP when PSEL > 512, else like
SRRIP. PSEL is global to the cache, so DRRIP runs single-threaded.
"""

from numba import njit

from sim.policies import brrip, srrip

NAME = "drrip"
DESCRIPTION = "dynamic RRIP: SRRIP/BRRIP set dueling, 10-bit PSEL (single-threaded)"

PSEL_MAX = 1023
PSEL_INIT = 512
MAX_LEADERS = 32
FOLLOWER = 0
SRRIP_LEADER = 1
BRRIP_LEADER = 2


def check_ways(ways: int) -> None:
    """Any associativity works."""


victim = srrip.victim
on_hit = srrip.on_hit


@njit(cache=True, inline="always")
def set_role(set_idx, num_sets):
    """FOLLOWER, SRRIP_LEADER or BRRIP_LEADER for a set."""
    n = min(MAX_LEADERS, num_sets // 2)
    if n == 0:
        return FOLLOWER
    stride = num_sets // n
    if set_idx // stride >= n:
        return FOLLOWER
    r = set_idx % stride
    if r == 0:
        return SRRIP_LEADER
    if r == stride // 2:
        return BRRIP_LEADER
    return FOLLOWER


@njit(cache=True, inline="always")
def record_miss(gstate, g, role):
    """Update PSEL (gstate[g]) for a demand miss in a leader set."""
    if role == SRRIP_LEADER:
        if gstate[g] < PSEL_MAX:
            gstate[g] += 1
    elif role == BRRIP_LEADER:
        if gstate[g] > 0:
            gstate[g] -= 1


@njit(cache=True, inline="always")
def uses_brrip(gstate, g, role):
    """Whether a set of this role inserts like BRRIP now."""
    if role == SRRIP_LEADER:
        return False
    if role == BRRIP_LEADER:
        return True
    return gstate[g] > PSEL_INIT


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock, use_brrip):
    """Insert like BRRIP or SRRIP as the duel decided."""
    if use_brrip:
        brrip.on_fill(meta, base, ways, way, sstate, sidx, clock)
    else:
        srrip.on_fill(meta, base, ways, way, sstate, sidx, clock)
