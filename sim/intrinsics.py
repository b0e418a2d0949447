"""LLVM intrinsics for the Numba kernels: popcount, count-trailing-zeros, host prefetch,
borrowed arrays and unsigned indices.

Shared by the simulator kernels (``sim.engine.kernels``) and the stack-distance code (``sim.mrc.stack``).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def popcount(typingctx, x):
    """Number of set bits of a uint64 (LLVM ctpop)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def ctz(typingctx, x):
    """Trailing zeros of a non-zero uint64 (LLVM cttz)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch &arr[idx] into its caches (llvm.prefetch: read, high
    locality; never faults): hides host-memory latency of lookups known in advance."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def borrowed(typingctx, arr):
    """``arr`` without its reference-counted owner (meminfo and parent NULL).

    Numba increments and decrements (atomically) the owner's count of every array passed
    to a function, inlined helpers included; with a NULL owner those calls return at once.
    A kernel borrows its state arrays once at the top: they stay alive because the caller
    holds them for the whole call. Never return or store a borrowed array.
    """
    sig = arr(arr)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        src = context.make_array(aryty)(context, builder, args[0])
        dst = context.make_array(aryty)(context, builder)
        for name in ("data", "shape", "strides", "itemsize", "nitems"):
            setattr(dst, name, getattr(src, name))
        dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
        dst.parent = cgutils.get_null_value(dst.parent.type)
        return dst._getvalue()

    return sig, codegen


@njit(cache=True, inline="always")
def ix(i):
    """``i`` (known to be >= 0) as an unsigned array index.

    Numba wraps negative signed indices around (``a[-1]``): a sign test, an add of the
    array's length and that length kept live, per access. Unsigned indices skip it; in a
    hot loop with many arrays this also frees the registers the lengths were spilled from.
    """
    return np.uint64(i)
