"""Stage 2: listwise ranking of each query's truth among sampled negatives.

Each step scores, for many queries at once, a shuffled group of G candidates
(the truth plus G-1 negatives drawn from the generator's candidates); the loss
is the softmax cross-entropy of the truth over its group, scores divided by
TAU. The encoder (loaded by name from a pretraining checkpoint, or from
scratch) is frozen or fine-tuned with its own learning rate. Validation MRR
and P@1 come from repair_rank.ranking.evaluate (shuffled, pessimistic ties)
with the in-process `scorer.Scorer`; checkpoints keep the last N and the best
by MRR. The loop is the shared one (`training.loop`); every process validates
(so all pass the same metric to the checkpoint manager) and takes part in the
export, whose files only process 0 writes. The job is `repair_rank.jobs.finetune`.
"""
import functools
import pathlib
from typing import Any, Callable, Sequence

from absl import logging
import flax
from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from repair_rank import distributed
from repair_rank.data import instances as instances_lib
from repair_rank.model import batches as batches_lib
from repair_rank.model import checkpoints
from repair_rank.model import models
from repair_rank.ranking import evaluate as evaluate_lib
from repair_rank.ranking import registry
from repair_rank.ranking import scorer as scorer_lib
from repair_rank.training import loop
from repair_rank.training import optimizers

AXIS = loop.AXIS
Batch = dict[str, Any]
Metrics = dict[str, jax.Array]
BATCH_KEYS = ("inputs", "edits", "targets", "distance")


def listwise_loss_sums(scores: jax.Array, mask: jax.Array, label: jax.Array, tau: float
                       ) -> tuple[jax.Array, jax.Array]:
  """Summed softmax cross-entropy of the truth over each group, and top-1 hits.

  scores, mask: [queries, group]; label: [queries]. Padded group slots are masked out.
  """
  logits = jnp.where(mask, scores.astype(jnp.float32) / tau, -1e9)
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, label)
  truth = jnp.take_along_axis(logits, label[:, None], axis=1)
  # Pessimistic top-1: any other real candidate scoring >= the truth is a miss.
  beaten = ((logits >= truth) & mask).sum(1) > 1
  return losses.sum(), (~beaten).astype(jnp.float32).sum()


def _encoder_frozen_params(params: Any) -> Any:
  """params with the pretrained part behind stop_gradient (no backward pass through it)."""
  return {k: jax.lax.stop_gradient(v) if models.is_encoder_param((k,)) else v
          for k, v in params.items()}


def train_step(state: train_state.TrainState, batch: Batch, rng: jax.Array, *, tau: float,
               freeze_encoder: bool, axis_name: str = AXIS
               ) -> tuple[train_state.TrainState, Metrics]:
  """One optimiser step on a device's queries; the loss is the global per-query mean."""
  rng = jax.random.fold_in(jax.random.fold_in(rng, state.step), jax.lax.axis_index(axis_name))
  local_queries = jnp.asarray(batch["label"].shape[0], jnp.float32)
  total_queries = jax.lax.psum(local_queries, axis_name)
  devices = jax.lax.psum(1, axis_name)

  def loss_fn(params):
    if freeze_encoder:
      params = _encoder_frozen_params(params)
    scores = state.apply_fn({"params": params}, **{k: batch[k] for k in BATCH_KEYS},
                            rngs={"dropout": rng})
    if "offset" in batch:  # Training on top of a prior: the model learns its residual.
      scores = scores + batch["offset"]
    loss_sum, hits = listwise_loss_sums(scores, batch["mask"], batch["label"], tau)
    return loss_sum * devices / total_queries, (loss_sum, hits)

  grads, (loss_sum, hits) = jax.grad(loss_fn, has_aux=True)(state.params)
  grads = jax.lax.pmean(grads, axis_name)
  new_state = state.apply_gradients(grads=grads)
  metrics = {"loss_sum": loss_sum, "queries": local_queries, "hits": hits}
  return new_state, jax.lax.psum(metrics, axis_name)


def param_labels(params: Any) -> Any:
  """'encoder' for the pretrained part (encoder, lm_head), 'head' for the rest."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
  labels = {path: "encoder" if models.is_encoder_param(path) else "head" for path in flat}
  return flax.traverse_util.unflatten_dict(labels)


def optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Per-group AdamW on warm-up/cosine schedules: head at `learning_rate`, encoder at
  `encoder_learning_rate` or frozen. Global-norm clipping applies within each group."""
  encoder = None if config.freeze_encoder else config.encoder_learning_rate
  return optimizers.adamw(config, groups=(("head", config.learning_rate), ("encoder", encoder)),
                          labels=param_labels)


