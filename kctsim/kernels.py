"""Compiled building blocks shared by the mechanisms' numba kernels.

The default population is about 60 organisations, so a tick's numpy calls
spent most of their time in call overhead, not arithmetic; the mechanisms
therefore run as ``numba`` kernels over the model's columns. The helpers here
keep the kernels' arithmetic identical to numpy's: :func:`total` sums in
numpy's pairwise order, so a compiled rule gives the same bits as the numpy
expression it replaces (and the published verdicts and calibration stay
reproducible), and :func:`put` appends a transfer to the ledger's buffer.

Random draws inside kernels come from the run's own ``numpy.random.Generator``:
a kernel takes :func:`rng_address` of it and calls :func:`generator` on that,
and numba then draws from the same bit generator, so a kernel's ``rng.random()``
continues numpy's stream exactly (``rng.random(n)`` is n such draws).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.caching import CacheImpl, InTreeCacheLocator, UserProvidedCacheLocator
from numba.extending import intrinsic

JIT = {"cache": True, "nogil": True}
"""Options of every kctsim kernel: compiled once per machine and cached on disk."""

# --------------------------------------------------------------- numba's disk cache
# numba stamps a cached kernel with its own source file only, but a kctsim kernel
# compiles in helpers from other modules (this one, hazard's, ...): after a change
# to a helper alone, the cache would go on serving the old code. kctsim's kernels
# are therefore stamped with a digest of every kctsim module that defines one.

_PACKAGE = Path(__file__).resolve().parent


@cache
def kernel_sources_digest() -> str:
    """SHA-256 of the source of every kctsim module that defines a kernel."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        text = path.read_bytes()
        if b"@njit" in text or b"@intrinsic" in text:
            digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + text)
    return digest.hexdigest()


class _PackageStamp:
    """Locator mix-in: only for kctsim's files, stamped with the kernel sources' digest."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(_PACKAGE):
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return kernel_sources_digest()


class _UserDirLocator(_PackageStamp, UserProvidedCacheLocator):
    """NUMBA_CACHE_DIR when the user sets one."""


class _InTreeLocator(_PackageStamp, InTreeCacheLocator):
    """Otherwise ``__pycache__`` beside the source, as numba does by default."""


if _UserDirLocator not in CacheImpl._locator_classes:
    CacheImpl._locator_classes[:0] = [_UserDirLocator, _InTreeLocator]

# ------------------------------------------------------- random draws in kernels
# A numpy Generator passed to a kernel costs 15-30 us per call to unbox (numba
# looks up and casts the bit generator's function pointers with ctypes), more than
# a whole mechanism's work. Kernels get the address of its C ``bitgen_t`` instead
# and rebuild numba's Generator from it: the same bit generator, so the same stream.
# tests/test_kernels.py checks this against numpy on the installed numba.


def rng_address(rng: np.random.Generator) -> int:
    """Address of ``rng``'s C ``bitgen_t`` (read afresh each call: a pickled copy moves)."""
    return rng.bit_generator.ctypes.bit_generator.value


def cached_address(cache: dict, name: str, rng: np.random.Generator) -> int:
    """:func:`rng_address` of the PCG64 Generator ``rng``, kept in ``cache[name]`` with the
    Generator it belongs to: read through ctypes it costs about a microsecond, and the
    kernels need it some ten times a tick. A replaced Generator is read afresh; the
    owner drops ``cache`` when pickled (a copy's Generator lives elsewhere)."""
    cached = cache.get(name)
    if cached is None or cached[0] is not rng:
        if not isinstance(rng.bit_generator, np.random.PCG64):  # for next_double
            raise TypeError(f"{name}: kctsim's kernels draw from PCG64 generators only")
        check_next_double()
        cached = cache[name] = (rng, rng_address(rng))
    return cached[1]


@intrinsic
def generator(typingctx, address):
    """numba's Generator over the bit generator whose ``bitgen_t`` is at ``address``.

    ``bitgen_t`` is {state, next_uint64, next_uint32, next_double, next_raw}; the
    Python object is not referenced (no parent, no meminfo), so the caller keeps the
    numpy Generator alive and never returns this one to Python.
    """
    rng_type = types.NumPyRandomGeneratorType("rng")

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        table = builder.inttoptr(args[0], i64.as_pointer())
        state, next_u64, next_u32, next_double = (
            builder.load(builder.gep(table, [ir.Constant(i64, k)])) for k in range(4)
        )
        bitgen = cgutils.create_struct_proxy(types.NumPyRandomBitGeneratorType("bit_generator"))(
            context, builder
        )
        bitgen.parent = cgutils.get_null_value(bitgen.parent.type)
        bitgen.state_address = state
        bitgen.state = state
        bitgen.fnptr_next_uint64 = next_u64
        bitgen.fnptr_next_uint32 = next_u32
        bitgen.fnptr_next_double = next_double
        bitgen.bit_generator = args[0]
        rng = cgutils.create_struct_proxy(rng_type)(context, builder)
        rng.bit_generator = bitgen._getvalue()
        rng.meminfo = cgutils.get_null_value(rng.meminfo.type)
        rng.parent = cgutils.get_null_value(rng.parent.type)
        return rng._getvalue()

    return rng_type(types.int64), codegen


