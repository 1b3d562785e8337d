"""Clinical feature definitions (filled in by the features stage)."""
