"""Model governance: promotion criteria and decisions in the MLflow registry, and the model card."""
