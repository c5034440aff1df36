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
import dataclasses
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
from repair_rank.ranking import learned_prior
from repair_rank.ranking import metrics as metrics_lib
from repair_rank.ranking import registry
from repair_rank.ranking import scorer as scorer_lib
from repair_rank.training import distill
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


def distillation_loss_sum(scores: jax.Array, teacher: jax.Array, mask: jax.Array,
                          known: jax.Array, tau: float) -> jax.Array:
  """Summed cross-entropy between the teacher's and the model's softmax over each group.

  scores, teacher, mask: [queries, group] (final scores, first stage included);
  known: [queries], False where the teacher did not score the group (no term).
  """
  logits = jnp.where(mask, scores.astype(jnp.float32) / tau, -1e9)
  targets = jax.nn.softmax(jnp.where(mask, teacher.astype(jnp.float32) / tau, -1e9))
  losses = optax.softmax_cross_entropy(logits, targets)
  return jnp.where(known, losses, 0.0).sum()


def _encoder_frozen_params(params: Any) -> Any:
  """params with the pretrained part behind stop_gradient (no backward pass through it)."""
  return {k: jax.lax.stop_gradient(v) if models.is_encoder_param((k,)) else v
          for k, v in params.items()}


def train_step(state: train_state.TrainState, batch: Batch, rng: jax.Array, *, tau: float,
               freeze_encoder: bool, distill_weight: float = 0.0, axis_name: str = AXIS
               ) -> tuple[train_state.TrainState, Metrics]:
  """One optimiser step on a device's queries; the loss is the global per-query mean.

  With a teacher in the batch the loss per query is (1 - distill_weight) x the truth's
  listwise loss + distill_weight x the distillation loss.
  """
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
    if "teacher" in batch:
      soft = distillation_loss_sum(scores, batch["teacher"], batch["mask"],
                                   batch["teacher_mask"], tau)
      loss_sum = (1.0 - distill_weight) * loss_sum + distill_weight * soft
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


def scorer_params(path: str | pathlib.Path, model_config: models.TransformerConfig,
                  fresh: Any) -> Any:
  """The params of the scorer bundle or finetune workdir at `path`, checked against
  `fresh` (this config's newly initialised params) by tree and shape."""
  source = scorer_lib.load(path)
  ours, theirs = dataclasses.asdict(model_config), dataclasses.asdict(source.model_config)
  # These change how the same params are run or fed (precision, regularisation, how much
  # of each pair the encoder reads), not the params: a continuation may change them.
  free = ("dtype", "dropout", "attention_dropout", "pair_window")
  differ = sorted(k for k in ours if k not in free and ours[k] != theirs.get(k))
  if differ:
    raise ValueError(f"init_scorer {path}: its model differs from this config's in "
                     + ", ".join(f"{k} ({theirs.get(k)!r} there, {ours[k]!r} here)"
                                 for k in differ))
  params = jax.tree.map(jnp.asarray, jax.device_get(source.params))
  if jax.tree_util.tree_structure(params) != jax.tree_util.tree_structure(fresh):
    raise ValueError(f"init_scorer {path}: its params' tree differs from this model's")
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
def _compile_train_step(tau: float, freeze_encoder: bool, distill_weight: float,
                        devices: tuple[jax.Device, ...] | None) -> Callable:
  step = functools.partial(train_step, tau=tau, freeze_encoder=freeze_encoder,
                           distill_weight=distill_weight)
  return jax.pmap(step, axis_name=AXIS, donate_argnums=(0,), devices=devices)


def compile_train_step(config: ml_collections.ConfigDict,
                       devices: Sequence[jax.Device] | None = None) -> Callable:
  """The pmapped train step (cached per TAU, freezing, distillation weight and devices)."""
  return _compile_train_step(float(config.tau), bool(config.freeze_encoder),
                             float(config.get("distill_weight", 0.0)),
                             tuple(devices) if devices else None)


