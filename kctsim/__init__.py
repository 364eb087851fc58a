"""kctsim: an agent-based (Mesa) model of key-core-technology breakthrough.

Quantifies the six propositions of a qualitative paper on the classification,
causes of absence and breakthrough modes of key core technologies in China's
manufacturing (see docs/ODD.md).
"""

from kctsim.jit import configure_cache

configure_cache()  # before numba is imported: kernels cached per user, keyed by the code

from kctsim.config import (  # noqa: E402
    ConfigError,
    Levers,
    TechnologyType,
    default_parameters,
    load_regime,
    load_technology,
    regime_names,
    technology_names,
)

__version__ = "0.1.0"  # before the imports below: the store records it

from kctsim.experiment.query import open_results  # noqa: E402
from kctsim.experiment.store import load_results  # noqa: E402
from kctsim.model import KCTModel  # noqa: E402

__all__ = [
    "ConfigError",
    "KCTModel",
    "Levers",
    "TechnologyType",
    "__version__",
    "default_parameters",
    "load_regime",
    "load_results",
    "load_technology",
    "open_results",
    "regime_names",
    "technology_names",
]
