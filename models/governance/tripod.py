"""The TRIPOD+AI checklist (Collins et al. 2024, BMJ 385:e078378; 27 items, several with
sub-items) mapped onto the model card and the MLflow run.

Item numbers and titles are written from memory of the published checklist; sub-items whose
wording was not re-checked are marked "(recalled)". Each item is answered by the card
("card"), partly answered ("partly": the card gives what the pipeline knows, the authors add
the rest), or only the authors can answer it ("authors": recruitment, ethics, funding, ...).
"""
from __future__ import annotations

from typing import NamedTuple

CARD, PARTLY, AUTHORS = "card", "partly", "authors"
FOR_AUTHORS = "for the authors to fill in"
STATUS_TEXT = {CARD: "answered", PARTLY: f"partly; rest {FOR_AUTHORS}", AUTHORS: FOR_AUTHORS}


class Item(NamedTuple):
    number: str
    section: str
    title: str
    status: str
    where: str   # where the card or the run answers it; what the authors must add


# Anchors match the section ids of the card templates.
ITEMS: tuple[Item, ...] = (
    Item("1", "Title and abstract", "Title", PARTLY,
         "The card's title names the model, outcome and population; the paper's title is "
         "the authors'."),
    Item("2", "Title and abstract", "Abstract", AUTHORS, "A structured abstract (TRIPOD+AI "
         "for Abstracts)."),
    Item("3a", "Introduction", "Background: healthcare context and rationale", PARTLY,
         "[Intended use](#intended-use); references to existing models are the authors'."),
    Item("3b", "Introduction", "Background: target population, place in the care pathway, "
         "intended users", CARD, "[Intended use](#intended-use)."),
    Item("3c", "Introduction", "Background: known health inequalities (recalled)", AUTHORS,
         "Inequalities known in the clinical area; the card's subgroups show the model's."),
    Item("4", "Introduction", "Objectives (development and/or evaluation)", CARD,
         "[Intended use](#intended-use): development with internal evaluation on held-out "
         "patients."),
    Item("5a", "Methods", "Data: sources", PARTLY,
         "[Data](#data) (origin, raw folder, lineage digests); why these data were chosen, and "
         "their representativeness, are the authors'."),
    Item("5b", "Methods", "Data: dates of collection", PARTLY,
         "[Data](#data) gives the period in days relative to the first session; calendar "
         "accrual dates never reach the pipeline (data contract)."),
    Item("6a", "Methods", "Participants: setting, number and location of centres", PARTLY,
         "[Data](#data) (sites and their sizes); the kind and location of the centres are "
         "the authors'."),
    Item("6b", "Methods", "Participants: eligibility criteria", PARTLY,
         "[Data](#data) (who gets a label, who is excluded); how the cohort was recruited is "
         "the authors'."),
    Item("6c", "Methods", "Participants: treatments received", PARTLY,
         "[Subgroups](#subgroups) by route; dosing and co-treatments are the authors'."),
    Item("7", "Methods", "Data preparation", CARD,
         "[Data](#data) (validation and quarantine); the run's `features/feature_dictionary.md`."),
    Item("8a", "Methods", "Outcome: definition, how and when assessed", CARD,
         "[Data](#data), label definition."),
    Item("8b", "Methods", "Outcome: assessors' qualifications and blinding (recalled)",
         AUTHORS, "Who rated the outcome scale and whether they knew the predictors."),
    Item("9a", "Methods", "Predictors: choice", PARTLY,
         "The run's feature dictionary lists every predictor; why they were chosen is the "
         "authors'."),
    Item("9b", "Methods", "Predictors: definition and time of measurement", CARD,
         "[Data](#data) (prediction day, look-back); the feature dictionary."),
    Item("9c", "Methods", "Predictors: blinding of assessment (recalled)", AUTHORS,
         "Whether predictors were recorded without knowledge of the outcome."),
    Item("10", "Methods", "Sample size", PARTLY,
         "[Data](#data) (patients, events); the sample-size justification (Riley 2019/2020) is "
         "the authors'."),
    Item("11", "Methods", "Missing data", CARD,
         "[Data](#data) (missing shares) and [Model](#model) (how each classifier handles "
         "them)."),
    Item("12a", "Methods", "Analysis: how the data were used (development / evaluation)", CARD,
         "[Data](#data), split; [Model](#model), cross-validation."),
    Item("12b", "Methods", "Analysis: handling of predictors (recalled)", CARD,
         "[Model](#model); docs/training.md."),
    Item("12c", "Methods", "Analysis: model type, building, hyperparameter tuning, internal "
         "validation", CARD, "[Model](#model) (search space, budget, selection, calibration)."),
    Item("12d", "Methods", "Analysis: heterogeneity across clusters (sites)", PARTLY,
         "[Subgroups](#subgroups) by site; `split.holdout_site` evaluates at a new clinic."),
    Item("12e", "Methods", "Analysis: performance measures and their intervals", CARD,
         "[Performance](#performance)."),
    Item("12f", "Methods", "Analysis: model updating or recalibration (recalled)", CARD,
         "[Model](#model), calibrator."),
    Item("13", "Methods", "Class imbalance", CARD,
         "[Data](#data) (prevalence); no resampling or re-weighting is used."),
    Item("14", "Methods", "Fairness", PARTLY,
         "[Subgroups](#subgroups); which groups matter and why is the authors'."),
    Item("15", "Methods", "Model output", CARD,
         "[Model](#model): a calibrated probability of response, explained per patient."),
    Item("16", "Methods", "Training versus evaluation: differences in setting, eligibility, "
         "outcome, predictors", CARD, "[Data](#data), split."),
    Item("17", "Methods", "Ethical approval", AUTHORS, "Approving body and reference."),
    Item("18a", "Open science", "Funding", AUTHORS, "Sources of funding and their role."),
    Item("18b", "Open science", "Conflicts of interest", AUTHORS, "Declarations."),
    Item("18c", "Open science", "Protocol", AUTHORS, "Where the protocol can be read."),
    Item("18d", "Open science", "Registration", AUTHORS, "Registry and number."),
    Item("18e", "Open science", "Data sharing", PARTLY,
         "Simulated data can be regenerated (`txresponse simulate`); real data access is the "
         "authors'."),
    Item("18f", "Open science", "Code sharing", PARTLY,
         "[Provenance](#provenance): git commit of the run; the repository's location is the "
         "authors'."),
    Item("19", "Patient and public involvement", "Patient and public involvement", AUTHORS,
         "How patients or the public took part, or why they did not."),
    Item("20a", "Results", "Participants: flow and outcome events (recalled)", CARD,
         "[Data](#data) (patients, labelled, development, test, events)."),
    Item("20b", "Results", "Participants: characteristics (recalled)", PARTLY,
         "[Subgroups](#subgroups) (size and prevalence per group); a full table 1 is the "
         "authors'."),
    Item("20c", "Results", "Participants: development vs evaluation data (recalled)", PARTLY,
         "[Data](#data) (prevalence in development and test)."),
    Item("21", "Results", "Model development: participants and events in each analysis", CARD,
         "[Data](#data) and [Model](#model)."),
    Item("22", "Results", "Model specification", CARD,
         "[Model](#model); the full fitted model is the registered version's artifact."),
    Item("23a", "Results", "Model performance with confidence intervals", CARD,
         "[Performance](#performance)."),
    Item("23b", "Results", "Model performance across subgroups / clusters (recalled)", CARD,
         "[Subgroups](#subgroups)."),
    Item("24", "Results", "Model updating", AUTHORS,
         "Not applicable to a first development; results of any update."),
    Item("25", "Discussion", "Interpretation", AUTHORS, "Overall interpretation of the results."),
    Item("26", "Discussion", "Limitations", PARTLY, "[Limitations](#limitations)."),
    Item("27", "Discussion", "Usability of the model in the context of current care", PARTLY,
         "[Intended use](#intended-use); how it fits local care is the authors'."),
)


def checklist() -> list[dict]:
    """The items as plain dicts for the templates."""
    return [item._asdict() | {"status_text": STATUS_TEXT[item.status]} for item in ITEMS]
