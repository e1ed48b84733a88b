# SPDX-License-Identifier: Apache-2.0
"""The protocol's device operations for ``numba.cuda`` kernels: the same PTX the built-ins use.

numba has no system-scope acquire load, release store, %globaltimer or %smid of its own.

Import it inside the function that builds your kernel (it needs numba-cuda)::

    from waitbench.custom import numba_ops as wb
    t = wb.globaltimer()                       # uint64 ns
    if wb.released(flag, gen): ...             # acquire load, wrap-safe generation compare
    wb.store_release(slots32, b * wb.SLOT_WORDS32 + wb.ACK, gen)
"""

from __future__ import annotations

from .kernels import missing
from .protocol import ACK, ARMED, OUTCOME, SLOT_WORDS32, SLOT_WORDS64, SMID, START_GT, WAKE_GT, outcomes

try:  # a missing numba (llvmlite comes with it) is one clear line naming the extra, not a traceback
    from llvmlite import ir
    from numba import cuda
    from numba.cuda import cgutils, types
    from numba.cuda.extending import intrinsic
except ImportError:
    raise missing("numba.cuda", "waitbench.custom.numba_ops (numba kernels)") from None

__all__ = ["ABORTED", "ACK", "ARMED", "EXPIRED", "OUTCOME", "RELEASED", "SLOT_WORDS32", "SLOT_WORDS64", "SMID",
           "START_GT", "WAKE_GT", "arm_block", "finish_block", "globaltimer", "load_acquire", "load_volatile",
           "released", "released_volatile", "smid", "store_release"]

_CODES = outcomes()
RELEASED, EXPIRED, ABORTED = _CODES["released"], _CODES["expired"], _CODES["aborted"]


def _asm(builder: ir.IRBuilder, ret: ir.Type, text: str, constraints: str, args: list[ir.Value]) -> ir.Value:
    fn = ir.FunctionType(ret, [a.type for a in args])
    return builder.call(ir.InlineAsm(fn, text, constraints, side_effect=True), args)


def _u32_pointer(context, builder, sig, args):
    aryty, idxty = sig.args[0], sig.args[1]
    ary = context.make_array(aryty)(context, builder, args[0])
    idx = context.cast(builder, args[1], idxty, types.intp)
    return cgutils.get_item_pointer(context, builder, aryty, ary, [idx], wraparound=False)


def _is_u32_array(arr: types.Type) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.uint32 and arr.ndim == 1


@intrinsic
def globaltimer(typingctx):
    """%globaltimer in ns (the clock the core maps onto the host's)."""
    def codegen(context, builder, sig, args):
        return _asm(builder, ir.IntType(64), "mov.u64 $0, %globaltimer;", "=l", [])
    return types.uint64(), codegen


@intrinsic
def smid(typingctx):
    """%smid: the SM this thread runs on."""
    def codegen(context, builder, sig, args):
        return _asm(builder, ir.IntType(32), "mov.u32 $0, %smid;", "=r", [])
    return types.uint32(), codegen


@intrinsic
def load_acquire(typingctx, arr, idx):
    """System-scope acquire load of ``arr[idx]`` (uint32): sees host stores to mapped memory."""
    if not (_is_u32_array(arr) and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _u32_pointer(context, builder, sig, args)
        return _asm(builder, ir.IntType(32), "ld.acquire.sys.global.u32 $0, [$1];", "=r,l,~{memory}", [ptr])
    return types.uint32(arr, idx), codegen


@intrinsic
def load_volatile(typingctx, arr, idx):
    """Volatile load of ``arr[idx]`` (uint32), for words whose order does not matter (abort)."""
    if not (_is_u32_array(arr) and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _u32_pointer(context, builder, sig, args)
        return _asm(builder, ir.IntType(32), "ld.volatile.global.u32 $0, [$1];", "=r,l,~{memory}", [ptr])
    return types.uint32(arr, idx), codegen


@intrinsic
def store_release(typingctx, arr, idx, value):
    """System-scope release store ``arr[idx] = value`` (uint32): earlier writes are visible first."""
    if not (_is_u32_array(arr) and isinstance(idx, types.Integer) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _u32_pointer(context, builder, sig, args)
        val = context.cast(builder, args[2], sig.args[2], types.uint32)
        _asm(builder, ir.VoidType(), "st.release.sys.global.u32 [$0], $1;", "l,r,~{memory}", [ptr, val])
        return context.get_dummy_value()
    return types.void(arr, idx, value), codegen


@cuda.jit(device=True, inline="always")
def released(flag, gen):
    """True once the release word reached generation ``gen`` (wrap-safe: (int32)(flag - gen) >= 0)."""
    return ((types.int64(load_acquire(flag, 0)) - types.int64(gen)) & 0xFFFFFFFF) < 0x80000000


@cuda.jit(device=True, inline="always")
def released_volatile(flag, gen):
    """As :func:`released` with a volatile load: NCCL's poll and the built-in spin's default."""
    return ((types.int64(load_volatile(flag, 0)) - types.int64(gen)) & 0xFFFFFFFF) < 0x80000000


@cuda.jit(device=True, inline="always")
def arm_block(slots32, slots64, block, gen):
    """First thing a block does (one thread): where it runs, when it started, then ``armed``."""
    start = globaltimer()
    slots32[block * SLOT_WORDS32 + SMID] = smid()
    slots64[block * SLOT_WORDS64 + START_GT] = start
    store_release(slots32, block * SLOT_WORDS32 + ARMED, gen)
    return start


@cuda.jit(device=True, inline="always")
def finish_block(slots32, slots64, block, gen, outcome, wake_gt):
    """Last thing a block does (one thread), on every exit path: how it ended, then ``ack``."""
    slots64[block * SLOT_WORDS64 + WAKE_GT] = wake_gt
    slots32[block * SLOT_WORDS32 + OUTCOME] = outcome
    store_release(slots32, block * SLOT_WORDS32 + ACK, gen)
