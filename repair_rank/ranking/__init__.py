"""Pipeline step 8: metrics, evaluation, baselines, the scorer and the scorer registry."""
