"""The model: classifiers, tuning, calibration, the saved artifact, evaluation, explanations,
scoring and the clinician reports (docs/architecture.md)."""
