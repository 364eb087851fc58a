"""Preloaded by the process pool's fork server and by Dask workers: the model's
kernels, loaded once.

Importing this module compiles the mechanisms' numba kernels, or loads them from
numba's disk cache. The fork server does it once; every worker forked from it
starts with the kernels in memory (shared pages, no load time of its own), and
the main process of a sweep, which only stores results, never loads them. A Dask
worker imports it as it starts (``--preload kctsim.experiment.warm``).
"""

from kctsim.model import compile_kernels

compile_kernels()
