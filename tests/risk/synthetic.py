"""Synthetic Kamei tables with a known signal: bigger, more spread changes break more often."""

from __future__ import annotations

import numpy as np
import pandas as pd

from prodsprint_dagster.risk import KAMEI_FEATURES


def kamei_table(n: int, seed: int = 7, start: int = 1_500_000_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    nf = rng.integers(1, 12, n)
    la = np.round(rng.lognormal(2.5, 1.4, n)).astype(int)
    ld = np.round(rng.lognormal(1.5, 1.3, n)).astype(int)
    frame = pd.DataFrame(
        {
            "ns": np.minimum(nf, rng.integers(1, 4, n)),
            "nd": np.minimum(nf, rng.integers(1, 6, n)),
            "nf": nf,
            "entropy": rng.uniform(0, 1, n) * np.log2(np.maximum(nf, 2)),
            "la": la,
            "ld": ld,
            "lt": np.round(rng.lognormal(6, 1.2, n)).astype(int),
            "fix": rng.integers(0, 2, n),
            "ndev": rng.integers(1, 40, n),
            "age": rng.exponential(60, n),
            "nuc": rng.integers(1, 300, n),
            "exp": rng.integers(0, 2000, n),
            "rexp": rng.exponential(50, n),
            "sexp": rng.integers(0, 500, n),
        }
    )
    z = (
        -3.2
        + 0.55 * np.log1p(la)
        + 0.25 * np.log1p(nf)
        + 0.4 * frame["fix"]
        - 0.15 * np.log1p(frame["exp"])
    )
    frame["bug"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    frame["date"] = start + np.sort(rng.integers(0, 3 * 365 * 86400, n))
    frame["_id"] = [f"{i:040x}" for i in range(n)]
    return frame


def as_public_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The column layout of the public tables (index column, ``__`` label copy, entrophy)."""
    out = frame.rename(columns={"entropy": "entrophy"})
    out["__"] = out["bug"]
    cols = ["_id", "date", "bug", "__", *("entrophy" if f == "entropy" else f
                                          for f in KAMEI_FEATURES)]  # fmt: skip
    return out.loc[:, cols]
