"""Stage 1: causal next-token pretraining over `[BOS] broken [SEP] fixed [EOS]`.

`train_step`/`eval_step` are pure and device-agnostic apart from the named
`"batch"` axis they reduce over; `train` compiles them with `jax.pmap` over
all local devices (gradients `pmean`-ed, metrics `psum`-ed) and hands them,
with the batches and the evaluation, to the shared loop (`training.loop`:
resumption, cadence, checkpoints, several processes). The job is
`repair_rank.jobs.pretrain`.
"""
import functools
import pathlib
from typing import Any, Callable, Sequence

from absl import logging
from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from repair_rank import distributed
from repair_rank.data import corpora
from repair_rank.model import batches as batches_lib
from repair_rank.model import features
from repair_rank.model import models
from repair_rank.training import loop
from repair_rank.training import optimizers

AXIS = loop.AXIS
Batch = dict[str, Any]
Metrics = dict[str, jax.Array]


def lm_loss_sums(logits: jax.Array, inputs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Summed next-token cross-entropy, target count and correct count (PAD targets ignored)."""
  targets = inputs[:, 1:]
  logits = logits[:, :-1].astype(jnp.float32)
  weights = (targets != features.PAD).astype(jnp.float32)
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
  correct = (logits.argmax(-1) == targets).astype(jnp.float32)
  return (losses * weights).sum(), weights.sum(), (correct * weights).sum()


def train_step(state: train_state.TrainState, batch: Batch, rng: jax.Array, *,
               axis_name: str = AXIS) -> tuple[train_state.TrainState, Metrics]:
  """One optimiser step on a device's shard; the loss is the global per-token mean.

  Each device scales its summed loss by (devices / global target count), so
  `pmean` of the gradients is exactly the gradient of the global mean, however
  the targets are split across devices.
  """
  inputs = batch["inputs"]
  rng = jax.random.fold_in(jax.random.fold_in(rng, state.step), jax.lax.axis_index(axis_name))
  local_weight = (inputs[:, 1:] != features.PAD).sum().astype(jnp.float32)
  total_weight = jnp.maximum(jax.lax.psum(local_weight, axis_name), 1.0)
  devices = jax.lax.psum(1, axis_name)

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, inputs, rngs={"dropout": rng})
    loss_sum, _, correct = lm_loss_sums(logits, inputs)
    return loss_sum * devices / total_weight, (loss_sum, correct)

  grads, (loss_sum, correct) = jax.grad(loss_fn, has_aux=True)(state.params)
  grads = jax.lax.pmean(grads, axis_name)
  new_state = state.apply_gradients(grads=grads)
  metrics = {"loss_sum": loss_sum, "weight": local_weight, "correct": correct,
             "grad_norm": optax.tree.norm(grads) / devices,
             "tokens": (inputs != features.PAD).sum()}
  return new_state, jax.lax.psum(metrics, axis_name)


def eval_step(params: Any, batch: Batch, *, apply_fn: Callable[..., jax.Array],
              axis_name: str = AXIS) -> Metrics:
  """Summed loss / targets / correct over all devices (no dropout)."""
  logits = apply_fn({"params": params}, batch["inputs"])
  loss_sum, weight, correct = lm_loss_sums(logits, batch["inputs"])
  return jax.lax.psum({"loss_sum": loss_sum, "weight": weight, "correct": correct}, axis_name)


def lm_scalars(metrics: Metrics) -> dict[str, float]:
  """loss (nats per token), perplexity and accuracy from summed metrics."""
  weight = max(float(metrics["weight"]), 1.0)
  loss = float(metrics["loss_sum"]) / weight
  out = {"loss": loss, "perplexity": float(np.exp(min(loss, 50.0))),
         "accuracy": float(metrics["correct"]) / weight}
  if "grad_norm" in metrics:
    out["grad_norm"] = float(metrics["grad_norm"])
  return out


@functools.lru_cache(maxsize=8)
def _initializer(model_config: models.TransformerConfig) -> Callable[[jax.Array], Any]:
  # Cached (like the compiled steps) so repeated runs in one process compile once.
  dummy = jnp.zeros((1, min(8, model_config.max_len)), jnp.int32)
  return jax.jit(lambda rng: models.LanguageModel(model_config).init(rng, dummy)["params"])


@functools.lru_cache(maxsize=8)
def _train_model(model_config: models.TransformerConfig) -> models.LanguageModel:
  # One module object per config, so `TrainState.apply_fn` is the same static value across
  # runs and the pmapped step is not recompiled.
  return models.LanguageModel(model_config.replace(deterministic=False))


def create_train_state(rng: jax.Array, model_config: models.TransformerConfig,
                       config: ml_collections.ConfigDict) -> train_state.TrainState:
  """Initialised LanguageModel params and an AdamW optimiser with warm-up/cosine schedule."""
  params = _initializer(model_config)(rng)
  return train_state.TrainState.create(apply_fn=_train_model(model_config).apply, params=params,
                                       tx=optimizers.adamw(config))


@functools.lru_cache(maxsize=8)
def _compile_steps(model_config: models.TransformerConfig,
                   devices: tuple[jax.Device, ...] | None) -> tuple[Callable, Callable]:
  p_train = jax.pmap(train_step, axis_name=AXIS, donate_argnums=(0,), devices=devices)
  p_eval = jax.pmap(functools.partial(eval_step, apply_fn=models.LanguageModel(model_config).apply),
                    axis_name=AXIS, devices=devices)
  return p_train, p_eval


def compile_steps(model_config: models.TransformerConfig,
                  devices: Sequence[jax.Device] | None = None) -> tuple[Callable, Callable]:
  """pmapped (train_step, eval_step) over `devices` (default all local devices).

  Cached per (model config, devices), so a resumed run in the same process reuses
  the compiled steps.
  """
  return _compile_steps(model_config, tuple(devices) if devices else None)


def read_sequences(split: str, max_len: int) -> list[np.ndarray]:
  """The `[BOS] broken [SEP] fixed [EOS]` ids of one bundled split."""
  return pair_sequences(corpora.split_pairs(split), max_len)


def pair_sequences(pairs: Sequence[dict], max_len: int) -> list[np.ndarray]:
  """The `[BOS] broken [SEP] fixed [EOS]` ids of (broken, fixed) pairs."""
  return [features.lm_sequence(p["broken"].split(), p["fixed"].split(), max_len)
          for p in pairs]


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
          train_sequences: Sequence[np.ndarray], valid_sequences: Sequence[np.ndarray] = (),
          devices: Sequence[jax.Device] | None = None) -> train_state.TrainState:
  """Trains (or resumes) to `config.num_steps`; returns the final host-side state.

  `devices` are this process's (default: all local ones); with several processes
  the global batch is per_device_batch_size x the devices of all processes.
  """
  run = loop.start(config, workdir, devices)
  model_config, global_devices = run.model_config, run.global_devices
  init_rng, dropout_rng = jax.random.split(jax.random.PRNGKey(config.seed))
  state = create_train_state(init_rng, model_config, config)
  logging.info("LanguageModel: %d params, compute dtype %s, %d device(s) in %d process(es)",
               loop.tree_size(state.params), jnp.dtype(model_config.dtype).name,
               global_devices, jax.process_count())

  buckets = [b for b in config.length_buckets if b < model_config.max_len] + [model_config.max_len]
  batches = batches_lib.LMBatches(
      train_sequences, devices=global_devices, per_device_batch=config.per_device_batch_size,
      buckets=buckets, seed=config.seed, **run.shard)
  p_train, p_eval = compile_steps(model_config, distributed.pmap_devices(run.devices))
  schedule = optimizers.warmup_cosine(config.learning_rate, config.warmup_steps,
                                      config.num_steps)

  def train_scalars(summed: dict[str, Any], steps: int, seconds: float, done: int
                    ) -> dict[str, float]:
    summed = dict(summed, grad_norm=summed["grad_norm"] / steps)
    scalars = lm_scalars(summed)
    scalars.update(steps_per_second=steps / seconds,
                   tokens_per_second=float(summed["tokens"]) / seconds,
                   learning_rate=float(schedule(done - 1)))
    return scalars

  def evaluate(state: train_state.TrainState, done: int) -> dict[str, float] | None:
    del done
    if not valid_sequences:
      return None
    total = None
    for batch in batches_lib.lm_eval_batches(
        valid_sequences, devices=global_devices, per_device_batch=config.per_device_batch_size,
        buckets=buckets, **run.shard):
      metrics = distributed.unreplicate(p_eval(state.params, batch))
      total = metrics if total is None else jax.tree.map(np.add, total, metrics)
    return lm_scalars(total)

  stage = loop.Stage(
      name="pretrain", train_step=p_train, batch=batches.batch, train_scalars=train_scalars,
      evaluate=evaluate, checkpoint_every_steps=config.checkpoint_every_steps,
      panels={"train loss (nats/token)": ("train", "loss"),
              "valid loss (nats/token)": ("valid", "loss")},
      plot_unfinished=True)
  return loop.train(config, run, stage, state, dropout_rng)
