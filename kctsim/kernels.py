"""Compiled building blocks shared by the mechanisms' numba kernels.

The default population is about 60 organisations, so a tick's numpy calls
spent most of their time in call overhead, not arithmetic; the mechanisms
therefore run as ``numba`` kernels over the model's columns. The helpers here
keep the kernels' arithmetic identical to numpy's: :func:`total` sums in
numpy's pairwise order, so a compiled rule gives the same bits as the numpy
expression it replaces, and :func:`put` appends a transfer to the ledger's buffer.
Random draws inside kernels come from :mod:`kctsim.streams`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kctsim.jit import JIT

__all__ = ["JIT", "put", "total"]


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
