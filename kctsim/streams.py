"""numpy's PCG64 random streams, drawn inside numba kernels through documented APIs only.

A kctsim stream is numpy's ``Generator(PCG64)`` stream held as plain integers: one
1-D ``np.uint64`` array of :data:`N_WORDS` words (the 128-bit LCG state and increment as
high/low 64-bit words, then numpy's 32-bit buffer ``has_uint32``/``uinteger``). The
compiled functions below advance that array exactly as numpy's C code advances its
``pcg64_state``, and compute every draw exactly as numpy's ``Generator`` methods (and
numba's own ``Generator`` support, which mirrors them) do, so a kernel's draws are
numpy's draws, bit for bit, for the same seed.

Why: the kernels used to reach numpy's C ``bitgen_t`` by address and rebuild numba's
Generator struct with a numba intrinsic, and to read numpy's PCG64 state as a native
128-bit integer. That relies on undocumented layouts of numpy and numba (it pinned
numba) and cannot work where numpy is built without ``__int128`` (MSVC, Windows). Here:

* the state crosses between Python and kernels only through numpy's documented
  ``bit_generator.state`` dict (``{'bit_generator': 'PCG64', 'state': {'state': int,
  'inc': int}, 'has_uint32': int, 'uinteger': int}``);
* the kernels use plain ``@njit`` with 64-bit unsigned arithmetic only: the 128-bit
  multiply of the LCG is done with 64-bit words and the high half of a 64x64 product
  from 32-bit halves (numpy's own fallback for compilers without ``__int128``). No
  LLVM code generation, numba internals, intrinsics, ctypes or numpy internals;
* Python code can still use numpy's own methods (``rng.choice`` ...) on the same
  stream between kernel calls through :func:`as_numpy`.

The algorithms follow numpy/random/src/pcg64/pcg64.h and
numpy/random/src/distributions/distributions.c (``pcg64_next64``, ``pcg64_next32``,
``next_double``, ``random_bounded_uint64`` with Lemire's method, the ziggurat
``random_standard_normal``, ``random_poisson``); tests/test_streams.py checks them draw
for draw against numpy itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numba import njit

from kctsim._ziggurat import (
    FI_DOUBLE,
    KI_DOUBLE,
    WI_DOUBLE,
    ZIGGURAT_NOR_INV_R,
    ZIGGURAT_NOR_R,
)

__all__ = [
    "HAS_UINT32",
    "INC_HIGH",
    "INC_LOW",
    "N_WORDS",
    "STATE_HIGH",
    "STATE_LOW",
    "UINTEGER",
    "as_numpy",
    "fill_random",
    "integers",
    "load_from_generator",
    "new_stream",
    "next_uint32",
    "next_uint64",
    "poisson",
    "random",
    "standard_normal",
    "state_dict",
    "to_generator",
    "uniform",
]

# The words of a stream's state array.
STATE_HIGH = 0
"""High 64 bits of the 128-bit LCG state."""
STATE_LOW = 1
"""Low 64 bits of the 128-bit LCG state."""
INC_HIGH = 2
"""High 64 bits of the 128-bit LCG increment (odd; fixed for a stream)."""
INC_LOW = 3
"""Low 64 bits of the 128-bit LCG increment."""
HAS_UINT32 = 4
"""1 when :data:`UINTEGER` holds the unused upper half of a 64-bit draw, else 0."""
UINTEGER = 5
"""The buffered 32-bit value (numpy's ``uinteger``)."""
N_WORDS = 6
"""Length of a stream's state array."""

_JIT = {"cache": True, "nogil": True}

# uint64 constants: numba types a mixed uint64/int64 expression as float64, so every
# integer constant below is a uint64 (globals are frozen into the compiled code).
_MULT_HIGH = np.uint64(2549297995355413924)  # PCG_DEFAULT_MULTIPLIER_HIGH
_MULT_LOW = np.uint64(4865540595714422341)  # PCG_DEFAULT_MULTIPLIER_LOW
_MASK32 = np.uint64(0xFFFFFFFF)
_MASK52 = np.uint64(0x000FFFFFFFFFFFFF)
_MAX64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U8 = np.uint64(8)
_U11 = np.uint64(11)
_U32 = np.uint64(32)
_U58 = np.uint64(58)
_U63 = np.uint64(63)
_U64 = np.uint64(64)
_U255 = np.uint64(0xFF)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53

# numpy's random_loggam coefficients (Zhang & Jin, "Computation of Special Functions")
_LOGGAM_A = np.array(
    [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.410256410256410e-03,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e00,
    ]
)
_LOG_2PI = 1.8378770664093453e00
# numpy's Generator.poisson refuses lam above this (CONS_POISSON)
_POISSON_LAM_MAX = float(np.iinfo(np.int64).max - np.sqrt(np.iinfo(np.int64).max) * 10)


# ------------------------------------------------------------------ the bit generator
@njit(**_JIT)
def _mulhi64(a, b):
    """High 64 bits of the 128-bit product of two uint64 (from 32-bit halves)."""
    a0 = a & _MASK32
    a1 = a >> _U32
    b0 = b & _MASK32
    b1 = b >> _U32
    w0 = a0 * b0
    t = a1 * b0 + (w0 >> _U32)
    w1 = (t & _MASK32) + a0 * b1
    return a1 * b1 + (t >> _U32) + (w1 >> _U32)


@njit(**_JIT)
def _pcg_step(high, low, inc_high, inc_low):
    """numpy's ``pcg64_next64`` on the words of a state: step the LCG, then the XSL-RR
    output; returns (new high, new low, output).

    state = state * multiplier + increment (mod 2**128);
    output = rotr64(high ^ low, high >> 58).
    """
    product_low = low * _MULT_LOW
    product_high = _mulhi64(low, _MULT_LOW) + high * _MULT_LOW + low * _MULT_HIGH
    new_low = product_low + inc_low
    carry = _U1 if new_low < product_low else _U0
    new_high = product_high + inc_high + carry
    x = new_high ^ new_low
    rot = new_high >> _U58
    return new_high, new_low, (x >> rot) | (x << ((_U64 - rot) & _U63))


@njit(**_JIT)
def next_uint64(s):
    """numpy's ``pcg64_next64`` (= ``random_raw()``), advancing the stream ``s``."""
    high, low, output = _pcg_step(s[STATE_HIGH], s[STATE_LOW], s[INC_HIGH], s[INC_LOW])
    s[STATE_HIGH] = high
    s[STATE_LOW] = low
    return output


@njit(**_JIT)
def _next32_words(high, low, inc_high, inc_low, has_uint32, uinteger):
    """numpy's ``pcg64_next32`` on the words of a state; returns (high, low, has_uint32,
    uinteger, the 32-bit draw as a uint64)."""
    if has_uint32 != _U0:
        return high, low, _U0, uinteger, uinteger
    high, low, draw = _pcg_step(high, low, inc_high, inc_low)
    return high, low, _U1, draw >> _U32, draw & _MASK32


@njit(**_JIT)
def next_uint32(s):
    """numpy's ``pcg64_next32``: the low half of a 64-bit draw, its high half buffered
    for the next call."""
    if s[HAS_UINT32] != _U0:
        s[HAS_UINT32] = _U0
        return np.uint32(s[UINTEGER])
    draw = next_uint64(s)
    s[HAS_UINT32] = _U1
    s[UINTEGER] = draw >> _U32
    return np.uint32(draw & _MASK32)


@njit(**_JIT)
def random(s):
    """numpy's ``Generator.random()``: (next_uint64 >> 11) * 2**-53, in [0, 1)."""
    return np.float64(next_uint64(s) >> _U11) * _TWO_M53


@njit(**_JIT)
def fill_random(s, out):
    """numpy's ``rng.random(len(out))`` written into ``out``."""
    for i in range(len(out)):
        out[i] = random(s)


@njit(**_JIT)
def uniform(s, low, high):
    """numpy's ``Generator.uniform(low, high)``: low + (high - low) * random."""
    return low + (high - low) * random(s)


# ------------------------------------------------------------------------ integers
# integers and standard_normal step the state's words in local variables and store them
# once: numba reference-counts the state array around the inlined calls that take it,
# and when the control flow is not simple enough for numba to prune those counts, each
# draw pays two atomic updates (measured: 10-20 ns a draw instead of 1-3 ns).
@njit(**_JIT)
def _lemire32_rest(high, low, inc_high, inc_low, has_uint32, uinteger, rng, m):
    """The rest of numpy's ``buffered_bounded_lemire_uint32`` when the first product's
    low half is below rng + 1: reject below the threshold and draw again. Returns the
    words and the accepted product."""
    rng_excl = rng + _U1
    threshold = (_MASK32 - rng) % rng_excl
    while (m & _MASK32) < threshold:
        high, low, has_uint32, uinteger, draw = _next32_words(
            high, low, inc_high, inc_low, has_uint32, uinteger
        )
        m = draw * rng_excl
    return high, low, has_uint32, uinteger, m


@njit(**_JIT)
def _lemire64_rest(high, low, inc_high, inc_low, rng, x):
    """The rest of numpy's ``bounded_lemire_uint64`` when the first product's low half is
    below rng + 1: reject below the threshold and draw again. Returns the words and the
    accepted draw."""
    rng_excl = rng + _U1
    threshold = (_MAX64 - rng) % rng_excl
    while x * rng_excl < threshold:
        high, low, x = _pcg_step(high, low, inc_high, inc_low)
    return high, low, x


@njit(**_JIT)
def integers(s, low, high):
    """numpy's ``Generator.integers(low, high)`` (int64, endpoint=False): one int in
    [low, high), by numpy's ``random_bounded_uint64`` with Lemire's method (a 32-bit
    draw when high - 1 - low < 2**32, else a 64-bit draw and its 128-bit product)."""
    if high <= low:
        raise ValueError("low >= high")
    off = np.uint64(low)
    rng = np.uint64(high) - off - _U1  # high - 1 - low, exact in uint64
    if rng == _U0:
        return np.int64(low)
    rng_excl = rng + _U1
    w_high, w_low, inc_high, inc_low = s[STATE_HIGH], s[STATE_LOW], s[INC_HIGH], s[INC_LOW]
    has_uint32, uinteger = s[HAS_UINT32], s[UINTEGER]
    if rng < _MASK32:  # buffered_bounded_lemire_uint32
        w_high, w_low, has_uint32, uinteger, draw = _next32_words(
            w_high, w_low, inc_high, inc_low, has_uint32, uinteger
        )
        m = draw * rng_excl
        if (m & _MASK32) < rng_excl:
            w_high, w_low, has_uint32, uinteger, m = _lemire32_rest(
                w_high, w_low, inc_high, inc_low, has_uint32, uinteger, rng, m
            )
        value = m >> _U32
    elif rng == _MASK32:  # the 32-bit Lemire method cannot take rng = 2**32 - 1
        w_high, w_low, has_uint32, uinteger, value = _next32_words(
            w_high, w_low, inc_high, inc_low, has_uint32, uinteger
        )
    else:  # bounded_lemire_uint64 (rng < 2**64 - 1 for int64 bounds)
        w_high, w_low, x = _pcg_step(w_high, w_low, inc_high, inc_low)
        if x * rng_excl < rng_excl:
            w_high, w_low, x = _lemire64_rest(w_high, w_low, inc_high, inc_low, rng, x)
        value = _mulhi64(x, rng_excl)
    s[STATE_HIGH] = w_high
    s[STATE_LOW] = w_low
    s[HAS_UINT32] = has_uint32
    s[UINTEGER] = uinteger
    return np.int64(off + value)


# -------------------------------------------------------------------- distributions
@njit(**_JIT)
def standard_normal(s):
    """numpy's ``Generator.standard_normal()``: the 256-layer ziggurat
    (``random_standard_normal``).

    On the state's words in local variables, as :func:`integers` (the same draws as
    through :func:`next_uint64` and :func:`random`)."""
    high, low = s[STATE_HIGH], s[STATE_LOW]
    inc_high, inc_low = s[INC_HIGH], s[INC_LOW]
    while True:
        high, low, r = _pcg_step(high, low, inc_high, inc_low)
        idx = np.int64(r & _U255)
        r >>= _U8
        rabs = (r >> _U1) & _MASK52
        x = np.float64(rabs) * WI_DOUBLE[idx]
        if r & _U1:
            x = -x
        if rabs < KI_DOUBLE[idx]:
            break  # 99.3% of draws
        if idx == 0:
            while True:  # the tail, 1 - U to avoid log(0) as numpy
                high, low, u = _pcg_step(high, low, inc_high, inc_low)
                xx = -ZIGGURAT_NOR_INV_R * np.log1p(-(np.float64(u >> _U11) * _TWO_M53))
                high, low, u = _pcg_step(high, low, inc_high, inc_low)
                yy = -np.log1p(-(np.float64(u >> _U11) * _TWO_M53))
                if yy + yy > xx * xx:
                    x = -(ZIGGURAT_NOR_R + xx) if (rabs >> _U8) & _U1 else ZIGGURAT_NOR_R + xx
                    break
            break
        high, low, u = _pcg_step(high, low, inc_high, inc_low)
        f = (FI_DOUBLE[idx - 1] - FI_DOUBLE[idx]) * (np.float64(u >> _U11) * _TWO_M53)
        if f + FI_DOUBLE[idx] < np.exp(-0.5 * x * x):
            break
    s[STATE_HIGH] = high
    s[STATE_LOW] = low
    return x


@njit(**_JIT)
def _loggam(x):
    """numpy's ``random_loggam``: log(Gamma(x)) for x > 0."""
    if x == 1.0 or x == 2.0:
        return 0.0
    n = np.int64(7 - x) if x < 7.0 else np.int64(0)
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = _LOGGAM_A[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += _LOGGAM_A[k]
    gl = gl0 / x0 + 0.5 * _LOG_2PI + (x0 - 0.5) * np.log(x0) - x0
    if x < 7.0:
        for _ in range(n):
            gl -= np.log(x0 - 1.0)
            x0 -= 1.0
    return gl


@njit(**_JIT)
def _double(high, low, inc_high, inc_low):
    """numpy's ``next_double`` on the words of a state: (high, low, the double)."""
    high, low, draw = _pcg_step(high, low, inc_high, inc_low)
    return high, low, np.float64(draw >> _U11) * _TWO_M53


@njit(**_JIT)
def _poisson_mult(high, low, inc_high, inc_low, lam):
    """numpy's ``random_poisson_mult`` (lam < 10): multiply uniforms until below e**-lam.
    On the state's words; returns (high, low, k)."""
    enlam = np.exp(-lam)
    k = np.int64(0)
    prod = 1.0
    while True:
        high, low, u = _double(high, low, inc_high, inc_low)
        prod *= u
        if prod > enlam:
            k += 1
        else:
            return high, low, k


@njit(**_JIT)
def _poisson_ptrs(high, low, inc_high, inc_low, lam):
    """numpy's ``random_poisson_ptrs`` (lam >= 10): Hoermann's transformed rejection.
    On the state's words; returns (high, low, k)."""
    slam = np.sqrt(lam)
    loglam = np.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        high, low, u = _double(high, low, inc_high, inc_low)
        u -= 0.5
        high, low, v = _double(high, low, inc_high, inc_low)
        us = 0.5 - np.fabs(u)
        # numpy floors (numba's own port truncates: they differ when this is in (-1, 0))
        k = np.int64(np.floor((2 * a / us + b) * u + lam + 0.43))
        if us >= 0.07 and v <= vr:
            return high, low, k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (np.log(v) + np.log(invalpha) - np.log(a / (us * us) + b)) <= (
            -lam + k * loglam - _loggam(k + 1.0)
        ):
            return high, low, k


@njit(**_JIT)
def poisson(s, lam):
    """numpy's ``Generator.poisson(lam)`` (``random_poisson``), an int64."""
    if not lam >= 0.0:  # also NaN
        raise ValueError("lam < 0 or lam is NaN")
    if lam > _POISSON_LAM_MAX:
        raise ValueError("lam value too large")
    if lam == 0.0:
        return np.int64(0)
    high, low, inc_high, inc_low = s[STATE_HIGH], s[STATE_LOW], s[INC_HIGH], s[INC_LOW]
    if lam >= 10.0:
        high, low, k = _poisson_ptrs(high, low, inc_high, inc_low, lam)
    else:
        high, low, k = _poisson_mult(high, low, inc_high, inc_low, lam)
    s[STATE_HIGH] = high
    s[STATE_LOW] = low
    return k


# -------------------------------------------------------------------- Python side
_WORD = (1 << 64) - 1


def _pcg64_state(source: np.random.Generator | np.random.BitGenerator) -> dict[str, Any]:
    """The documented ``bit_generator.state`` dict of ``source``, refused unless PCG64."""
    bit_generator = source.bit_generator if isinstance(source, np.random.Generator) else source
    state = bit_generator.state
    if state.get("bit_generator") != "PCG64":
        raise TypeError(
            "kctsim streams are numpy PCG64 streams (np.random.default_rng); got a "
            f"{state.get('bit_generator', type(bit_generator).__name__)} bit generator"
        )
    return state


def _check_words(s: np.ndarray) -> None:
    if not isinstance(s, np.ndarray) or s.dtype != np.uint64 or s.shape != (N_WORDS,):
        raise TypeError(f"a stream is a 1-D np.uint64 array of {N_WORDS} words (new_stream)")


def _write(s: np.ndarray, state: dict[str, Any]) -> None:
    pcg = state["state"]
    s[STATE_HIGH] = pcg["state"] >> 64
    s[STATE_LOW] = pcg["state"] & _WORD
    s[INC_HIGH] = pcg["inc"] >> 64
    s[INC_LOW] = pcg["inc"] & _WORD
    s[HAS_UINT32] = int(state["has_uint32"])
    s[UINTEGER] = int(state["uinteger"])


StreamSource = int | np.random.SeedSequence | np.random.Generator | np.random.BitGenerator | None
"""What :func:`new_stream` takes."""


def new_stream(seed: StreamSource = None) -> np.ndarray:
    """A stream's state array: numpy's ``default_rng(seed)`` stream for an int, a
    SeedSequence or None (fresh entropy), or a copy of a PCG64 Generator's (or bit
    generator's) current state, which the Generator itself keeps (it is not shared)."""
    if isinstance(seed, np.random.Generator | np.random.BitGenerator):
        state = _pcg64_state(seed)
    else:
        state = np.random.PCG64(seed).state
    s = np.zeros(N_WORDS, dtype=np.uint64)
    _write(s, state)
    return s


def state_dict(s: np.ndarray) -> dict[str, Any]:
    """The stream's state as numpy's documented PCG64 ``bit_generator.state`` dict."""
    _check_words(s)
    return {
        "bit_generator": "PCG64",
        "state": {
            "state": (int(s[STATE_HIGH]) << 64) | int(s[STATE_LOW]),
            "inc": (int(s[INC_HIGH]) << 64) | int(s[INC_LOW]),
        },
        "has_uint32": int(s[HAS_UINT32]),
        "uinteger": int(s[UINTEGER]),
    }


def to_generator(s: np.ndarray) -> np.random.Generator:
    """A new numpy ``Generator(PCG64)`` at the stream's current state (a copy: drawing
    from it does not advance ``s``; see :func:`as_numpy`)."""
    # Seeded with 0 only to skip gathering entropy; the state is set at once.
    generator = np.random.Generator(np.random.PCG64(0))
    generator.bit_generator.state = state_dict(s)
    return generator


def load_from_generator(s: np.ndarray, generator: np.random.Generator) -> None:
    """Write a PCG64 Generator's current state into the stream ``s`` in place."""
    _check_words(s)
    _write(s, _pcg64_state(generator))


@contextmanager
def as_numpy(s: np.ndarray) -> Iterator[np.random.Generator]:
    """A numpy Generator at the stream's state; on exit (also on an exception) the
    state it advanced to is written back into ``s``, so numpy calls such as
    ``rng.choice(...)`` and kernel draws share one stream::

        with as_numpy(s) as rng:
            picks = rng.choice(nodes, k)
    """
    generator = to_generator(s)
    try:
        yield generator
    finally:
        load_from_generator(s, generator)
