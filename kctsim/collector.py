"""Mesa's DataCollector for kctsim's per-tick metrics, fed a row per tick.

:func:`kctsim.metrics.measure` writes a tick's metrics into two arrays, the float
metrics and the integer ones. Mesa's own ``collect`` would call some sixty reporters
one by one and deep-copy each value; this subclass keeps the tick's two rows as Python
numbers instead (what ``read_row`` returns) and moves them into
Mesa's ``model_vars`` lists, column by column, when those are read, so
``get_model_vars_dataframe`` and the rest of Mesa's API work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from mesa.datacollection import DataCollector

Row = tuple[Sequence[Any], ...]


class MetricsCollector(DataCollector):
    """A DataCollector of metrics that arrive as rows.

    Args:
        model_reporters: column -> reporter of the metric (what Mesa's own collect
            would call; :func:`kctsim.metrics.model_reporters`).
        slots: column -> (which row, index in it), for every column.
        read_row: the model's current rows (e.g. a float row and an integer row).
    """

    def __init__(
        self,
        model_reporters: dict[str, Any],
        slots: dict[str, tuple[int, int]],
        read_row: Callable[[Any], Row],
    ) -> None:
        if not model_reporters:
            raise ValueError("MetricsCollector: no reporters")
        if list(slots) != list(model_reporters):
            raise ValueError("MetricsCollector: one slot per reporter, in the reporters' order")
        self._rows: list[Row] = []  # ticks read since model_vars was last looked at
        super().__init__(model_reporters=model_reporters)
        self._slots = tuple(slots.values())
        self._read = read_row

    @property
    def model_vars(self) -> dict[str, list]:
        """Mesa's columns (a list per reporter); a tick is kept as rows until they are
        looked at, which saves some sixty list appends a tick in a batch run."""
        if self._rows:
            by_row = [list(zip(*parts, strict=True)) for parts in zip(*self._rows, strict=True)]
            for column, (row, index) in zip(self._model_vars.values(), self._slots, strict=True):
                column.extend(by_row[row][index])
            self._rows.clear()
        return self._model_vars

    @model_vars.setter
    def model_vars(self, columns: dict[str, list]) -> None:
        self._rows.clear()
        self._model_vars = columns

    def collect(self, model: Any) -> None:
        self._validated = True  # the rows hold every reporter's value by construction
        self._collection_steps.append(model.time)
        self._rows.append(self._read(model))

    def arrays(self) -> dict[str, np.ndarray] | None:
        """Each model variable's values as a numpy array (the dtype pandas would infer
        from the list, in a fraction of the time); None unless every column holds numbers."""
        columns = self.model_vars
        if not all(columns.values()) or not all(
            isinstance(v[0], int | float | np.number) for v in columns.values()
        ):
            return None
        return {name: np.asarray(values) for name, values in columns.items()}

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """Mesa's table of the model variables (built from :meth:`arrays`)."""
        arrays = self.arrays()
        if arrays is None:
            return super().get_model_vars_dataframe()
        return pd.DataFrame(arrays)
