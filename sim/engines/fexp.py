"""The exponential the exact engine decays potentials with, compiled inline.

``exp_decay(x)`` is ``exp(x)`` for ``x <= 0`` by the table method of Tang (1989) in the form
of ARM's optimized-routines, which glibc (2.28 and later) ships as its ``exp``:
``x = k ln2/128 + r`` with ``|r| <= ln2/256``, ``exp(x) = 2^(k/128) exp(r)``, where
``2^(j/128)`` for ``j = k mod 128`` comes from a 128-entry table (a double and its rounding
error) and ``exp(r) - 1`` from a degree-5 polynomial. The reduction and the polynomial are
evaluated with fused multiply-adds in the order in which glibc's FMA build (the one it
selects on every x86-64 processor with FMA) evaluates them, so that the result is the same
double as the C library's ``exp`` (``tests/sim/test_fexp.py`` compares them on millions of
arguments); error < 0.51 ulp.

Why not ``math.exp``: inside a Numba loop ``math.exp`` is a call into the C library that
cannot be inlined (about 4.7 ns per call in a tight loop on the development machine);
inlined, the same arithmetic takes about 1.7 ns and the engine's event loop, which decays one
potential per synaptic event in continuous time, spends correspondingly less
(docs/exact-engine.md). Results do not change.

Arguments below -512 (a gap of more than 512 membrane time constants, a result below
1e-222) go to the C library, which treats them as a special case of its own (the table's
scale leaves the normal range further down).
The table is computed here, on import, from its definition with :mod:`decimal` (60 digits).
"""
from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
from llvmlite import ir as _ir
from numba import njit, types as _types, uint64
from numba.extending import intrinsic as _intrinsic

TABLE_BITS = 7
N = 1 << TABLE_BITS


def _make_table() -> np.ndarray:
    """``tab[2j]`` = bits of ``T_j``, ``tab[2j + 1]`` = bits of ``H_j`` minus ``j << 45``, where
    ``H_j`` is ``2^(j/N)`` rounded to the nearest double and ``T_j`` the relative rounding
    error ``(2^(j/N) - H_j) / H_j``, also rounded (the ``j << 45`` is added back with the
    exponent of ``2^(k/N)``)."""
    getcontext().prec = 60
    ln2 = Decimal(2).ln()
    tab = np.zeros(2 * N, dtype=np.uint64)
    for j in range(N):
        exact = (ln2 * j / N).exp()
        h = float(exact)
        t = float((exact - Decimal(h)) / Decimal(h))
        tab[2 * j] = np.float64(t).view(np.uint64)
        tab[2 * j + 1] = np.uint64(int(np.float64(h).view(np.uint64)) - (j << (52 - TABLE_BITS)))
    return tab


_TAB = _make_table()
_INV_LN2_N = float.fromhex("0x1.71547652b82fep0") * N        # N / ln 2
_NEG_LN2_HI_N = float.fromhex("-0x1.62e42fefa0000p-8")        # -ln 2 / N, high part
_NEG_LN2_LO_N = float.fromhex("-0x1.cf79abc9e3b3ap-47")       # and the rest
_SHIFT = float.fromhex("0x1.8p52")                           # rounds to an integer on adding
# exp(r) - 1 - r ~= r^2 (C2 + r C3) + r^4 (C4 + r C5) for |r| <= ln2/256 (minimax coefficients)
_C2 = float.fromhex("0x1.ffffffffffdbdp-2")
_C3 = float.fromhex("0x1.555555555543cp-3")
_C4 = float.fromhex("0x1.55555cf172b91p-5")
_C5 = float.fromhex("0x1.1111167a4d017p-7")
LOW_LIMIT = -512.0


@_intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma.f64)."""
    sig = _types.float64(_types.float64, _types.float64, _types.float64)

    def codegen(context, builder, signature, args):
        d = _ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], _ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@_intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as uint64."""
    sig = _types.uint64(_types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _ir.IntType(64))

    return sig, codegen


@_intrinsic
def _from_bits(typingctx, u):
    """The float64 with these bits."""
    sig = _types.float64(_types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _ir.DoubleType())

    return sig, codegen


@njit(cache=True, _nrt=False, inline="always")
def exp_decay(x):
    """exp(x) for x <= 0 (any x >= LOW_LIMIT; below it, the C library's exp). Inlined into
    the kernels; callable from Python too (the slow reference loop calls it)."""
    if x < LOW_LIMIT:
        return math.exp(x)
    kd = _fma(x, _INV_LN2_N, _SHIFT)   # k in the low bits of kd
    ki = _bits(kd)
    kd -= _SHIFT
    r = _fma(kd, _NEG_LN2_LO_N, _fma(kd, _NEG_LN2_HI_N, x))
    idx = (ki % uint64(N)) * uint64(2)
    tail = _from_bits(_TAB[idx])
    scale = _from_bits(_TAB[idx + uint64(1)] + (ki << uint64(52 - TABLE_BITS)))
    r2 = r * r
    tmp = _fma(r2 * r2, _fma(r, _C5, _C4), _fma(r2, _fma(r, _C3, _C2), tail + r))
    return _fma(scale, tmp, scale)