@functools.lru_cache(maxsize=8)
def _initializer(model_config: models.TransformerConfig) -> Callable[[jax.Array], Any]:
  dummy = {k: jnp.zeros((1, 8), jnp.int32) for k in ("inputs", "edits", "targets")}
  dummy["distance"] = jnp.zeros((1,), jnp.int32)
  return jax.jit(lambda rng: models.PairScorer(model_config).init(rng, **dummy)["params"])


@functools.lru_cache(maxsize=8)
def _train_model(model_config: models.TransformerConfig) -> models.PairScorer:
  return models.PairScorer(model_config.replace(deterministic=False))


def load_pretrained(params: Any, pretrained: Any, source: str = "pretrained checkpoint") -> Any:
  """params with the encoder (and lm_head) replaced by the pretrained ones, checked by shape."""
  params = dict(params)
  for name in models.ENCODER_COLLECTIONS:
    if name not in params and name not in pretrained:
      continue
    if name not in pretrained or name not in params:
      raise ValueError(f"{source}: {name!r} is in one model but not the other "
                       "(tied_output must match)")
    ours = jax.tree_util.tree_structure(params[name])
    theirs = jax.tree_util.tree_structure(pretrained[name])
    shapes = [(np.shape(a), np.shape(b)) for a, b in zip(jax.tree.leaves(params[name]),
                                                          jax.tree.leaves(pretrained[name]))]
    if ours != theirs or any(a != b for a, b in shapes):
      raise ValueError(f"{source}: {name!r} params do not match this model config "
                       "(dim/heads/layers/mlp_dim/max_len must equal pretraining's)")
    params[name] = jax.tree.map(jnp.asarray, pretrained[name])
  return params


def create_train_state(rng: jax.Array, model_config: models.TransformerConfig,
                       config: ml_collections.ConfigDict,
                       pretrained: Any | None = None) -> train_state.TrainState:
  """PairScorer params (encoder from `pretrained` if given) and the per-group optimiser."""
  params = _initializer(model_config)(rng)
  if pretrained is not None:
    params = load_pretrained(params, pretrained)
  return train_state.TrainState.create(apply_fn=_train_model(model_config).apply, params=params,
                                       tx=optimizer(config))


@functools.lru_cache(maxsize=8)
def _compile_train_step(tau: float, freeze_encoder: bool,
                        devices: tuple[jax.Device, ...] | None) -> Callable:
  step = functools.partial(train_step, tau=tau, freeze_encoder=freeze_encoder)
  return jax.pmap(step, axis_name=AXIS, donate_argnums=(0,), devices=devices)


def compile_train_step(config: ml_collections.ConfigDict,
                       devices: Sequence[jax.Device] | None = None) -> Callable:
  """The pmapped train step (cached per TAU, freezing and devices)."""
  return _compile_train_step(float(config.tau), bool(config.freeze_encoder),
                             tuple(devices) if devices else None)


def validate(model_config: models.TransformerConfig, params: Any,
             instances: Sequence[instances_lib.RankingInstance], seed: int,
             prior: str = "", prior_weight: float = 0.0) -> dict[str, float]:
  """Ranking-view MRR / P@1 / P@10 through repair_rank.ranking.evaluate, with the in-process scorer
  (plus prior_weight x the `prior` baseline, as the model was trained and is exported)."""
  scorer = _with_prior(scorer_lib.Scorer(model_config, params), prior, prior_weight)
  row = evaluate_lib.evaluate(instances, scorer.score, seed=seed, progress=False)["ranking"]["all"]
  return {"mrr": row["mrr"], "p@1": row["p@1"], "p@10": row["p@10"]}


def _with_prior(scorer: scorer_lib.Scorer, prior: str, prior_weight: float) -> scorer_lib.Scorer:
  if prior and prior_weight:
    scorer.prior, scorer.prior_weight = prior, prior_weight
  return scorer


