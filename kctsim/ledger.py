"""The resource-flow ledger: every transfer of money, by tick, party and kind.

Transfers are recorded in vectorised batches (one call per mechanism and tick)
and turned into one tidy DataFrame at the end of a run. Double entry: each row
moves ``amount`` from one account to another, so money is conserved by
construction and checkable against the agents' capital (MODEL.md section 7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    """Append-only record of transfers, stored as numpy chunks."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, ...]] = []

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

        Kept as given (this is on the hot path); zero amounts are dropped and
        the columns broadcast when the ledger is read. ``kind`` is a name or an
        array of codes (``KIND_CODE``). Negative amounts are an error: reverse
        the parties instead.
        """
        if np.ndim(amount) == 0:
            if amount == 0:
                return
            if amount < 0:
                raise ValueError(f"negative transfer of kind {kind!r}")
        elif amount.size == 0:
            return
        elif amount.min() < 0:
            raise ValueError(f"negative transfer of kind {kind!r}")
        code = KIND_CODE[kind] if isinstance(kind, str) else kind
        self._chunks.append((tick, code, from_type, from_id, to_type, to_id, stage, amount))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """All rows as columns (tick, kind, from_type, from_id, to_type, to_id, stage, amount)."""
        dtypes = (np.int32, np.int8, np.int8, np.int64, np.int8, np.int64, np.int8, float)
        columns: list[list[np.ndarray]] = [[] for _ in dtypes]
        for chunk in self._chunks:
            shape = np.broadcast_shapes(*(np.shape(v) for v in chunk))
            amount = np.broadcast_to(np.asarray(chunk[-1], dtype=float), shape)
            keep = amount > 0
            for col, value, dtype in zip(columns, chunk, dtypes, strict=True):
                col.append(np.broadcast_to(np.asarray(value, dtype=dtype), shape)[keep])
        return tuple(
            np.concatenate(col) if col else np.empty(0, dtype=dt)
            for col, dt in zip(columns, dtypes, strict=True)
        )

    def frame(self) -> pd.DataFrame:
        """The ledger as a tidy DataFrame with categorical type and kind columns."""
        tick, kind, ft, fi, tt, ti, st, amount = self.arrays()
        types = pd.CategoricalDtype(ACCOUNT_TYPES)
        return pd.DataFrame(
            {
                "tick": tick,
                "from_type": pd.Categorical.from_codes(ft, dtype=types),
                "from_id": fi,
                "to_type": pd.Categorical.from_codes(tt, dtype=types),
                "to_id": ti,
                "kind": pd.Categorical.from_codes(kind, dtype=pd.CategoricalDtype(KINDS)),
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