def validate_scorer(scorer: evaluate_lib.ScoreFn,
                    instances: Sequence[instances_lib.RankingInstance], seed: int
                    ) -> dict[str, float]:
  """Ranking-view MRR / P@1 / P@10 of any scorer, and the same reweighted to test's mix
  of distances and lengths (`balanced_mrr`, `balanced_p@1`: what selection uses)."""
  results = evaluate_lib.rank_instances(instances, scorer, seed=seed, progress=False)
  row = metrics_lib.summarize(r.rank for r in results)
  balanced = metrics_lib.balanced_summary(results, evaluate_lib.test_mix())
  return {"mrr": row["mrr"], "p@1": row["p@1"], "p@10": row["p@10"],
          "balanced_mrr": balanced["mrr"], "balanced_p@1": balanced["p@1"]}


def validate(model_config: models.TransformerConfig, params: Any,
             instances: Sequence[instances_lib.RankingInstance], seed: int,
             prior: "PriorSettings | None" = None) -> dict[str, float]:
  """`validate_scorer` of the in-process scorer, with its first stage and ensemble as
  trained and exported (`prior`)."""
  scorer = _with_prior(scorer_lib.Scorer(model_config, params), prior)
  return validate_scorer(scorer.score, instances, seed)


@dataclasses.dataclass(frozen=True)
class PriorSettings:
  """The first stage a model trains and serves behind (config.prior and its fields).

  name: a baseline (e.g. "markov_channel", "learned_prior"); "" = none.
  weight: its score's weight in the loss and the exported ensemble.
  options: its factory options (for "learned_prior": the JSON path).
  rerank_k: > 0 when the model trains on the first stage's top lists
    (config.negatives = "first_stage"); then it reranks that many at serving.
  per_distance: with rerank_k, the first stage's best this many more at each edit
    distance (config.first_stage_per_distance), in training and at serving.
  """
  name: str = ""
  weight: float = 0.0
  options: tuple[tuple[str, Any], ...] = ()
  rerank_k: int = 0
  per_distance: int = 0


def _with_prior(scorer: scorer_lib.Scorer, prior: "PriorSettings | None") -> scorer_lib.Scorer:
  if prior is not None and prior.name and (prior.weight or prior.rerank_k):
    scorer.prior_options = dict(prior.options)
    scorer.prior = prior.name  # Drops any cached first stage.
    scorer.prior_weight = prior.weight
    if prior.rerank_k:
      scorer.prefilter_k = prior.rerank_k
      scorer.prefilter_per_distance = prior.per_distance
  return scorer


def prior_settings(config: ml_collections.ConfigDict) -> PriorSettings:
  """The `PriorSettings` of `config`, checked."""
  prior, weight = config.get("prior", ""), float(config.get("prior_weight", 0.0))
  negatives = config.get("negatives", "random")
  if negatives not in ("random", "first_stage"):
    raise ValueError(f"config.negatives must be 'random' or 'first_stage', got {negatives!r}")
  if negatives == "random" and bool(prior) != bool(weight):
    raise ValueError("config.prior and config.prior_weight go together: set both or neither "
                     f"(got prior={prior!r}, prior_weight={weight})")
  if prior and prior not in registry.baseline_names():
    raise ValueError(f"config.prior: unknown baseline {prior!r}; known: "
                     f"{', '.join(registry.baseline_names())}")
  if (prior == "learned_prior") != (negatives == "first_stage"):
    # The first stage's lists and scores come from the instances' cross-fitted parts; a
    # learned prior recomputed from the bundled n-gram would have seen every train fix.
    raise ValueError("config.negatives='first_stage' goes with config.prior='learned_prior' "
                     f"(got negatives={negatives!r}, prior={prior!r})")
  options = (("path", config.prior_path),) if prior == "learned_prior" and config.get(
      "prior_path") else ()
  rerank_k = config.get("first_stage_k", 0) if negatives == "first_stage" else 0
  per_distance = config.get("first_stage_per_distance", 0) if rerank_k else 0
  if per_distance < 0:
    raise ValueError(f"config.first_stage_per_distance must be >= 0, got {per_distance}")
  return PriorSettings(prior, weight, options, rerank_k, per_distance)


