"""txresponse pipeline: one module per DVC stage, plus the shared `core` package."""
