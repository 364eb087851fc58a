"""The seven agent types of docs/ODD.md sections 2.2-2.4, as Mesa agents.

Each agent is a thin Mesa object over one row of the model's numpy state (see
:mod:`kctsim.population`), so ``model.agents`` and the AgentSet API work on
them (``model.agents_by_type[SME].get("capital")``) while the mechanisms run
on whole columns at once. What each type does, and in which mechanism module
the vectorised rule lives, is said in its class.
"""

from __future__ import annotations

import numpy as np
from mesa import Agent

from kctsim.config import AGENT_TYPES


class Organisation(Agent):
    """An innovating organisation: a design per stage, capital, R&D propensity r.

    Every tick (``kctsim.mechanisms``): receives government money
    (``funding``), earns base revenue, a premium for a better design and users'
    payments (``market``), learns its contribution r from a better-paid peer
    (``contribution``), spends on R&D and on success imitates the best design it
    can see or searches locally / jumps (``rnd``), shares or leaks what it found
    (``spillover``), builds trust and links (``network``) and exits when its
    capital is gone unless rescued (``demography``).
    """

    type_name: str = ""

    def __init__(self, model, row: int) -> None:
        super().__init__(model)
        self.row = row

    # Views onto the model's state; AgentSet.get("capital") and friends use these.
    @property
    def capital(self) -> float:
        return float(self.model.orgs.capital[self.row])

    @property
    def contribution(self) -> float:
        """R&D propensity r: the share of capital put into R&D this tick."""
        return float(self.model.orgs.r[self.row])

    @property
    def design(self) -> tuple[int, ...]:
        """The design held on each stage (an N-bit integer per stage)."""
        return tuple(int(d) for d in self.model.orgs.design[self.row])

    @property
    def fitness(self) -> float:
        """Effective fitness of the design on the last stage (the product)."""
        return float(self.model.effective_fitness[self.row, -1])

    @property
    def alive(self) -> bool:
        return bool(self.model.orgs.alive[self.row])

    @property
    def consortium_member(self) -> bool:
        return bool(self.model.orgs.member[self.row])


class LeaderFirm(Organisation):
    """Leader firm: large capital and base revenue, market access; can host a
    consortium. The core subject of Spiral Progressive, a competitor in the jungle."""

    type_name = "leader_firm"


class SME(Organisation):
    """Small or medium enterprise: small capital, exits when its capital is gone
    unless rescued; start-ups enter as SMEs."""

    type_name = "sme"


class StateOrg(Organisation):
    """State-managed organisation (国管组织: SOEs, national institutes): large
    capital and a soft budget (the government tops it up); the core subject of
    Main Layout."""

    type_name = "state_org"


class University(Organisation):
    """University or research institute: funded by block grants, explores more,
    and publishes: its results enter the public pool anyone may imitate."""

    type_name = "university"


class Government(Organisation):
    """The government: one agent. Each tick it spends its budget by the regime's
    levers (``funding``), runs platforms that raise link formation
    (``network``), rescues failing agents with probability = risk tolerance and
    tops up soft budgets (``demography``), and sets IP protection (``spillover``).
    When the regime makes it the core subject it also does research itself on
    its own row, along the direction it chose, and hands the results out free.
    """

    type_name = "government"

    @property
    def balance(self) -> float:
        """Money received from the treasury and not yet paid out."""
        return self.capital


ORGANISATION_CLASSES: dict[str, type[Organisation]] = {
    cls.type_name: cls for cls in (LeaderFirm, SME, StateOrg, University, Government)
}


class Scientist(Agent):
    """Scientist: attached to an organisation, raising its R&D efficiency and
    absorptive capacity by its expertise. Under people-orientation moves to more
    promising teams and founds start-ups after a discovery (``people``)."""

    def __init__(self, model, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def expertise(self) -> float:
        return float(self.model.scientists.expertise[self.row])

    @property
    def employer(self) -> Organisation:
        return self.model.org_agents[int(self.model.scientists.employer[self.row])]


class User(Agent):
    """User: adopts the domestic design by Bass diffusion once it is usable and
    then pays its supplier each tick; a participating user gives its supplier
    feedback that lets it evaluate more candidate moves (``market``, ``rnd``)."""

    def __init__(self, model, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def adopted(self) -> bool:
        return bool(self.model.users.adopted[self.row])

    @property
    def participating(self) -> bool:
        return bool(self.model.users.participating[self.row])

    @property
    def supplier(self) -> Organisation:
        return self.model.org_agents[int(self.model.users.supplier[self.row])]


def type_codes(names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Row-type codes of organisation type names."""
    return np.array([AGENT_TYPES.index(n) for n in names], dtype=np.int8)
