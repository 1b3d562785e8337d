"""The TRIPOD+AI checklist (Collins et al. 2024, BMJ 385:e078378; 27 items, 52 numbered items and
sub-items) mapped onto the model card and the MLflow run.

Item numbers, topics and the gist of each item follow Table 2 of the paper (PMC11019967). The
paper's page could not be opened from here; the wording was checked on 2026-12-02 against
several independent transcriptions of that table found with the project's search tool, which
agree item by item. The "title" column is a short paraphrase, not the item's text.

Each item is answered by the card ("card"), partly answered ("partly": the card gives what the
pipeline knows, the authors add the rest), only the authors can answer it ("authors":
recruitment, ethics, funding, ...), or it does not apply to an internal development ("n/a"; the
authors confirm). Items 12e and 23a depend on the run: they are "answered" only when the
evaluate stage recorded what they ask for (net benefit; intervals for every measure, threshold
and subgroup) — see ``checklist``.
"""
from __future__ import annotations

from typing import NamedTuple

CARD, PARTLY, AUTHORS, NOT_APPLICABLE = "card", "partly", "authors", "n/a"
FOR_AUTHORS = "for the authors to fill in"
STATUS_TEXT = {CARD: "answered", PARTLY: f"partly; rest {FOR_AUTHORS}", AUTHORS: FOR_AUTHORS,
               NOT_APPLICABLE: "not applicable (internal development); authors to confirm"}


class Item(NamedTuple):
    number: str
    section: str
    title: str
    status: str
    where: str   # where the card or the run answers it; what the authors must add


