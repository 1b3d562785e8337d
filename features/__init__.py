"""Clinical features and outcome labels, computed from what is known on the prediction day
(the features stage; docs/features.md)."""
