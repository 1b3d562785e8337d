"""Real, openly licensed cohorts converted into the data contract, to test that the pipeline runs
on data nobody simulated. None of them is a ketamine or esketamine cohort."""
