"""The review core shared by `txresponse compare` (models/comparison) and `txresponse promote`
(models/governance): the evidence a run recorded (`evidence`), whether two runs pair
(`pairing`), their paired and unpaired differences (`statistics`, `delong`), the subgroup rule
(`subgroups`) and the reviewers' file configs/promotion.yaml (`config`). References are
resolved by `models.references`. Imports nothing from either command's package."""
