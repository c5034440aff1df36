"""Shared defaults of the model jobs (pretrain, finetune); variants "small" and "full".

  python -m repair_rank.main --config configs/finetune.py:full --workdir /tmp/ft

"small" is the CPU model that ships as the bundled default scorer; "full" is the
prototype's 512 dims / 8 heads / 4 layers for GPU/TPU. Job configs override a
few fields of this one instead of copying it.
"""
import ml_collections

VARIANTS = ("small", "full")


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
  """Defaults shared by pretraining and finetuning for one model size."""
  variant = variant or "small"
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to its module); set by the job configs.
  config.job = ""
  # Model size name ("small" or "full"), recorded in the workdir for reference.
  config.variant = variant

  model = ml_collections.ConfigDict()
  # Embedding and hidden width (units per position).
  model.dim = 512 if variant == "full" else 128
  # Attention heads per layer (dim must be divisible by it).
  model.heads = 8 if variant == "full" else 4
  # Number of pre-LN transformer blocks.
  model.layers = 4 if variant == "full" else 3
  # Hidden width of each block's feed-forward layer (units).
  model.mlp_dim = 4 * model.dim
  # Longest sequence in tokens, specials included ([BOS] a [SEP] b [EOS]); position table size.
  model.max_len = 256
  # Dropout rate on embeddings, residual branches and the pooled embedding (probability).
  model.dropout = 0.1
  # Dropout rate on attention weights (probability).
  model.attention_dropout = 0.1
  # Compute dtype: "auto" (bfloat16 on GPU/TPU, float32 on CPU), "float32" or "bfloat16".
  # Params, optimiser state, logits and losses stay float32.
  model.dtype = "auto"
  # Whether the LM output layer is the transposed token embedding (else a Dense "lm_head").
  model.tied_output = True
  # Scorer: add the per-position edit-alignment channel (kept/inserted/substituted/deleted).
  model.edit_channel = True
  # Scorer: add an embedding of the candidate's token edit distance to the query.
  model.distance_feature = True
  # Scorer: distances above this share one embedding (tokens).
  model.max_distance = 8
  # Scorer: keep the causal mask of pretraining (True) or attend both ways (False).
  model.causal_scorer = True
  # Scorer: how hidden states become one embedding: "mean" (over real tokens) or "last" (EOS).
  model.pooling = "mean"
  # Scorer: add a learned multiple of the LM's log P(candidate | query) to the score.
  model.lm_feature = True
  # Scorer: encode only each pair's edited span plus this many tokens of context on each
  # side (tokens; 0 = the whole query and candidate). Stored with the model, so serving
  # encodes pairs exactly as training did.
  model.pair_window = 0
  # Scorer: start the score head and the LM feature's weight at zero, so a model trained on
  # top of a prior starts exactly at that prior and learns a residual (bool).
  model.residual_init = False
  config.model = model

  # Padded sequence lengths of batches (tokens); a batch pads to the smallest that fits.
  config.length_buckets = (32, 64, 128, 256)
  # Seed of parameter init, dropout and data order (integer).
  config.seed = 0
  # Total optimiser steps (global steps, each over all devices).
  config.num_steps = 10_000
  # Linear warm-up length of the learning rate (steps).
  config.warmup_steps = 500
  # Peak learning rate of the warm-up/cosine schedule (per step).
  config.learning_rate = 1e-3
  # AdamW decoupled weight decay (per step, times the learning rate).
  config.weight_decay = 0.01
  # Gradient clipping threshold on the global L2 norm.
  config.grad_clip_norm = 1.0
  # Wall-clock budget of one run (seconds; 0 = none): past it, training stops at the next
  # logging step with a final checkpoint (finetune: validation and export too), e.g. to fit
  # a lease of fixed length. The learning-rate schedule still spans num_steps.
  config.max_train_seconds = 0.0
  # Write training metrics every this many steps.
  config.log_every_steps = 50
  # Evaluate (and, for finetune, checkpoint with the validation metric) every this many steps.
  config.eval_every_steps = 500
  # Save a checkpoint every this many steps (pretrain; finetune saves at evaluations).
  config.checkpoint_every_steps = 500
  # Number of most recent checkpoints kept (the best one is kept in addition by finetune).
  config.keep_checkpoints = 3
  # Show tqdm progress bars (bool).
  config.progress = True
  # Log JAX devices at start-up (bool).
  config.log_devices = True

  # Several processes (hosts) training together; README "Beyond one machine".
  # Call jax.distributed.initialize before any other JAX use (bool). Every process runs the
  # same command; each pmaps over its own devices and feeds its slice of the global batch.
  config.distributed = False
  # Process 0's coordinator as "host:port"; "" = auto-detect (Cloud TPU, SLURM, Open MPI).
  config.coordinator_address = ""
  # Number of processes in the run (0 = auto-detect).
  config.num_processes = 0
  # This process's index in [0, num_processes) (-1 = auto-detect).
  config.process_id = -1
  return config