# numba's Generator draws each double through the bit generator's function pointer;
# the hazard alone draws thousands a tick. PCG64 (every kctsim stream: default_rng) is
# a 128-bit LCG with the XSL-RR output, a few instructions inline (6,700 draws in a
# loop: 17 us inline against 121 us; in a tick before the breakthrough, about 6 us).
_PCG64_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341


@intrinsic
def next_double(typingctx, address):
    """numpy's ``random()`` from the PCG64 bit generator whose ``bitgen_t`` is at
    ``address``, computed inline: the state advances in memory, so numpy's and numba's
    own draws go on from it. Only for PCG64 (see :func:`check_next_double`).

    numpy's ``pcg64_next_double``: state = state * multiplier + increment (mod 2^128),
    output = rotr64(high ^ low, state >> 122), double = (output >> 11) * 2^-53, where
    ``bitgen_t.state`` points to {pcg64_random_t *pcg_state, ...} and pcg64_random_t
    is {state, increment} as 128-bit integers.
    """

    def codegen(context, builder, signature, args):
        i64, i128 = ir.IntType(64), ir.IntType(128)
        table = builder.inttoptr(args[0], i64.as_pointer().as_pointer())
        pcg = builder.load(builder.bitcast(builder.load(table), i64.as_pointer().as_pointer()))
        words = builder.bitcast(pcg, i128.as_pointer())
        state = builder.load(words, align=8)
        increment = builder.load(builder.gep(words, [ir.Constant(i64, 1)]), align=8)
        state = builder.add(builder.mul(state, ir.Constant(i128, _PCG64_MULTIPLIER)), increment)
        builder.store(state, words, align=8)
        high = builder.trunc(builder.lshr(state, ir.Constant(i128, 64)), i64)
        x = builder.xor(high, builder.trunc(state, i64))
        rot = builder.trunc(builder.lshr(state, ir.Constant(i128, 122)), i64)
        left = builder.shl(x, builder.and_(builder.neg(rot), ir.Constant(i64, 63)))
        output = builder.or_(builder.lshr(x, rot), left)
        double = builder.uitofp(builder.lshr(output, ir.Constant(i64, 11)), ir.DoubleType())
        return builder.fmul(double, ir.Constant(ir.DoubleType(), 1.0 / 9007199254740992.0))

    return types.float64(types.int64), codegen


@njit(**JIT)
def _next_doubles(address, out):
    for i in range(len(out)):
        out[i] = next_double(address)


@cache
def check_next_double() -> None:
    """Fail loudly, once per process, unless :func:`next_double` gives numpy's PCG64
    draws here (it reads numpy's internal state layout)."""
    ours, theirs = np.random.default_rng(20261127), np.random.default_rng(20261127)
    got = np.empty(64)
    _next_doubles(rng_address(ours), got)
    if not (np.array_equal(got, theirs.random(64)) and ours.random() == theirs.random()):
        raise RuntimeError(
            "kctsim's compiled draws do not match numpy's PCG64 on this numpy "
            f"{np.__version__}; the model cannot run reproducibly here"
        )


@njit(**JIT)
def _block_sum(a, lo, n):
    """numpy's pairwise sum of a block of <= 128 values (eight accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(**JIT)
def total(a):
    """``a.sum()`` of a 1-D float array, in numpy's pairwise order (the same bits).

    numpy halves arrays longer than 128 recursively; numba cannot load a cached
    self-recursive function in a later process ("Symbol not found:
    .numba.unresolved$..." or a segfault), so the halving runs on an explicit stack.
    """
    n = len(a)
    if n <= 128:
        return _block_sum(a, 0, n)
    lo = np.empty(64, np.int64)
    size = np.empty(64, np.int64)
    right = np.empty(64, np.bool_)
    left_sum = np.empty(64)
    d = 0
    lo[0], size[0], right[0] = 0, n, False
    while True:
        while size[d] > 128:  # descend to the leftmost block, as the recursion does
            half = size[d] // 2
            half -= half % 8
            lo[d + 1], size[d + 1], right[d + 1] = lo[d], half, False
            d += 1
        value = _block_sum(a, lo[d], size[d])
        while d > 0 and right[d]:  # a right half is done: its parent is left + right
            d -= 1
            value = left_sum[d] + value
        if d == 0:
            return value
        left_sum[d - 1] = value  # a left half is done: go on with its sibling
        lo[d], size[d], right[d] = lo[d] + size[d], size[d - 1] - size[d], True


@njit(**JIT)
def put(
    ints: np.ndarray,
    amounts: np.ndarray,
    pos: int,
    tick: int,
    kind: int,
    from_type: int,
    from_id: int,
    to_type: int,
    to_id: int,
    stage: int,
    amount: float,
) -> int:
    """Append one transfer to a :class:`~kctsim.ledger.Ledger` buffer; return the new length.

    Zero amounts are not transfers and are skipped; the caller reserves room
    first (``Ledger.reserve``). A negative amount is an error: reverse the parties.
    """
    if amount == 0.0:
        return pos
    if amount < 0.0:
        raise ValueError("negative transfer: reverse the parties instead")
    row = ints[pos]
    row[0] = tick
    row[1] = kind
    row[2] = from_type
    row[3] = from_id
    row[4] = to_type
    row[5] = to_id
    row[6] = stage
    amounts[pos] = amount
    return pos + 1