# Anchors match the section ids of the card templates.
ITEMS: tuple[Item, ...] = (
    Item("1", "Title", "Identify the study as developing or evaluating a multivariable "
         "prediction model, the target population and the outcome", PARTLY,
         "The card's title and first paragraph name the model, outcome and population; the "
         "paper's title is the authors'."),
    Item("2", "Abstract", "See TRIPOD+AI for Abstracts", AUTHORS,
         "A structured abstract (TRIPOD+AI for Abstracts)."),
    Item("3a", "Introduction", "Background: healthcare context, rationale, existing models",
         PARTLY, "[Intended use](#intended-use); references to existing models are the "
         "authors'."),
    Item("3b", "Introduction", "Background: target population, purpose in the care pathway, "
         "intended users", CARD, "[Intended use](#intended-use)."),
    Item("3c", "Introduction", "Background: known health inequalities between "
         "sociodemographic groups", AUTHORS,
         "Inequalities known in the clinical area; the card's subgroups show the model's."),
    Item("4", "Introduction", "Objectives, including development and/or validation", CARD,
         "[Intended use](#intended-use): development with internal validation; "
         "[Performance](#performance) names the method."),
    Item("5a", "Methods", "Data: sources for development and evaluation, rationale, "
         "representativeness", PARTLY,
         "[Data](#data) (origin, raw folder, lineage digests); why these data were chosen, and "
         "their representativeness, are the authors'."),
    Item("5b", "Methods", "Data: dates of collection, accrual and follow-up", PARTLY,
         "[Data](#data) gives the period in days relative to the first session; calendar "
         "accrual dates never reach the pipeline (data contract)."),
    Item("6a", "Methods", "Participants: setting, number and location of centres", PARTLY,
         "[Data](#data) (sites and their sizes); the kind and location of the centres are "
         "the authors'."),
    Item("6b", "Methods", "Participants: eligibility criteria", PARTLY,
         "[Data](#data) (who gets a label, who is excluded); how the cohort was recruited is "
         "the authors'."),
    Item("6c", "Methods", "Participants: treatments received and how they were handled",
         PARTLY, "[Subgroups](#subgroups) by route (a predictor); dosing and co-treatments are "
         "the authors'."),
    Item("7", "Methods", "Data preparation: pre-processing and quality checking, and whether "
         "similar across sociodemographic groups", PARTLY,
         "[Data](#data) (validation and quarantine); the run's `features/feature_dictionary.md`. "
         "Quarantine is not broken down by group."),
    Item("8a", "Methods", "Outcome: definition, time horizon, how and when assessed, rationale, "
         "consistency across groups", PARTLY,
         "[Data](#data), label definition; the rationale and whether assessment was the same "
         "across groups are the authors'."),
    Item("8b", "Methods", "Outcome: qualifications and demographics of assessors (if "
         "subjective)", AUTHORS, "Who rated the outcome scale."),
    Item("8c", "Methods", "Outcome: actions to blind its assessment", AUTHORS,
         "Whether raters knew the predictors."),
    Item("9a", "Methods", "Predictors: choice of initial predictors and any pre-selection",
         PARTLY, "The run's feature dictionary lists every predictor and the card those left "
         "out ([Data](#data)); why they were chosen is the authors'."),
    Item("9b", "Methods", "Predictors: definition, how and when measured (and blinding)",
         PARTLY, "[Data](#data) (prediction day, look-back); the feature dictionary. Blinding "
         "is the authors'."),
    Item("9c", "Methods", "Predictors: qualifications and demographics of assessors (if "
         "subjective)", AUTHORS, "Who rated the baseline scales."),
    Item("10", "Methods", "Sample size: how arrived at, and justification", PARTLY,
         "[Sample size](#sample-size): Riley et al.'s minimum against the actual cohort; how "
         "the cohort's size came about is the authors'."),
    Item("11", "Methods", "Missing data: how handled, reasons for omitting data", CARD,
         "[Data](#data) (missing shares, left-out features, patients without a label) and "
         "[Model](#model) (how each classifier handles them)."),
    Item("12a", "Methods", "Analysis: how the data were used and partitioned", CARD,
         "[Data](#data), split; [Model](#model), cross-validation; "
         "[Sample size](#sample-size)."),
    Item("12b", "Methods", "Analysis: handling of predictors (functional form, "
         "transformation)", PARTLY, "docs/training.md (splines for the logistic comparator, "
         "tree splits for LightGBM, binned shape functions and pairwise interactions for the "
         "explainable boosting machine); the card itself does not describe functional "
         "forms."),
    Item("12c", "Methods", "Analysis: model type, rationale, building steps, hyperparameter "
         "tuning, internal validation", CARD,
         "[Model](#model) (search space, budget, selection, calibration); "
         "[Performance](#performance), Validation (cross-validation or bootstrap of the "
         "whole procedure, or a held-out set)."),
    Item("12d", "Methods", "Analysis: heterogeneity across clusters (e.g. sites)", PARTLY,
         "[Subgroups](#subgroups) by site, with intervals; with three or more sites, "
         "[Performance by site](#sites) (each site left out in turn; random-effects pooling "
         "with I² and a prediction interval, TRIPOD-Cluster)."),
    Item("12e", "Methods", "Analysis: all performance measures and plots (discrimination, "
         "calibration, clinical utility) and their rationale", CARD,
         "[Performance](#performance): each measure with its meaning, net benefit against "
         "treating all; plots in the run's `figures/` (reliability, ROC, decision curve)."),
    Item("12f", "Methods", "Analysis: model updating arising from the evaluation", NOT_APPLICABLE,
         "No model was updated after evaluation (the calibrator is part of development: "
         "[Model](#model))."),
    Item("12g", "Methods", "Analysis: for evaluation, how predictions were calculated", CARD,
         "[Model](#model); the registered MLflow model ([Provenance](#provenance)) computes "
         "them."),
    Item("13", "Methods", "Class imbalance methods, if used", CARD,
         "[Data](#data): none used (no resampling or re-weighting)."),
    Item("14", "Methods", "Fairness: approaches used and their rationale", PARTLY,
         "[Subgroups](#subgroups) with intervals and a rule naming poor ones among the "
         "[Limitations](#limitations); which groups matter and why is the authors'."),
    Item("15", "Methods", "Model output, and rationale for any classification thresholds",
         PARTLY, "[Model](#model): a calibrated probability, explained per patient; the "
         "[Performance](#performance) thresholds are configured (`evaluate.thresholds`), their "
         "rationale is the authors'."),
    Item("16", "Methods", "Training versus evaluation: differences in setting, eligibility, "
         "outcome, predictors", CARD, "[Data](#data), split: one cohort, one definition."),
    Item("17", "Methods", "Ethical approval and consent", AUTHORS,
         "Approving body, reference and consent or waiver."),
    Item("18a", "Open science", "Funding", AUTHORS, "Sources of funding and their role."),
    Item("18b", "Open science", "Conflicts of interest", AUTHORS, "Declarations."),
    Item("18c", "Open science", "Protocol", AUTHORS, "Where the protocol can be read, or none."),
    Item("18d", "Open science", "Registration", AUTHORS, "Registry and number, or none."),
    Item("18e", "Open science", "Data sharing", PARTLY,
         "Simulated data can be regenerated (`txresponse simulate`); real data access is the "
         "authors'."),
    Item("18f", "Open science", "Code sharing", PARTLY,
         "[Provenance](#provenance): git commit of the run; the repository's location is the "
         "authors'."),
    Item("19", "Patient and public involvement", "Patient and public involvement", AUTHORS,
         "How patients or the public took part, or that they did not."),
    Item("20a", "Results", "Participants: flow, with and without the outcome", CARD,
         "[Data](#data) (patients, labelled, reasons for no label, development, test, events)."),
    Item("20b", "Results", "Participants: characteristics overall and by source or setting, "
         "differences across demographic groups", PARTLY,
         "[Subgroups](#subgroups) (size and prevalence per group), [Data](#data) (missing "
         "data); a full table 1 is the authors'."),
    Item("20c", "Results", "Participants: evaluation data compared with development data",
         PARTLY, "[Data](#data) (prevalence in development and test); predictor distributions "
         "are the authors'."),
    Item("21", "Results", "Model development: participants and events in each analysis", CARD,
         "[Data](#data) and [Model](#model)."),
    Item("22", "Results", "Model specification: the full model, access and restrictions",
         PARTLY, "[Model](#model); the full fitted model is the registered version's artifact "
         "([Provenance](#provenance)); restrictions on access or reuse are the authors'."),
    Item("23a", "Results", "Model performance with confidence intervals, including key "
         "subgroups", CARD, "[Performance](#performance) and [Subgroups](#subgroups)."),
    Item("23b", "Results", "Heterogeneity in performance across clusters, if examined", PARTLY,
         "[Subgroups](#subgroups) by site with intervals; no pooled heterogeneity estimate "
         "(fewer than three sites, or `split.by_site: false`)."),
    Item("24", "Results", "Model updating: results", NOT_APPLICABLE,
         "No model was updated after evaluation."),
    Item("25", "Discussion", "Interpretation, including fairness", AUTHORS,
         "Overall interpretation of the results."),
    Item("26", "Discussion", "Limitations and their effects", PARTLY,
         "[Limitations](#limitations)."),
    Item("27a", "Discussion", "Usability: how poor-quality or unavailable input data are "
         "assessed and handled", PARTLY,
         "Scoring validates inputs, quarantines bad rows and flags patients out of "
         "distribution ([Intended use](#intended-use), docs/explanations.md); local data "
         "checks are the authors'."),
    Item("27b", "Discussion", "Usability: user interaction with inputs or model, expertise "
         "needed", PARTLY, "[Intended use](#intended-use) (users); training and workflow are "
         "the authors'."),
    Item("27c", "Discussion", "Next steps for research, applicability and generalisability",
         PARTLY, "[Limitations](#limitations) (external validation needed); the plan is the "
         "authors'."),
)


