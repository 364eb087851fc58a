"""Mesa's DataCollector for kctsim's per-tick metrics, without per-value deep copies.

Every kctsim reporter names a model attribute that :func:`kctsim.metrics.measure`
sets to a Python scalar each tick. Scalars are immutable, so the ``deepcopy``
Mesa's ``collect`` makes of each value protects nothing, yet it was most of
``collect``'s time (about 40 us a tick of a ~150 us budget). This subclass reads
all the attributes with one ``attrgetter`` call and appends them to Mesa's own
``model_vars`` lists, so ``get_model_vars_dataframe`` and the rest of Mesa's API
work unchanged.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd
from mesa.datacollection import DataCollector


class MetricsCollector(DataCollector):
    """A DataCollector of model attributes that hold scalars (``{column: attribute}``)."""

    def __init__(self, model_reporters: dict[str, str]) -> None:
        if not model_reporters or not all(isinstance(r, str) for r in model_reporters.values()):
            raise TypeError("MetricsCollector: every reporter must be a model attribute name")
        super().__init__(model_reporters=model_reporters)
        names = tuple(model_reporters.values())
        # A trailing repeat makes attrgetter return a tuple even for one name; zip
        # stops at the last column.
        self._read = attrgetter(*names, names[0])
        self._columns = list(self.model_vars.values())

    def collect(self, model: Any) -> None:
        if not self._validated:  # Mesa checks every attribute exists the first time
            super().collect(model)
            return
        self._collection_steps.append(model.time)
        for column, value in zip(self._columns, self._read(model), strict=False):
            column.append(value)

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
