"""TEMPORARY shim (replaced by the streams module): draws through numba's Generator."""

from numba import njit

from kctsim.kernels import JIT, generator, next_double


@njit(**JIT)
def random(s):
    return next_double(s)


@njit(**JIT)
def standard_normal(s):
    return generator(s).standard_normal()


@njit(**JIT)
def integers(s, low, high):
    return generator(s).integers(low, high)


@njit(**JIT)
def poisson(s, lam):
    return generator(s).poisson(lam)


@njit(**JIT)
def uniform(s, low, high):
    return generator(s).uniform(low, high)


@njit(**JIT)
def fill_random(s, out):
    for i in range(len(out)):
        out[i] = next_double(s)


_REGISTRY = {}


def new_stream(seq):
    import numpy as np

    if isinstance(seq, np.random.Generator):
        return register(np.random.Generator(np.random.PCG64()) if False else seq)
    return register(np.random.default_rng(seq))


def register(gen):
    from kctsim.kernels import rng_address

    a = rng_address(gen)
    _REGISTRY[a] = gen
    return a


from contextlib import contextmanager  # noqa: E402


@contextmanager
def as_numpy(s):
    yield _REGISTRY[s]
