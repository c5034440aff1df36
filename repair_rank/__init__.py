"""repair_rank: rank candidate repairs of broken Python so the human's fix comes first.

Subpackages follow the pipeline, each importing only those before it:
`syntax` (tokens, parse errors) -> `generator` (n-gram, edit statistics,
candidate search) -> `data` (pairs, corpora, ranking instances) -> `model`
(features, Flax models, batches, checkpoints) -> `ranking` (metrics,
evaluation, baselines, the scorer, the scorer registry) -> `training` (one loop,
pretrain, finetune) -> `serving` (protocol, server, client) -> `jobs` (one
module per `config.job`). `tokens`, `candidates`, `metrics` and `scorer` at the
top are the public faces of their subpackages; README.md's layout section has
the whole tree.
"""

__version__ = "0.1.0"
