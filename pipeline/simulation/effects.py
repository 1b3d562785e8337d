"""Effect sizes of the simulator's true response model, on the log-odds scale.

Each figure is chosen to match the direction and rough size reported in
`shared/clinical-reference.md`; docs/simulator.md gives the table with sources. The factors with
no published effect (age outside the esketamine-in-65+ interaction, sex, PTSD, IL-6, CADSS and
the site covariates) are deliberately absent: they are the null features a model should ignore.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResponseEffects:
    intercept: float = 1.30
    bmi_per_kg_m2: float = 0.09            # Niciu 2014: higher BMI, better (beta ~0.3 per SD)
    family_history_aud: float = 0.85       # Niciu 2014, Phelps 2009
    prior_suicide_attempt: float = -0.70   # Niciu 2014
    per_failed_trial_beyond_2: float = -0.40  # Alnefeesi 2022; Price 2022
    episode_over_24_months: float = -0.40  # Maudsley duration band 3
    augmentation_history: float = -0.15    # Maudsley: +1 for augmentation
    ect_history: float = -0.25             # Maudsley: +1 for ECT
    benzodiazepine_at_index: float = -0.90 # Andrashko 2020; Feeney 2023
    per_met_allele: float = -0.50          # Laje 2012
    very_severe_baseline: float = -0.30    # ELEKT-D secondary: MADRS >= 40 did worse
    anxious_distress: float = 0.25         # Ionescu 2014 (mixed evidence; kept small)
    crp_3_or_more: float = -0.40           # Taiwanese RCT (mixed; kept small)
    route_intranasal: float = -0.25        # Bahji 2021: IV racemic > intranasal esketamine
    route_oral: float = -0.45              # McIntyre 2020: oral evidence smaller
    route_subcutaneous: float = -0.10
    intranasal_age_65_plus: float = -0.60  # TRANSFORM-3: weaker in patients 65+
    site_sd: float = 0.30                  # between-site spread of base rates
