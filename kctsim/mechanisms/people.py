"""Step 5 (people): scientists raise their team's capability, move, found start-ups.

A scientist's expertise adds to its employer's R&D efficiency and absorptive
capacity. Under people-orientation a scientist looks, with probability
scientist_mobility x people_orientation per tick, at a random team (possibly
its own) and moves if that team's design is better (more promising); after a discovery (a
new best design of the system on a stage) one of the discovering team's
scientists founds a start-up with probability startup_rate x
people_orientation, taking the design along (MODEL.md sections 4 and 5).
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from kctsim.kernels import JIT, put
from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE

_GENERATOR = types.NumPyRandomGeneratorType("generator")
_BIT_GENERATOR = types.NumPyRandomBitGeneratorType("bit_generator")
_SEED_CAPITAL = KIND_CODE["seed_capital"]
_MARKET = TYPE_CODE["market"]
_BLOCK = 128  # numpy's PW_BLOCKSIZE


# Helpers for any kernel that draws from a Generator or sums like numpy; people and
# demography use them, metrics uses the sum. They are general and could live in
# kctsim.kernels.


class _RngHandles(dict):
    """id(rng) -> (rng, addresses). Addresses belong to this process: a pickled or
    copied model starts with an empty cache."""

    def __reduce__(self):
        return (_RngHandles, ())


def rng_handle(model, rng: np.random.Generator) -> np.ndarray:
    """The addresses a kernel needs to draw from ``rng`` (see :func:`rng_from_handle`).

    Passing a ``numpy.random.Generator`` to a numba kernel costs ~10-15 us a call
    (numba types and unboxes it through ctypes every time); an array of six
    addresses costs what any array argument does. Cached on the model per Generator
    object (Mesa's ``reset_rng`` makes a new one); the cache holds the Generator, so
    its addresses stay valid.
    """
    cache = model.__dict__.get("_rng_handles")
    if cache is None:
        cache = model._rng_handles = _RngHandles()
    hit = cache.get(id(rng))
    if hit is not None and hit[0] is rng:
        return hit[1]
    c = rng.bit_generator.ctypes
    functions = (c.next_uint64, c.next_uint32, c.next_double)
    handle = np.array(
        [
            c.state_address,
            c.state.value,
            *(ctypes.cast(f, ctypes.c_void_p).value for f in functions),
            c.bit_generator.value,
        ],
        dtype=np.uint64,
    )
    cache[id(rng)] = (rng, handle)
    return handle


@intrinsic
def rng_from_handle(typingctx, handle):
    """Inside a kernel: the Generator whose addresses :func:`rng_handle` took."""
    if not (isinstance(handle, types.Array) and handle.ndim == 1 and handle.dtype == types.uint64):
        return None

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data

        def field(i):
            return builder.load(builder.gep(data, [context.get_constant(types.intp, i)]))

        bits = cgutils.create_struct_proxy(_BIT_GENERATOR)(context, builder)
        bits.state_address = field(0)
        bits.state = field(1)
        bits.fnptr_next_uint64 = field(2)
        bits.fnptr_next_uint32 = field(3)
        bits.fnptr_next_double = field(4)
        bits.bit_generator = field(5)
        gen = cgutils.create_struct_proxy(_GENERATOR)(context, builder)
        gen.bit_generator = bits._getvalue()  # no parent or meminfo: nothing to keep alive
        return gen._getvalue()

    return _GENERATOR(handle), codegen


@njit(**JIT)
def _block_sum(a, lo, n):
    """numpy's pairwise-sum leaf (n <= 128): 8 accumulators, as ``kernels._pairwise``."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
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
def pairwise_sum(a):
    """``a.sum()`` of a 1-D float array in numpy's pairwise order, like ``kernels.total``,
    but without recursion: numba's on-disk cache cannot load recursive functions
    (``kernels.total`` segfaults when it comes from the cache)."""
    n = len(a)
    if n <= _BLOCK:
        return _block_sum(a, 0, n)
    # numpy's split tree (halves rounded down to a multiple of 8), walked depth first
    # with explicit stacks; a left half's sum waits in ``left`` for its right half.
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    right_next = np.zeros(64, dtype=np.bool_)
    left = np.empty(64)
    d = 0
    los[0], ns[0] = 0, n
    while True:
        while ns[d] > _BLOCK:  # down to the leftmost leaf
            half = ns[d] // 2
            half -= half % 8
            right_next[d] = True
            los[d + 1], ns[d + 1] = los[d], half
            d += 1
        res = _block_sum(a, los[d], ns[d])
        while True:  # up until a right half is still to do
            d -= 1
            if d < 0:
                return res
            if right_next[d]:
                half = ns[d] // 2
                half -= half % 8
                left[d] = res
                right_next[d] = False
                los[d + 1], ns[d + 1] = los[d] + half, ns[d] - half
                d += 1
                break
            res = left[d] + res


def employable_rows(model) -> np.ndarray:
    """Organisations that can employ scientists (all alive but the government)."""
    return model.census().orgs


def refresh_expertise(model) -> None:
    """Each organisation's expertise: the sum of its scientists' expertise."""
    o, sc = model.orgs, model.scientists
    _expertise_kernel(sc.employer, sc.expertise, sc.n, o.expertise, o.n)


@njit(**JIT)
def _expertise_kernel(employer, sc_expertise, n_sci, expertise, n_orgs):
    """``np.bincount(employer, weights=expertise)``: the same sequential sums."""
    expertise[:n_orgs] = 0.0
    for i in range(n_sci):
        expertise[employer[i]] += sc_expertise[i]


@njit(**JIT)
def _promise(eff, row):
    """A team's promise: its mean effective fitness over stages (numpy's row mean)."""
    return pairwise_sum(eff[row]) / eff.shape[1]


@njit(**JIT)
def _move_kernel(
    handle, employer, n_sci, hosts, p_look, eff, look, sc_expertise, expertise, n_orgs, refresh
):
    """Scientists look with p_look at a random host and move to a more promising one."""
    rng = rng_from_handle(handle)
    n_hosts = len(hosts)
    if n_sci and n_hosts:
        # The numpy rule drew all the looks, then all the targets.
        for i in range(n_sci):
            look[i] = rng.random() < p_look
        for i in range(n_sci):
            target = hosts[rng.integers(0, n_hosts)]
            if look[i] and _promise(eff, target) > _promise(eff, employer[i]):
                employer[i] = target
    if refresh:
        _expertise_kernel(employer, sc_expertise, n_sci, expertise, n_orgs)


def move_and_found(model) -> None:
    sc, o, lev, p, rng = model.scientists, model.orgs, model.levers, model.params, model.rng
    model.tick_startups = 0
    founding = bool(model.discoveries) and sc.n > 0
    look = model.__dict__.get("_look")
    if look is None or len(look) < sc.n:
        look = model._look = np.empty(sc.n, dtype=bool)
    _move_kernel(
        rng_handle(model, rng),
        sc.employer,
        sc.n,
        employable_rows(model),
        p.scientist_mobility * lev.people_orientation,
        model.effective_fitness,
        look,
        sc.expertise,
        o.expertise,
        o.n,
        not founding,
    )
    if not founding:
        return
    discoveries = np.unique(np.asarray(model.discoveries, dtype=np.int64))
    found = discoveries[rng.random(len(discoveries)) < p.startup_rate * lev.people_orientation]
    for row in found:
        staff = np.flatnonzero(sc.view("employer") == row)
        if len(staff) == 0:
            continue
        founder = staff[rng.integers(len(staff))]
        new = model.add_organisations("sme", 1, designs=o.design[row][None, :].copy())
        seed_capital(model, new)
        sc.employer[founder] = new[0]
        model.tick_startups += 1
    refresh_expertise(model)


@njit(**JIT)
def _seed_kernel(ints, amounts, pos, tick, rows, types_, uids, capital):
    """Ledger rows of the investors' seed capital, one per new firm."""
    for r in rows:
        pos = put(
            ints,
            amounts,
            pos,
            tick,
            _SEED_CAPITAL,
            _MARKET,
            NO_ID,
            types_[r],
            uids[r],
            -1,
            capital[r],
        )
    return pos


def seed_capital(model, rows: np.ndarray) -> None:
    """Investors (the market) put in the new firms' starting capital."""
    from kctsim.mechanisms import network, spillover  # imported late: no import cycle

    o, ledger = model.orgs, model.ledger
    ledger.reserve(len(rows))
    ledger.n = _seed_kernel(
        ledger.ints, ledger.amounts, ledger.n, model.tick, rows, o.type, o.uid, o.capital
    )
    spillover.join_consortium(model, rows)
    network.link_to_hubs(model, rows)
    model.tick_entries += len(rows)
