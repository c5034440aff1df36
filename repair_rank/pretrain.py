"""Stage 1: causal next-token pretraining over `[BOS] broken [SEP] fixed [EOS]`.

  python -m repair_rank.main --config configs/pretrain.py --workdir workdir/pretrain

`train_step`/`eval_step` are pure and device-agnostic apart from the named
`"batch"` axis they reduce over; `train` compiles them with `jax.pmap` over
all local devices (gradients `pmean`-ed, metrics `psum`-ed), replicates the
state, and runs the loop with periodic logging, evaluation and orbax
checkpoints. A killed run resumes from the latest checkpoint and continues
exactly: batches are a pure function of the step, the dropout key is
`fold_in(key, step)`.

With several processes (`config.distributed`, see repair_rank.main) every
process runs this same loop: the pmap spans all devices of all processes, each
process feeds its block of the global batch, and only process 0 writes metrics
and plots; all of them take part in orbax checkpointing.
"""
import functools
import pathlib
import time
from typing import Any, Callable, Sequence

from absl import logging
from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
import tqdm

from repair_rank import input_pipeline
from repair_rank import models
from repair_rank import paths
from repair_rank import train_utils
from repair_rank.data import stackoverflow

AXIS = "batch"
Batch = dict[str, Any]
Metrics = dict[str, jax.Array]


