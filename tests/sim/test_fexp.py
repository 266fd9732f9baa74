"""The exact engine's inlined exponential (sim.engines.fexp): accurate to half an ulp and,
where the C library is glibc's FMA build, the same double as math.exp."""
import math
import platform
from decimal import Decimal, getcontext

import numpy as np
import pytest

from numba import njit

from sim.engines.fexp import LOW_LIMIT, exp_decay


@njit(cache=False)
def exp_decay_array(x, out):
    for i in range(x.shape[0]):
        out[i] = exp_decay(x[i])


def _ulp_error(x: float, y: float) -> float:
    getcontext().prec = 50
    exact = Decimal(x).exp()
    return float(abs(Decimal(y) - exact) / Decimal(math.ulp(float(exact))))


def _arguments(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([
        rng.uniform(LOW_LIMIT, 0.0, n),                       # any gap
        -np.exp(rng.uniform(-40.0, math.log(-LOW_LIMIT), n)),  # gaps from femto-tau to 512 tau
        -rng.integers(1, 10**12, n) * (1.0 / (0.02 * 1e12)),   # whole-picosecond gaps, tau = 20 ms
    ])


def test_within_half_an_ulp_of_the_exact_value():
    x = _arguments(2000, 0)
    y = np.empty_like(x)
    exp_decay_array(x, y)
    worst = max(_ulp_error(float(a), float(b)) for a, b in zip(x, y))
    assert worst < 0.52, worst


def test_edge_arguments():
    assert exp_decay(0.0) == 1.0
    assert exp_decay(-0.0) == 1.0
    assert exp_decay(-1e-300) == 1.0
    assert exp_decay(-math.log(2.0)) == pytest.approx(0.5, rel=1e-16)
    # below LOW_LIMIT the C library's own value
    for a in (-512.5, -700.0, -745.0, -800.0, -math.inf):
        assert exp_decay(a) == math.exp(a)


def _libm_is_glibc_fma() -> bool:
    import llvmlite.binding as llvm

    libc, version = platform.libc_ver()
    new_enough = libc == "glibc" and tuple(int(v) for v in version.split(".")[:2]) >= (2, 28)
    return (platform.system() == "Linux" and new_enough and platform.machine() in ("x86_64", "AMD64")
            and bool(llvm.get_host_cpu_features().get("fma", False)))


@pytest.mark.skipif(not _libm_is_glibc_fma(), reason="the C library's exp is not glibc's FMA build here")
def test_same_double_as_the_c_library():
    @njit(cache=False)
    def libm(x, out):
        for i in range(x.shape[0]):
            out[i] = math.exp(x[i])

    x = _arguments(400_000, 1)
    a, b = np.empty_like(x), np.empty_like(x)
    exp_decay_array(x, a)
    libm(x, b)
    differ = np.flatnonzero(a.view(np.int64) != b.view(np.int64))
    assert differ.size == 0, f"{differ.size} of {x.size} differ, e.g. exp({x[differ[0]]!r})"
