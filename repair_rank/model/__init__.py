"""Pipeline steps 6-7: model inputs, the Flax models, training batches, checkpoints."""
