"""Model × item correctness matrix from canonical predictions (the input of most audits)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["CorrectnessMatrix", "correctness_matrix"]


@dataclass(frozen=True)
class CorrectnessMatrix:
    """``values[m, i]`` = mean correctness of model ``models[m]`` on item ``items[i]``.

    With one prediction per model × item (the usual headline configuration) the values are 0/1.
    ``n_dropped_items``: items left out because some, but not all, models have a scored prediction on
    them (the paired audits need every model on the same items); items no model scored (no gold) are
    simply absent.
    """

    models: list[str]
    items: list[str]
    values: NDArray[np.float64]
    n_dropped_items: int

    @property
    def is_binary(self) -> bool:
        return bool(np.isin(self.values, (0.0, 1.0)).all())

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.models, columns=self.items)


def correctness_matrix(
    predictions: pd.DataFrame,
    *,
    model_col: str = "model",
    item_col: str = "item_id",
    value_col: str = "is_correct",
    complete: bool = True,
) -> CorrectnessMatrix:
    """Pivot predictions to models × items.

    Rows with a null ``value_col`` (unscored: no gold) are ignored.  Several rows per model × item
    (seeds, templates, samples) are averaged — filter to one configuration first for 0/1 values.

    Args:
        predictions: canonical predictions (any frame with the three columns).
        model_col, item_col, value_col: column names.
        complete: keep only items every model has a scored prediction on (else NaN cells stay).

    Returns:
        :class:`CorrectnessMatrix`, models and items in sorted order.
    """
    d = predictions[[model_col, item_col, value_col]]
    d = d[d[value_col].notna()]
    if d.empty:
        raise ValueError("no scored predictions")
    vals = d[value_col].astype(float)
    piv = vals.groupby([d[model_col], d[item_col]]).mean().unstack(item_col)
    piv = piv.sort_index(axis=0).sort_index(axis=1)
    n_before = piv.shape[1]
    if complete:
        piv = piv.loc[:, piv.notna().all(axis=0)]
    return CorrectnessMatrix(
        models=[str(m) for m in piv.index],
        items=[str(i) for i in piv.columns],
        values=piv.to_numpy(dtype=np.float64),
        n_dropped_items=n_before - piv.shape[1],
    )