def prior_settings(config: ml_collections.ConfigDict) -> tuple[str, float]:
  """(prior baseline name, weight) of `config`; ("", 0.0) when training without one."""
  prior, weight = config.get("prior", ""), float(config.get("prior_weight", 0.0))
  if bool(prior) != bool(weight):
    raise ValueError("config.prior and config.prior_weight go together: set both or neither "
                     f"(got prior={prior!r}, prior_weight={weight})")
  if prior and prior not in registry.baseline_names():
    raise ValueError(f"config.prior: unknown baseline {prior!r}; known: "
                     f"{', '.join(registry.baseline_names())}")
  return prior, weight


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
          train_instances: Sequence[instances_lib.RankingInstance],
          valid_instances: Sequence[instances_lib.RankingInstance] = (),
          devices: Sequence[jax.Device] | None = None) -> train_state.TrainState:
  """Trains (or resumes) to `config.num_steps`; returns the final host-side state.

  `devices` are this process's (default: all local ones); with several processes
  the global batch is queries_per_device x the devices of all processes.
  """
  run = loop.start(config, workdir, devices)
  model_config, global_devices = run.model_config, run.global_devices
  init_rng, dropout_rng = jax.random.split(jax.random.PRNGKey(config.seed))
  pretrained = None
  if config.pretrained_checkpoint:
    pretrained = checkpoints.load_params(config.pretrained_checkpoint)
    logging.info("encoder initialised from %s", config.pretrained_checkpoint)
  state = create_train_state(init_rng, model_config, config, pretrained)
  logging.info("PairScorer: %d params (%s encoder), %d device(s) in %d process(es)",
               loop.tree_size(state.params),
               "frozen" if config.freeze_encoder else "fine-tuned", global_devices,
               jax.process_count())

  prior, prior_weight = prior_settings(config)
  batches = batches_lib.RankingBatches(
      train_instances, devices=global_devices, queries_per_device=config.queries_per_device,
      group_size=config.group_size, max_len=model_config.max_len,
      buckets=config.length_buckets, seed=config.seed,
      prior=registry.get(prior) if prior else None, prior_weight=prior_weight, **run.shard)
  p_train = compile_train_step(config, distributed.pmap_devices(run.devices))
  best_metric = scorer_lib.BEST_METRIC if valid_instances else None
  valid_instances = list(valid_instances)[:config.max_valid_instances or None]

  def train_scalars(summed: dict[str, Any], steps: int, seconds: float, done: int
                    ) -> dict[str, float]:
    del done
    queries = max(float(summed["queries"]), 1.0)
    return {"loss": float(summed["loss_sum"]) / queries,
            "group_p@1": float(summed["hits"]) / queries,
            "steps_per_second": steps / seconds}

  def evaluate(state: train_state.TrainState, done: int) -> dict[str, float] | None:
    del done
    if not valid_instances:
      return None
    return validate(model_config, distributed.unreplicate(state).params, valid_instances,
                    config.seed, prior, prior_weight)

  stage = loop.Stage(
      name="finetune", train_step=p_train, batch=batches.batch, train_scalars=train_scalars,
      evaluate=evaluate, checkpoint_every_steps=config.eval_every_steps,
      checkpoint_metrics=lambda valid: (
          None if valid is None else {scorer_lib.BEST_METRIC: valid["mrr"]}),
      best_metric=best_metric,
      panels={"train listwise loss": ("train", "loss"), "valid MRR": ("valid", "mrr"),
              "valid P@1": ("valid", "p@1")})
  return loop.train(config, run, stage, state, dropout_rng)


def export(workdir: str | pathlib.Path, bundle: str | pathlib.Path | None = None, *,
           prior: str = "", prior_weight: float = 0.0) -> pathlib.Path:
  """Writes the workdir's best (else latest) checkpoint as a scorer bundle.

  A model trained on top of a prior is exported with it (the bundle's ensemble).
  With several processes every one must call it; only process 0 writes.
  """
  workdir = pathlib.Path(workdir)
  scorer = _with_prior(scorer_lib.load_workdir(workdir), prior, prior_weight)
  return scorer.save(bundle or workdir / "scorer_bundle")


def read_train_instances(config: ml_collections.ConfigDict) -> list[instances_lib.RankingInstance]:
  """`config.train_instances` followed by those of each `config.extra_train_instances` path."""
  out = instances_lib.read(config.train_instances)
  for path in config.get("extra_train_instances", ()):
    extra = instances_lib.read(path)
    logging.info("%d extra train instances from %s", len(extra), path)
    out.extend(extra)
  return out