def checklist(evidence: dict | None = None) -> list[dict]:
    """The items as plain dicts for the templates.

    ``evidence`` says what the run's evaluation recorded: ``net_benefit`` (net benefit against
    treating all at the thresholds), ``all_intervals`` (an interval for every headline measure),
    ``threshold_intervals``, ``subgroup_intervals``, ``by_site`` (leave-one-site-out figures:
    items 12d and 23b are then answered). Items 12e and 23a are marked answered only
    when they are all there; otherwise "partly", saying what is missing. Without evidence the
    static statuses are returned.
    """
    out = []
    for item in ITEMS:
        status, where = item.status, item.where
        if evidence is not None and item.number == "12e" and not evidence.get("net_benefit"):
            status = PARTLY
            where = ("[Performance](#performance) lists discrimination and calibration measures "
                     "with their meaning; this run's evaluation recorded no net benefit "
                     "(clinical utility): re-run the evaluate stage.")
        if evidence is not None and item.number in ("12d", "23b") and evidence.get("by_site"):
            status = CARD
            where = ("[Performance by site](#sites): each site left out in turn and predicted "
                     "by the procedure developed on the others; per-site AUROC, calibration "
                     "intercept and slope with 95 % intervals, random-effects pooling with I² "
                     "and a 95 % prediction interval for a new site.")
        if evidence is not None and item.number == "23a":
            missing = [what for key, what in (
                ("all_intervals", "every headline measure"),
                ("threshold_intervals", "the threshold metrics"),
                ("subgroup_intervals", "the subgroup metrics")) if not evidence.get(key)]
            if missing:
                status = PARTLY
                where = ("[Performance](#performance): this run's evaluation has no intervals "
                         f"for {', '.join(missing)}; re-run the evaluate stage.")
        out.append(item._asdict() | {"status": status, "where": where,
                                     "status_text": STATUS_TEXT[status]})
    return out
