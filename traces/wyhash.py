"""wyhash ("final version 4", Wang Yi, public domain) of one 64-bit key: the hash of Mem-Rec
as Intel released it (intel/ai-reference-models, memrec_dlrm/memrec_encoder).

Only the short-input path is needed: the key is the little-endian 8-byte integer
``feature * 430000000 + token`` (SPEC section 7), so ``len = 8`` and wyhash reads it as two
32-bit halves. ``WYHASH_CONDOM = 1`` and a full 64x64 -> 128-bit multiply (``_wymum``), the
default secret ``_wyp``; the seeds are the released encoder's list (the first hash of a key uses
``SEEDS[0]``, extra hash ``m`` uses ``SEEDS[m + 1]``).

What the released binary does differently (docs/memrec-released.md): it reads the key through a
2-byte ``uint16_t`` (only the low 16 bits of ``feature * 430000000 + token`` count, so all 26
features share 65,536 keys) and passes an uninitialised local secret. That is undefined
behaviour, compiler-dependent; memprof implements the intended function instead.

``wyhash64_key`` is the Numba kernel; ``wyhash64_key_py`` a pure-Python twin for references.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

SECRET = (0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3, 0x589965CC75374CC3)
SEEDS = (7186053, 6387688, 5937987, 2014911, 8420444, 7735429, 7189516, 6746271, 6122425, 3363721,
         1344626, 3883505, 357814, 7959252, 5356618, 6020406, 3523941, 3551544, 8555633, 9130236)
FEATURE_SALT = 430_000_000  # key = feature * FEATURE_SALT + token
KEY_BYTES = 8
_MASK64 = (1 << 64) - 1
_MASK32 = np.uint64(0xFFFFFFFF)
_S0, _S1 = np.uint64(SECRET[0]), np.uint64(SECRET[1])
_LEN = np.uint64(KEY_BYTES)
_32 = np.uint64(32)


@intrinsic
def _mum(typingctx, a, b):
    """(low, high) 64-bit halves of the 128-bit product a * b (uint64 operands)."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        low = builder.trunc(product, ir.IntType(64))
        high = builder.trunc(builder.lshr(product, ir.Constant(i128, 64)), ir.IntType(64))
        return context.make_tuple(builder, signature.return_type, (low, high))

    return sig, codegen


@njit(cache=True, inline="always")
def _mix(a, b):
    low, high = _mum(a, b)
    return low ^ high


@njit(cache=True, inline="always")
def wyhash64_key(key, seed):
    """wyhash v4 of the 8 little-endian bytes of the uint64 ``key`` with ``seed`` (uint64)."""
    key = np.uint64(key)
    seed = np.uint64(seed)
    seed ^= _mix(seed ^ _S0, _S1)
    low = key & _MASK32
    high = key >> _32
    a = (low << _32) | high  # _wyr4(p) << 32 | _wyr4(p + 4)
    b = (high << _32) | low  # _wyr4(p + 4) << 32 | _wyr4(p)
    a, b = _mum(a ^ _S1, b ^ seed)
    return _mix(a ^ _S0 ^ _LEN, b ^ _S1)


def _mum_py(a: int, b: int) -> tuple[int, int]:
    product = a * b
    return product & _MASK64, product >> 64


def wyhash64_key_py(key: int, seed: int) -> int:
    """Pure-Python ``wyhash64_key`` (the same steps on Python ints)."""
    s0, s1 = SECRET[0], SECRET[1]
    low, high = _mum_py(seed ^ s0, s1)
    seed ^= low ^ high
    lo32, hi32 = key & 0xFFFFFFFF, key >> 32
    a, b = _mum_py(((lo32 << 32) | hi32) ^ s1, ((hi32 << 32) | lo32) ^ seed)
    low, high = _mum_py(a ^ s0 ^ KEY_BYTES, b ^ s1)
    return low ^ high


def extra_hash_count(k_token: int, k_weight: int) -> int:
    """wyhash calls per (feature, token) beyond the first: each call gives two 32-bit halves,
    the first call covers one token and one weight index (released encoder)."""
    return max(0, -(-(k_token + k_weight - 2) // 2))