def lm_loss_sums(logits: jax.Array, inputs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Summed next-token cross-entropy, target count and correct count (PAD targets ignored)."""
  targets = inputs[:, 1:]
  logits = logits[:, :-1].astype(jnp.float32)
  weights = (targets != input_pipeline.PAD).astype(jnp.float32)
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
  local_weight = (inputs[:, 1:] != input_pipeline.PAD).sum().astype(jnp.float32)
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
             "tokens": (inputs != input_pipeline.PAD).sum()}
  return new_state, jax.lax.psum(metrics, axis_name)


def eval_step(params: Any, batch: Batch, *, apply_fn: Callable[..., jax.Array],
              axis_name: str = AXIS) -> Metrics:
  """Summed loss / targets / correct over all devices (no dropout)."""
  logits = apply_fn({"params": params}, batch["inputs"])
  loss_sum, weight, correct = lm_loss_sums(logits, batch["inputs"])
  return jax.lax.psum({"loss_sum": loss_sum, "weight": weight, "correct": correct}, axis_name)


def summarize(metrics: Metrics) -> dict[str, float]:
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
                                       tx=train_utils.adamw(config))


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
  return [input_pipeline.lm_sequence(p["broken"].split(), p["fixed"].split(), max_len)
          for p in stackoverflow.read_pairs(paths.split_path(split))]


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
          train_sequences: Sequence[np.ndarray], valid_sequences: Sequence[np.ndarray] = (),
          devices: Sequence[jax.Device] | None = None) -> train_state.TrainState:
  """Trains (or resumes) to `config.num_steps`; returns the final host-side state.

  `devices` are this process's (default: all local ones); with several processes
  the global batch is per_device_batch_size x the devices of all processes.
  """
  workdir, devices, model_config = train_utils.start_run(config, workdir, devices)
  shard = dict(process_index=jax.process_index(), process_count=jax.process_count())
  global_devices = len(devices) * jax.process_count()

  init_rng, dropout_rng = jax.random.split(jax.random.PRNGKey(config.seed))
  state = create_train_state(init_rng, model_config, config)
  logging.info("LanguageModel: %d params, compute dtype %s, %d device(s) in %d process(es)",
               train_utils.tree_size(state.params), jnp.dtype(model_config.dtype).name,
               global_devices, jax.process_count())
  manager = train_utils.checkpoint_manager(workdir / "checkpoints",
                                           keep=config.keep_checkpoints)
  writer = train_utils.MetricWriter(workdir, job="pretrain", active=train_utils.is_primary())
  state, start_step = train_utils.resume(manager, writer, state)

  buckets = [b for b in config.length_buckets if b < model_config.max_len] + [model_config.max_len]
  batches = input_pipeline.LMBatches(
      train_sequences, devices=global_devices, per_device_batch=config.per_device_batch_size,
      buckets=buckets, seed=config.seed, **shard)
  p_train, p_eval = compile_steps(model_config, train_utils.pmap_devices(devices))
  schedule = train_utils.warmup_cosine(config.learning_rate, config.warmup_steps, config.num_steps)
  state = train_utils.replicate(state, devices, AXIS)
  rngs = train_utils.replicate(dropout_rng, devices, AXIS)

  def evaluate(step: int) -> None:
    if not valid_sequences:
      return
    total = None
    for batch in input_pipeline.lm_eval_batches(
        valid_sequences, devices=global_devices, per_device_batch=config.per_device_batch_size,
        buckets=buckets, **shard):
      metrics = train_utils.unreplicate(p_eval(state.params, batch))
      total = metrics if total is None else jax.tree.map(np.add, total, metrics)
    writer.write(step, "valid", summarize(total))

  pending, tick = [], time.perf_counter()
  # `stop_after_steps` ends the loop early without a final checkpoint, as a kill would
  # (tests use it to check exact resumption); the schedule still spans num_steps.
  stop = min(config.num_steps, config.get("stop_after_steps") or config.num_steps)
  progress = tqdm.trange(start_step, stop, initial=start_step,
                         total=config.num_steps, desc="pretrain",
                         disable=not (config.progress and train_utils.is_primary()))
  clock, last = train_utils.TrainClock(config.get("max_train_seconds", 0)), False
  for step in progress:
    state, metrics = p_train(state, batches.batch(step), rngs)
    pending.append(metrics)
    done = step + 1
    # The clock is read at logging steps only (a cross-process broadcast with several).
    last = done == config.num_steps or (done % config.log_every_steps == 0 and clock.expired())
    if done % config.log_every_steps == 0 or last:
      summed = jax.tree.map(lambda *xs: np.sum([x[0] for x in xs]), *jax.device_get(pending))
      summed["grad_norm"] = summed["grad_norm"] / len(pending)
      elapsed = time.perf_counter() - tick
      scalars = summarize(summed)
      scalars.update(steps_per_second=len(pending) / elapsed,
                     tokens_per_second=float(summed["tokens"]) / elapsed,
                     learning_rate=float(schedule(done - 1)))
      writer.write(done, "train", scalars)
      progress.set_postfix(loss=f"{scalars['loss']:.3f}")
      pending, tick = [], time.perf_counter()
    if done % config.eval_every_steps == 0 or last:
      evaluate(done)
    if done % config.checkpoint_every_steps == 0 or last:
      manager.save(done, args=ocp.args.StandardSave(train_utils.unreplicate(state)))
    if last:
      break
  manager.wait_until_finished()
  if train_utils.is_primary():
    train_utils.plot_metrics(workdir, {"train loss (nats/token)": ("train", "loss"),
                                       "valid loss (nats/token)": ("valid", "loss")})
  return train_utils.unreplicate(state)


def load_params(checkpoint_dir: str | pathlib.Path, step: int | None = None) -> dict[str, Any]:
  """The params of a pretraining checkpoint (latest step by default), as nested dicts.

  `checkpoint_dir` is a pretrain workdir or its `checkpoints/` directory.
  """
  checkpoint_dir = pathlib.Path(checkpoint_dir).resolve()
  if (checkpoint_dir / "checkpoints").is_dir():
    checkpoint_dir = checkpoint_dir / "checkpoints"
  manager = ocp.CheckpointManager(checkpoint_dir, options=ocp.CheckpointManagerOptions(
      read_only=True))
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"no checkpoints in {checkpoint_dir}")
  restored = manager.restore(step, args=ocp.args.StandardRestore())
  return restored["params"]


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """The pretrain job: train on the bundled train pairs, evaluate on valid."""
  max_len = config.model.max_len
  train(config, workdir, train_sequences=read_sequences("train", max_len),
        valid_sequences=read_sequences("valid", max_len)[:config.max_eval_sequences or None])
