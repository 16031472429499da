"""Feature transforms of the Kamei features, row by row (so one commit scores alone).

Why these: the raw counts are heavy-tailed (LA spans 0 to 10^5), so models see their
``log1p``; relative churn (LA/LT, LD/LT, churn per file) and normalised spread (entropy over
its maximum, experience ratios) carry what the size of a change means for *these* files and
*this* author. Every transform reads one row only: nothing depends on other commits, on the
label, or on the position of the row in time, so no information crosses the train/test split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from prodsprint_dagster.risk.features import KAMEI_FEATURES

RATIOS: tuple[str, ...] = (
    "la_per_lt", "ld_per_lt", "churn_per_file", "lt_per_file", "nuc_per_file",
    "ndev_per_file", "entropy_norm", "rexp_per_exp", "sexp_per_exp", "added_share", "churn",
)  # fmt: skip


class ChangeFeatures(TransformerMixin, BaseEstimator):
    """log1p of every input column plus the ratios in :data:`RATIOS` (Kamei columns only)."""

    def __init__(self, columns: tuple[str, ...] = KAMEI_FEATURES):
        self.columns = columns

    def fit(self, X, y=None):
        self.n_features_in_ = len(self.columns)
        return self

    def get_feature_names_out(self, input_features=None):
        ratios = RATIOS if set(KAMEI_FEATURES) <= set(self.columns) else ()
        return np.array([f"log1p_{c}" for c in self.columns] + list(ratios), dtype=object)

    def transform(self, X):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=list(self.columns))
        data = {c: frame[c].to_numpy(dtype=np.float64) for c in self.columns}
        out = [np.log1p(np.clip(data[c], 0.0, None)) for c in self.columns]
        if set(KAMEI_FEATURES) <= set(self.columns):
            la, ld, lt, nf = data["la"], data["ld"], data["lt"], np.maximum(data["nf"], 1.0)
            exp = data["exp"]
            out += [
                la / (lt + 1.0),
                ld / (lt + 1.0),
                np.log1p((la + ld) / nf),
                np.log1p(lt / nf),
                np.log1p(data["nuc"] / nf),
                np.log1p(data["ndev"] / nf),
                data["entropy"] / np.log2(np.maximum(nf, 2.0)),
                data["rexp"] / (exp + 1.0),
                data["sexp"] / (exp + 1.0),
                la / (la + ld + 1.0),
                np.log1p(la + ld),
            ]
        return np.column_stack(out)