def reranked_lists(config: ml_collections.ConfigDict, prior: PriorSettings
                   ) -> Callable | None:
  """The `reranked(instance, rng)` function of RankingBatches, or None (random negatives)."""
  if not prior.rerank_k:
    return None
  options = dict(prior.options)
  stage = (learned_prior.LearnedPrior.load(options["path"]) if options.get("path")
           else learned_prior.load_default())
  quota = len(learned_prior.QUOTA_DISTANCES) * prior.per_distance
  needed = prior.rerank_k + quota + config.get("random_negatives", 0) + 1
  if config.group_size < needed:
    raise ValueError(f"config.group_size={config.group_size} cannot hold first_stage_k + "
                     f"{len(learned_prior.QUOTA_DISTANCES)} x first_stage_per_distance + "
                     f"random_negatives + the truth ({needed})")
  if prior.per_distance and stage.list_size != scorer_lib.QUOTA_POOL:
    raise ValueError(f"a per-distance quota is drawn from the first stage's top "
                     f"{scorer_lib.QUOTA_POOL} at serving; this learned prior ranks "
                     f"{stage.list_size}")
  return functools.partial(_reranked, stage=stage, group_size=prior.rerank_k,
                           random_negatives=config.get("random_negatives", 0),
                           per_distance=prior.per_distance)


def _reranked(instance, rng, *, stage, group_size, random_negatives, per_distance=0):
  if instance.parts is None:
    raise ValueError(f"instance {instance.id!r} has no prior parts: first-stage negatives "
                     "need instances built by configs/build_data.py:ranker")
  return learned_prior.reranked_group(instance, stage, group_size, random_negatives, rng,
                                      per_distance)


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
  if config.get("init_scorer"):
    state = create_train_state(init_rng, model_config, config)
    state = state.replace(params=scorer_params(config.init_scorer, model_config, state.params))
    logging.info("every param initialised from the scorer %s", config.init_scorer)
  else:
    if config.pretrained_checkpoint:
      pretrained = checkpoints.load_params(config.pretrained_checkpoint)
      logging.info("encoder initialised from %s", config.pretrained_checkpoint)
    state = create_train_state(init_rng, model_config, config, pretrained)
  logging.info("PairScorer: %d params (%s encoder), %d device(s) in %d process(es)",
               loop.tree_size(state.params),
               "frozen" if config.freeze_encoder else "fine-tuned", global_devices,
               jax.process_count())

  prior = prior_settings(config)
  reranked = reranked_lists(config, prior)
  teacher = teacher_residuals(config, workdir, train_instances, reranked)
  batches = batches_lib.RankingBatches(
      train_instances, devices=global_devices, queries_per_device=config.queries_per_device,
      group_size=config.group_size, max_len=model_config.max_len,
      buckets=config.length_buckets, seed=config.seed,
      prior=registry.get(prior.name, **dict(prior.options)) if prior.name and not reranked
      else None, prior_weight=prior.weight, reranked=reranked,
      window=model_config.pair_window, teacher=teacher,
      sample_weights=train_sample_weights(config, train_instances), **run.shard)
  p_train = compile_train_step(config, distributed.pmap_devices(run.devices))
  best_metric = scorer_lib.BEST_METRIC if valid_instances else None
  valid_instances = list(valid_instances)[:config.max_valid_instances or None]
  reference = {}
  if valid_instances and prior.name:
    # The first stage alone, drawn beside the model: does the model add anything?
    alone = validate_scorer(registry.get(prior.name, **dict(prior.options)), valid_instances,
                            config.seed)
    reference = {f"first_stage_{k}": v for k, v in alone.items()}

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
    valid = validate(model_config, distributed.unreplicate(state).params, valid_instances,
                     config.seed, prior)
    return {**valid, **reference}

  stage = loop.Stage(
      name="finetune", train_step=p_train, batch=batches.batch, train_scalars=train_scalars,
      evaluate=evaluate, checkpoint_every_steps=config.eval_every_steps,
      checkpoint_metrics=lambda valid: (
          None if valid is None else {scorer_lib.BEST_METRIC: valid[config.get("select_on", "mrr")]}),
      best_metric=best_metric,
      panels={"train listwise loss": ("train", "loss"),
              "valid MRR (dashed: first stage alone)": ("valid", "mrr", "first_stage_mrr"),
              "valid P@1 (dashed: first stage alone)": ("valid", "p@1", "first_stage_p@1")})
  return loop.train(config, run, stage, state, dropout_rng)


