"""The resource-flow ledger: every transfer of money, by tick, party and kind.

Transfers are appended to a columnar numpy buffer as the mechanisms make them
and turned into one tidy DataFrame at the end of a run. Double entry: each row
moves ``amount`` from one account to another, so money is conserved by
construction and checkable against the agents' capital (docs/ODD.md, outputs).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from kctsim.config import AGENT_TYPES

ACCOUNT_TYPES = (
    "leader_firm",
    "sme",
    "state_org",
    "university",
    "government",
    "user",
    "treasury",  # the state's budget, outside the model
    "market",  # customers outside the model, suppliers of inputs, investors
    "rnd",  # R&D expenditure: money spent on research leaves the system
)
"""Account types; the first five are organisation types in row order."""
TYPE_CODE = {name: i for i, name in enumerate(ACCOUNT_TYPES)}
assert ACCOUNT_TYPES[: len(AGENT_TYPES)] == AGENT_TYPES  # an organisation's type is its account

KINDS = (
    "budget",
    "grant",
    "block_grant",
    "matching",
    "contract",
    "consortium_contribution",
    "benefit_share",
    "user_revenue",
    "base_revenue",
    "premium_revenue",
    "operating_cost",
    "rnd_spend",
    "bailout",
    "soft_budget",
    "seed_capital",
)
KIND_CODE = {name: i for i, name in enumerate(KINDS)}

NO_ID = -1
"""Id of an account that is not an agent (treasury, market, rnd)."""


class Ledger:
    """Append-only record of transfers in a growable columnar buffer.

    ``ints`` holds (tick, kind, from_type, from_id, to_type, to_id, stage) per row
    and ``amounts`` the amount; the first ``n`` rows are used. Compiled
    mechanisms append with :func:`kctsim.kernels.put` after :meth:`reserve`;
    Python code uses :meth:`record`.
    """

    COLUMNS = ("tick", "kind", "from_type", "from_id", "to_type", "to_id", "stage", "amount")
    DTYPES = (np.int32, np.int8, np.int8, np.int64, np.int8, np.int64, np.int8, np.float64)

    def __init__(self, capacity: int = 4096) -> None:
        self.ints = np.zeros((capacity, 7), dtype=np.int64)
        self.amounts = np.zeros(capacity)
        self.n = 0

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` more transfers (the buffer at least doubles when it grows)."""
        need = self.n + rows
        if need > len(self.amounts):
            size = max(need, 2 * len(self.amounts))
            ints, amounts = np.zeros((size, 7), dtype=np.int64), np.zeros(size)
            ints[: self.n], amounts[: self.n] = self.ints[: self.n], self.amounts[: self.n]
            self.ints, self.amounts = ints, amounts

    def record(
        self,
        tick: int,
        kind: str | np.ndarray,
        from_type: np.ndarray | int,
        from_id: np.ndarray | int,
        to_type: np.ndarray | int,
        to_id: np.ndarray | int,
        amount: np.ndarray | float,
        stage: np.ndarray | int = -1,
    ) -> None:
        """Record transfers; array arguments broadcast against ``amount``.

        ``kind`` is a name or an array of codes (``KIND_CODE``). Zero amounts are
        not transfers and are dropped. Negative amounts are an error: reverse the
        parties instead.
        """
        code = KIND_CODE[kind] if isinstance(kind, str) else kind
        columns = (tick, code, from_type, from_id, to_type, to_id, stage)
        shape = np.broadcast_shapes(*(np.shape(v) for v in (*columns, amount)))
        amount = np.broadcast_to(np.asarray(amount, dtype=float), shape).ravel()
        if amount.size and amount.min() < 0:
            raise ValueError(f"negative transfer of kind {kind!r}")
        keep = amount > 0
        k = int(np.count_nonzero(keep))
        if k == 0:
            return
        self.reserve(k)
        rows = slice(self.n, self.n + k)
        for j, value in enumerate(columns):
            self.ints[rows, j] = np.broadcast_to(value, shape).ravel()[keep]
        self.amounts[rows] = amount[keep]
        self.n += k

    def arrays(self, start: int = 0) -> tuple[np.ndarray, ...]:
        """Rows ``start`` onward as columns (tick, kind, from_type, from_id, to_type,
        to_id, stage, amount); rows are never changed once recorded."""
        ints = self.ints[start : self.n]
        columns = [ints[:, j].astype(dt) for j, dt in enumerate(self.DTYPES[:-1])]
        return (*columns, self.amounts[start : self.n].copy())

    def frame(self) -> pd.DataFrame:
        """The ledger as a tidy DataFrame with categorical type and kind columns."""
        tick, kind, ft, fi, tt, ti, st, amount = self.arrays()
        types, kinds = _categories()
        return pd.DataFrame(
            {
                "tick": tick,
                "from_type": pd.Categorical.from_codes(ft, dtype=types),
                "from_id": fi,
                "to_type": pd.Categorical.from_codes(tt, dtype=types),
                "to_id": ti,
                "kind": pd.Categorical.from_codes(kind, dtype=kinds),
                "stage": st,
                "amount": amount,
            }
        )

    def net_by_account(self) -> dict[int, float]:
        """Money in minus money out for every agent id (for conservation checks)."""
        _, _, _, fi, _, ti, _, amount = self.arrays()
        ids = np.concatenate([fi, ti])
        flows = np.concatenate([-amount, amount])
        keep = ids != NO_ID
        uniq, inv = np.unique(ids[keep], return_inverse=True)
        return dict(zip(uniq.tolist(), np.bincount(inv, weights=flows[keep]).tolist(), strict=True))


def flows_by_type_pair(ledger: pd.DataFrame) -> pd.DataFrame:
    """Total money moved from each account type to each other type, by kind."""
    return (
        ledger.groupby(["from_type", "to_type", "kind"], observed=True)["amount"]
        .sum()
        .reset_index()
        .sort_values("amount", ascending=False, ignore_index=True)
    )


def funding_by_stage(ledger: pd.DataFrame) -> pd.DataFrame:
    """Government money earmarked per chain stage and tick, with each stage's share."""
    gov = ledger[(ledger.from_type == "government") & (ledger.stage >= 0)]
    table = gov.pivot_table(
        index="tick", columns="stage", values="amount", aggfunc="sum", fill_value=0.0
    )
    shares = table.div(table.sum(axis=1), axis=0)
    return shares.rename(columns=lambda s: f"stage_{s + 1}_share").reset_index()


@cache
def _categories() -> tuple[pd.CategoricalDtype, pd.CategoricalDtype]:
    """The account types and kinds as categorical dtypes (made once: a run's ledger
    frame had spent a millisecond on making them)."""
    return pd.CategoricalDtype(ACCOUNT_TYPES), pd.CategoricalDtype(KINDS)
