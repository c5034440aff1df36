"""Stage-1 pretraining: causal next-token LM over `broken <sep> fixed` train pairs.

  python -m repair_rank.main --config configs/pretrain.py --workdir workdir/pretrain
  python -m repair_rank.main --config configs/pretrain.py:full --workdir workdir/pretrain_full
"""
import importlib.util
import pathlib

import ml_collections

# Loaded by path (not `from configs import default`) so the config file works
# from any working directory, as config_flags loads it by path too.
_SPEC = importlib.util.spec_from_file_location(
    "repair_rank_configs_default", pathlib.Path(__file__).with_name("default.py"))
default = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(default)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  """Pretraining config for a model variant ("small" default, or "full")."""
  config = default.get_config(variant)
  config.job = "pretrain"
  # Sequences per device per step (global batch = this x local devices).
  config.per_device_batch_size = 32 if config.variant == "small" else 64
  # Total optimiser steps.
  config.num_steps = 6_000 if config.variant == "small" else 20_000
  # Peak learning rate (per step).
  config.learning_rate = 1e-3 if config.variant == "small" else 5e-4
  # Linear warm-up (steps).
  config.warmup_steps = 300
  # More (broken, fixed) pairs to pretrain on beside the bundled train pairs (tuple of paths
  # in the StackOverflow pairs format, e.g. the synthesize job's train.jsonl over the standard
  # library, which keeps none that appear in valid or test; () = train pairs only).
  config.extra_train_pairs = ()
  # Valid sequences used for the periodic evaluation loss (0 = all 928).
  config.max_eval_sequences = 0
  return config
