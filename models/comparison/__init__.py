"""Compare training runs for a model reviewer: headline metrics, paired statistics on shared test
patients (bootstrap differences, DeLong's test), differing params, data lineage, overlaid curves
and subgroups. `pipeline/compare.py` is the command; `docs/comparison.md` the guide."""
