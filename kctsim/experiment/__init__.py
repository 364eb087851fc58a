"""The experiment layer: scenario files, sweeps over executors, crash-safe storage.

Data flows one way (STYLE.md): a scenario file (TOML) is validated into a
:class:`~kctsim.experiment.scenario.Scenario`, expanded into
:class:`~kctsim.experiment.spec.RunSpec` s, executed by
:mod:`~kctsim.experiment.runner` on any ``concurrent.futures.Executor``, and
streamed to disk by :mod:`~kctsim.experiment.store`.
"""
