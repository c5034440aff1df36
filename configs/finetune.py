"""Stage-2 ranking: listwise softmax CE over each query's truth and sampled negatives.

  python -m repair_rank.main --config configs/finetune.py --workdir workdir/finetune \
      --config.pretrained_checkpoint=workdir/pretrain \
      --config.train_instances=data/instances/train.jsonl \
      --config.valid_instances=data/instances/valid.jsonl
  python -m repair_rank.main --config configs/finetune.py:full ...
"""
import importlib.util
import pathlib

import ml_collections

# Loaded by path, as config_flags loads this file by path (works from any directory).
_SPEC = importlib.util.spec_from_file_location(
    "repair_rank_configs_default", pathlib.Path(__file__).with_name("default.py"))
default = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(default)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  """Finetuning config for a model variant ("small" default, or "full")."""
  config = default.get_config(variant)
  config.job = "finetune"
  # Ranking instances to train on (path, JSONL or prototype text; from the build_data job).
  config.train_instances = ""
  # Ranking instances for periodic validation (path; "" = no validation, no best checkpoint).
  config.valid_instances = ""
  # Validate on at most this many valid instances (0 = all); each has up to 1000 candidates.
  config.max_valid_instances = 200
  # Pretraining workdir (or its checkpoints/ dir) to load the encoder from; "" = from scratch.
  config.pretrained_checkpoint = ""
  # Keep the pretrained encoder fixed (True) or fine-tune it at encoder_learning_rate.
  config.freeze_encoder = False
  # Peak learning rate of the score head, edit/distance embeddings and LM weight (per step).
  config.learning_rate = 2e-3
  # Peak learning rate of the encoder when fine-tuned (per step).
  config.encoder_learning_rate = 1e-4
  # Temperature TAU: scores are divided by it before the group softmax (unitless).
  config.tau = 1.0
  # Candidates per query per step: the truth plus group_size - 1 sampled negatives.
  config.group_size = 16
  # Queries per device per step (global = this x local devices).
  config.queries_per_device = 8 if config.variant == "small" else 16
  # Total optimiser steps.
  config.num_steps = 3_000 if config.variant == "small" else 10_000
  # Linear warm-up (steps).
  config.warmup_steps = 200
  # Validate and checkpoint every this many steps.
  config.eval_every_steps = 250
  config.checkpoint_every_steps = config.eval_every_steps
  return config
