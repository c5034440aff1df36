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
_REPO = pathlib.Path(__file__).resolve().parents[1]
_DATA = _REPO / "data"
_ASSETS = _REPO / "repair_rank" / "assets"


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  """Finetuning config for a model variant ("small" default, or "full")."""
  config = default.get_config(variant)
  config.job = "finetune"
  # Ranking instances to train on (path, JSONL[.gz] or prototype text; from the build_data
  # job). Default: the bundled 6,348 cross-fitted train instances with prior parts
  # (data/instances/README.md; configs/build_data.py:ranker).
  config.train_instances = str(_DATA / "instances" / "train_ranker.jsonl.gz")
  # More ranking instances mixed into train_instances (tuple of paths), e.g. synthetic ones.
  config.extra_train_instances = ()
  # Ranking instances for periodic validation (path; "" = no validation, no best checkpoint).
  # Default: the bundled 622 valid instances (every valid pair at distance <= 3).
  config.valid_instances = str(_DATA / "instances" / "valid_ranker.jsonl.gz")
  # Fit the exported bundle's confidence on valid_instances (bool): the calibrated chance
  # that its top repair is the human's fix (repair_rank.ranking.confidence); those must be
  # generator lists without the fix inserted (as build_data writes them).
  config.calibrate = True
  # Validate on at most this many valid instances (0 = all; the reweighted selection metric
  # needs all of them).
  config.max_valid_instances = 0
  # Pretraining workdir (or its checkpoints/ dir) to load the encoder from; "" = from scratch.
  # Default: the bundled small pretrained encoder (repair_rank/assets/pretrained_default).
  config.pretrained_checkpoint = (str(_ASSETS / "pretrained_default")
                                  if config.variant == "small" else "")
  # Start every param (encoder, score head, edit embeddings, LM weight) from a trained scorer
  # bundle or finetune workdir instead (path; "" = none): continue a finetune with another
  # recipe (e.g. a deeper first_stage_k). Its model config must equal this one's; it
  # overrides pretrained_checkpoint.
  config.init_scorer = ""
  # Keep the pretrained encoder fixed (True) or fine-tune it at encoder_learning_rate.
  config.freeze_encoder = False
  # Peak learning rate of the score head, edit/distance embeddings and LM weight (per step).
  config.learning_rate = 2e-3
  # Peak learning rate of the encoder when fine-tuned (per step).
  config.encoder_learning_rate = 1e-4
  # Train on top of a prior: prior_weight x this baseline's score (ranking/baselines.py, e.g.
  # "markov_channel") is added to the model's, in the loss, in validation and in the exported
  # bundle, so the model learns what the prior misses. "" = none.
  # Default: the learned first stage (repair_rank/ranking/learned_prior.py).
  config.prior = "learned_prior"
  # Weight of `prior` (score units per prior unit; 0 with no prior).
  config.prior_weight = 1.0
  # With prior "learned_prior": its JSON (the fit_prior job's output; "" = the bundled
  # repair_rank/assets/learned_prior.json). Exported inside the scorer bundle.
  config.prior_path = ""
  # Negatives per query: "random" (up to group_size - 1 drawn from the generator's list) or
  # "first_stage" (the list the model reranks at serving: the learned prior's top
  # first_stage_k, from the instances' cross-fitted parts; needs prior "learned_prior").
  config.negatives = "first_stage"
  # With first-stage negatives: candidates the model reranks per query, in training and in
  # the exported bundle (its prefilter_k).
  config.first_stage_k = 16
  # With first-stage negatives: the first stage's best this many more at each token edit
  # distance 1-3 beyond its top first_stage_k, in training and in the bundle (0 = none):
  # room for three-edit repairs, which the top 16 mostly lacks (group_size must hold them).
  config.first_stage_per_distance = 0
  # With first-stage negatives: random candidates from the rest of the first stage's list
  # added to each group (count), so the model sees some easy ones.
  config.random_negatives = 0
  # Temperature TAU: scores are divided by it before the group softmax (unitless).
  config.tau = 1.0
  # Candidates per query per step: the truth plus group_size - 1 negatives (with first-stage
  # negatives: at least first_stage_k + random_negatives + 1).
  config.group_size = 17
  # Queries per device per step (global = this x local devices).
  config.queries_per_device = 4 if config.variant == "small" else 16
  # Encode each pair's edited span plus this many tokens around it (see configs/default.py).
  config.model.pair_window = 12
  # Start at the prior: zero score head and LM weight (see configs/default.py).
  config.model.residual_init = True
  # No dropout when finetuning the small scorer (pretraining keeps configs/default.py's
  # 0.1): in under an epoch of 6,348 queries it underfits, and dropout cost it about 0.01
  # valid test-mix MRR in the README's recipe (two seeds) and in longer runs (BENCHMARKS.md,
  # sessions 22-23). Not in the params, so a bundle trained either way continues either way.
  if config.variant == "small":
    config.model.dropout = 0.0
    config.model.attention_dropout = 0.0
  # The pair lengths the exported bundle pads to when it serves (() = the scorer's
  # 32 / 64 / 128 / 256). Speed only: whole pairs (pair_window 0) want 96, 160 and 192
  # too, so a median query's 1000 candidates stay inside 100 ms (BENCHMARKS.md, session 21).
  config.bundle_length_buckets = ()
  # Total optimiser steps. The small default is the README's first command (0.5 steps/s,
  # 12-15 minutes on a quiet 2-core CPU); the bundled scorer trained longer (BENCHMARKS.md).
  config.num_steps = 300 if config.variant == "small" else 10_000
  # Linear warm-up (steps).
  config.warmup_steps = 40 if config.variant == "small" else 200
  # The validation metric the best checkpoint maximises: "mrr", or "balanced_mrr" (valid
  # reweighted to test's mix of distances and lengths, metrics.balanced_summary).
  config.select_on = "balanced_mrr"
  # Which queries each epoch draws: "none" (every training query once, in a shuffled
  # order) or "test" (drawn with replacement so each edit distance comes up as often as
  # in test, the mix selection reweights valid to; train is 61% distance 1).
  config.balance = "none"
  # With balance "test": each query's weight is raised to this power (0 < power <= 1), so
  # 1 draws test's mix and 0.5 goes halfway (in log-weights) from train's mix toward it.
  config.balance_power = 1.0
  # Distillation: a larger model's scorer bundle or finetune workdir, trained behind the same
  # first stage, whose softmax over each training group is a soft target (path; "" = none).
  # It scores every training group once at the start, cached in the workdir as
  # teacher_residuals.jsonl.gz; with that file there the teacher itself is not loaded.
  config.teacher = ""
  # Weight of the distillation loss against the truth's listwise loss (0..1).
  config.distill_weight = 0.5
  # Validate and checkpoint every this many steps.
  config.eval_every_steps = 150 if config.variant == "small" else 250
  config.checkpoint_every_steps = config.eval_every_steps
  return config
