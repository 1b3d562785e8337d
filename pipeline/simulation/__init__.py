"""Synthetic ketamine/esketamine cohorts in the data contract, grounded in published effects.

See docs/simulator.md for the generating model and its sources.
"""
from pipeline.simulation.cohort import SimulatedCohort, simulate_cohort

__all__ = ["SimulatedCohort", "simulate_cohort"]
