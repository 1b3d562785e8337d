"""Model factories, calibration and explanation (filled in by the train stage)."""
