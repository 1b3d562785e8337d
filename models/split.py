"""Development/test split by patient: stratified by label, or a whole site held out.

No patient is ever in two sets; unlabelled patients are in neither (they are scored later).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

DEVELOPMENT, TEST = "development", "test"


def split_patients(labels: pd.DataFrame, sites: pd.Series | None, test_fraction: float,
                   seed: int, holdout_site: str | None = None,
                   strategy: str = "holdout") -> pd.DataFrame:
    """`labels` has patient_id and label (NA = unlabelled). Returns patient_id, set. With a
    resampling strategy every labelled patient is in development (validation resamples them)."""
    labelled = labels[labels["label"].notna()].reset_index(drop=True)
    ids = labelled["patient_id"].to_numpy()
    if strategy != "holdout":
        role = np.full(len(ids), DEVELOPMENT, dtype=object)
    elif holdout_site is not None:
        if sites is None:
            raise ValueError("split.holdout_site needs the patients' site")
        site_of = sites.reindex(ids).to_numpy()
        if holdout_site not in set(site_of):
            raise ValueError(f"split.holdout_site {holdout_site!r} has no labelled patients; "
                             f"sites: {sorted(set(map(str, site_of)))}")
        role = np.where(site_of == holdout_site, TEST, DEVELOPMENT)
    else:
        y = labelled["label"].astype(int).to_numpy()
        _, test_ids = train_test_split(ids, test_size=test_fraction, stratify=y,
                                       random_state=seed)
        role = np.where(np.isin(ids, test_ids), TEST, DEVELOPMENT)
    return pd.DataFrame({"patient_id": ids, "set": role})
