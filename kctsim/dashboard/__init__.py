"""The interactive dashboard (Solara, on Mesa's SolaraViz controller).

Start it with ``kctsim dashboard``; the app itself is :mod:`kctsim.dashboard.app`
(``solara run kctsim.dashboard.app``). Pages: Explore (one live run),
Compare (regimes side by side, in the background), Results (stored sweeps and
propositions). Modules: ``settings`` and ``controls`` (what the user sets),
``series``, ``plots`` and ``panels`` (what is drawn), ``explain`` (the paper's
words), ``compare`` and ``compare_page`` (background replicates),
``results_browser`` and ``results_page``, ``state`` (per-tab state), ``server``.
"""