def train_sample_weights(config: ml_collections.ConfigDict,
                         train_instances: Sequence[instances_lib.RankingInstance]
                         ) -> np.ndarray | None:
  """config.balance's per-query sampling weights: None ("none"), or each distance drawn
  as often as it occurs in test ("test"; train is 61% distance 1, test a third), the
  weights raised to config.balance_power (1: test's mix; between 0 and 1: part way)."""
  balance = config.get("balance", "none")
  if balance == "none":
    return None
  if balance != "test":
    raise ValueError(f"config.balance must be 'none' or 'test', got {balance!r}")
  power = config.get("balance_power", 1.0)
  if not 0 < power <= 1:
    raise ValueError(f"config.balance_power must be in (0, 1], got {power!r}")
  weights = evaluate_lib.test_distance_weights([inst.distance for inst in train_instances])
  return weights ** power


def teacher_residuals(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
                      train_instances: Sequence[instances_lib.RankingInstance],
                      reranked: Callable | None) -> dict | None:
  """config.teacher's residual on every training group (cached in the workdir), or None.

  The teacher is a scorer bundle or finetune workdir trained behind the same first stage
  (first-stage negatives); it scores the groups this run trains on.
  """
  if not config.get("teacher"):
    return None
  if reranked is None:
    raise ValueError("config.teacher needs config.negatives='first_stage': the teacher's "
                     "residuals are read on the first stage's lists")
  if config.get("random_negatives", 0):
    raise ValueError("config.teacher needs config.random_negatives=0 (the teacher scores "
                     "each training group once, so the groups must not change by step)")

  def compute():  # The teacher is loaded only when its residuals are not cached yet.
    teacher = scorer_lib.load(config.teacher)
    logging.info("distilling from %s (dim %d, %d layers), weight %s", config.teacher,
                 teacher.model_config.dim, teacher.model_config.layers,
                 config.get("distill_weight", 0.0))
    return distill.teacher_residuals(teacher.score_all, train_instances, reranked,
                                     seed=config.seed, progress=config.progress)

  return distill.cached_residuals(pathlib.Path(workdir) / "teacher_residuals.jsonl.gz",
                                  compute)


def export(workdir: str | pathlib.Path, bundle: str | pathlib.Path | None = None, *,
           prior: PriorSettings | None = None,
           length_buckets: Sequence[int] = ()) -> pathlib.Path:
  """Writes the workdir's best (else latest) checkpoint as a scorer bundle.

  A model trained on top of a prior is exported with it (the bundle's ensemble).
  `length_buckets` (non-empty) are the lengths the bundle pads pairs to when it serves
  (else the scorer's defaults). With several processes every one must call it; only
  process 0 writes.
  """
  workdir = pathlib.Path(workdir)
  scorer = _with_prior(scorer_lib.load_workdir(workdir), prior)
  if length_buckets:
    scorer.length_buckets = length_buckets
  return scorer.save(bundle or workdir / "scorer_bundle")


def read_train_instances(config: ml_collections.ConfigDict) -> list[instances_lib.RankingInstance]:
  """`config.train_instances` followed by those of each `config.extra_train_instances` path."""
  out = instances_lib.read(config.train_instances)
  for path in config.get("extra_train_instances", ()):
    extra = instances_lib.read(path)
    logging.info("%d extra train instances from %s", len(extra), path)
    out.extend(extra)
  return out
