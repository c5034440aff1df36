"""The trained ranker as a `score(query, candidates)` function, and its bundle format.

  scorer = repair_rank.scorer.load()          # the bundled default model
  scores = scorer.score(query, candidates)    # one float per candidate, higher is better

`score` encodes every (query, candidate) pair, groups the pairs by padded length
bucket, pads each group's row count up to a batch bucket, and runs one
`jax.jit`-compiled apply per (batch bucket, length bucket) shape, so a handful
of shapes are ever compiled. Padding never changes a score: PAD positions are
masked as attention keys and left out of pooling.

A bundle is a directory: `scorer.json` (format, vocabulary version, model
config, buckets) and `params/` (an orbax checkpoint of the PairScorer params).
`load_language_model` wraps a pretraining checkpoint the same way (the `lm`
scorer). Names resolve to scorers in `repair_rank.ranking.registry`.
"""
import functools
import json
import pathlib
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from repair_rank import distributed
from repair_rank import paths
from repair_rank.data import jsonl
from repair_rank.model import checkpoints
from repair_rank.model import features as features_lib
from repair_rank.model import models
from repair_rank.ranking import baselines
from repair_rank.ranking import learned_prior

BUNDLE_FORMAT = "repair_rank.scorer/1"
BUNDLE_CONFIG = "scorer.json"
DEFAULT_BUNDLE = paths.ASSETS_DIR / "scorer_default"
LENGTH_BUCKETS = (32, 64, 128, 256)
BATCH_BUCKETS = (8, 32, 128)
# Cascade defaults (see Scorer.score): 0 = the transformer scores every candidate.
PREFILTER_LAMBDA = 3.0  # the markov_distance default, chosen on valid
# The first stage of a Scorer that names none: bundles written before `prior`
# existed, and the lm scorer. The bundled default names its own (markov_channel).
UNNAMED_PRIOR = "markov_distance"
# The file a bundle keeps its learned first stage in (prior "learned_prior").
LEARNED_PRIOR_FILE = "learned_prior.json"
# The metric finetune records with each checkpoint; the best checkpoint maximises it.
BEST_METRIC = "valid_mrr"


@functools.lru_cache(maxsize=16)
def _apply_fn(model_config: models.TransformerConfig) -> Callable[..., jax.Array]:
  """A jitted PairScorer apply, shared by every Scorer with this config (compiles once/shape)."""
  model = models.PairScorer(model_config.replace(deterministic=True))
  return jax.jit(lambda params, batch: model.apply({"params": params}, **batch))


class Scorer:
  """A PairScorer with its params: `score(query, candidates)` for repair_rank.ranking.evaluate."""

  def __init__(self, model_config: models.TransformerConfig, params: Any, *,
               length_buckets: Sequence[int] = LENGTH_BUCKETS,
               batch_buckets: Sequence[int] = BATCH_BUCKETS,
               prefilter_k: int = 0, prefilter_lambda: float = PREFILTER_LAMBDA,
               prior_weight: float = 0.0, prior: str = UNNAMED_PRIOR,
               prior_options: dict[str, Any] | None = None):
    """`prefilter_k` > 0 makes scoring a cascade, `prior_weight` > 0 an ensemble (see `score`).

    `prior` names the first stage, a baseline of repair_rank.ranking.baselines built
    with `prior_options` (`prefilter_lambda` is markov_distance's λ).
    """
    self.prior_options = dict(prior_options or {})
    self.model_config = model_config.replace(deterministic=True)
    self.params = jax.device_put(params)
    max_len = model_config.max_len
    self.length_buckets = tuple(b for b in length_buckets if b < max_len) + (max_len,)
    self.batch_buckets = tuple(sorted(batch_buckets))
    self.prefilter_k = prefilter_k
    self.prefilter_lambda = prefilter_lambda
    self.prior_weight = prior_weight
    self._prefilter = None
    self.prior = prior
    self._apply = _apply_fn(self.model_config)

  @property
  def prior(self) -> str:
    """The first stage's baseline name; setting it drops the cached first stage."""
    return self._prior

  @prior.setter
  def prior(self, name: str) -> None:
    self._prior, self._prefilter = name, None

  def score(self, query: Sequence[str], candidates: Sequence[Sequence[str]]) -> np.ndarray:
    """One float32 score per candidate (higher = more likely the true repair).

    A cheap first stage, the baseline named by `prior` (`markov_channel`: n-gram
    log-probability + log-rates of the edits people make; `markov_distance`:
    n-gram log-probability − `prefilter_lambda` × edit distance), serves two
    optional roles:
    * `prefilter_k` > 0: with more candidates than that, only the first stage's
      top `prefilter_k` are encoded, and they rank above all others, which keep
      the first stage's order. The transformer's cost bounds latency, so this
      caps it per query.
    * `prior_weight` > 0: the transformer's score plus `prior_weight` times the
      first stage's, an ensemble whose weight is chosen on valid.
    """
    if not self.prior_weight and (not self.prefilter_k or len(candidates) <= self.prefilter_k):
      return self.score_all(query, candidates)
    if self._prefilter is None:
      options = dict(self.prior_options)
      if self.prior == "markov_distance":
        options.setdefault("lam", self.prefilter_lambda)
      self._prefilter = baselines.get(self.prior, **options)
    first = np.asarray(self._prefilter(list(query), [list(c) for c in candidates]),
                       dtype=np.float32)
    order = np.argsort(-first, kind="stable")
    kept = order[:self.prefilter_k] if self.prefilter_k else order
    kept_scores = (self.score_all(query, [candidates[i] for i in kept])
                   + np.float32(self.prior_weight) * first[kept])
    scores = np.empty(len(candidates), dtype=np.float32)
    scores[kept] = kept_scores
    # Below every kept score, in first-stage order (float32 steps of at least 1).
    rest = order[len(kept):]
    if len(rest):
      scores[rest] = kept_scores.min() - 1.0 - np.arange(len(rest), dtype=np.float32)
    return scores

  def score_all(self, query: Sequence[str], candidates: Sequence[Sequence[str]]) -> np.ndarray:
    """The transformer's score for every candidate (no first stage)."""
    scores = np.zeros(len(candidates), dtype=np.float32)
    if not candidates:
      return scores
    features = [features_lib.pair_features(query, c, self.model_config.max_len,
                                           self.model_config.pair_window)
                for c in candidates]
    lengths = np.array([features_lib.bucket_length(len(f.inputs), self.length_buckets)
                        for f in features])
    largest = self.batch_buckets[-1]
    for length in np.unique(lengths):
      members = np.flatnonzero(lengths == length)
      for start in range(0, len(members), largest):
        chunk = members[start:start + largest]
        rows = features_lib.bucket_length(len(chunk), self.batch_buckets)
        batch = features_lib.stack_pairs([features[i] for i in chunk], int(length))
        batch = {k: np.concatenate([v, np.zeros((rows - len(chunk),) + v.shape[1:], v.dtype)])
                 for k, v in batch.items()}
        scores[chunk] = np.asarray(self._apply(self.params, batch))[:len(chunk)]
    return scores

  __call__ = score

  def save(self, path: str | pathlib.Path) -> pathlib.Path:
    """Writes a bundle directory (replacing an existing one); returns its path.

    With several JAX processes all must call it (orbax saves collectively); only
    process 0 writes.
    """
    path = pathlib.Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path / "params", jax.device_get(self.params), force=True)
    checkpointer.wait_until_finished()
    if not distributed.is_primary():
      return path
    prior_options = dict(self.prior_options)
    if self.prior == "learned_prior":
      # The bundle carries its own first stage, whatever file it was trained with.
      stage = (learned_prior.LearnedPrior.load(prior_options["path"])
               if prior_options.get("path") else learned_prior.load_default())
      stage.save(path / LEARNED_PRIOR_FILE)
      prior_options["path"] = LEARNED_PRIOR_FILE
    jsonl.write_json(path / BUNDLE_CONFIG, {
        "format": BUNDLE_FORMAT,
        "vocab_version": features_lib.VOCAB_VERSION,
        "model": self.model_config.to_json(),
        "length_buckets": list(self.length_buckets),
        "batch_buckets": list(self.batch_buckets),
        "prefilter_k": self.prefilter_k,
        "prefilter_lambda": self.prefilter_lambda,
        "prior_weight": self.prior_weight,
        "prior": self.prior,
        "prior_options": prior_options,
    })
    return path


def load_bundle(path: str | pathlib.Path) -> Scorer:
  """Reads a bundle written by `Scorer.save`."""
  path = pathlib.Path(path).resolve()
  meta = json.loads((path / BUNDLE_CONFIG).read_text())
  if meta.get("format") != BUNDLE_FORMAT:
    raise ValueError(f"{path / BUNDLE_CONFIG}: format {meta.get('format')!r}, "
                     f"expected {BUNDLE_FORMAT!r}")
  if meta.get("vocab_version") != features_lib.VOCAB_VERSION:
    raise ValueError(f"{path / BUNDLE_CONFIG}: vocabulary {meta.get('vocab_version')!r} does "
                     f"not match this code's {features_lib.VOCAB_VERSION!r}")
  model_config = _for_this_backend(models.TransformerConfig.from_json(meta["model"]))
  params = ocp.StandardCheckpointer().restore(path / "params")
  prior_options = dict(meta.get("prior_options", {}))
  if prior_options.get("path"):  # Relative paths are inside the bundle.
    prior_options["path"] = str(path / prior_options["path"])
  return Scorer(model_config, params, length_buckets=meta["length_buckets"],
                batch_buckets=meta["batch_buckets"], prefilter_k=meta.get("prefilter_k", 0),
                prefilter_lambda=meta.get("prefilter_lambda", PREFILTER_LAMBDA),
                prior_weight=meta.get("prior_weight", 0.0),
                prior=meta.get("prior", UNNAMED_PRIOR), prior_options=prior_options)


def load_workdir(workdir: str | pathlib.Path, step: int | None = None) -> Scorer:
  """A scorer from a finetune workdir: its best checkpoint (else the latest, or `step`)."""
  workdir = pathlib.Path(workdir).resolve()
  model_config = checkpoints.read_model_config(workdir)
  manager = ocp.CheckpointManager(workdir / "checkpoints", options=ocp.CheckpointManagerOptions(
      read_only=True, best_fn=lambda metrics: metrics[BEST_METRIC], best_mode="max"))
  if step is None:
    step = manager.best_step() or manager.latest_step()
  if step is None:
    raise FileNotFoundError(f"no checkpoints in {workdir / 'checkpoints'}")
  restored = manager.restore(step, args=ocp.args.StandardRestore())
  return Scorer(_for_this_backend(model_config), restored["params"])


def load(path: str | pathlib.Path | None = None) -> Scorer:
  """The bundled default scorer (`path` None), a bundle directory, or a finetune workdir."""
  if path is None:
    if not (DEFAULT_BUNDLE / BUNDLE_CONFIG).exists():
      raise FileNotFoundError(
          f"no bundled default scorer at {DEFAULT_BUNDLE}. Train one and export it: "
          "python -m repair_rank.main --config configs/finetune.py --workdir workdir/finetune "
          "(which writes workdir/finetune/scorer_bundle), then copy that directory to "
          f"{DEFAULT_BUNDLE}; or pass a bundle / finetune workdir path to load().")
    return load_bundle(DEFAULT_BUNDLE)
  path = pathlib.Path(path)
  if (path / BUNDLE_CONFIG).exists():
    return load_bundle(path)
  if (path / checkpoints.MODEL_CONFIG_FILE).exists() and (path / "checkpoints").is_dir():
    return load_workdir(path)
  raise FileNotFoundError(f"{path} is neither a scorer bundle (no {BUNDLE_CONFIG}) nor a "
                          "finetune workdir (no model_config.json and checkpoints/)")


def load_language_model(checkpoint: str | pathlib.Path | None = None, *, batch_size: int = 128,
                        prefilter_k: int = 0, prefilter_lambda: float = PREFILTER_LAMBDA,
                        prior_weight: float = 0.0) -> Scorer:
  """The pretrained LM's log P(candidate | query) as a Scorer (the zero-shot `lm` ranker).

  The log-likelihood of the candidate's tokens and its end token after
  `[BOS] query [SEP]`, as in pretraining. `checkpoint` is a pretrain workdir (None =
  the bundled repair_rank/assets/pretrained_default). It runs as a `Scorer`
  (same length buckets, jit, padding; batch buckets up to `batch_size`) over a
  PairScorer whose only live part is its LM feature: no edit channel or distance
  embedding, a zero score head and LM weight 1, so its score is exactly that
  log-likelihood. `prefilter_k` / `prefilter_lambda` / `prior_weight` are the
  scorer's first stage and ensemble, as for the model.
  """
  path = pathlib.Path(checkpoint) if checkpoint else paths.ASSETS_DIR / "pretrained_default"
  workdir = path.parent if path.name == "checkpoints" else path
  config_path = workdir / checkpoints.MODEL_CONFIG_FILE
  if not config_path.exists():
    raise FileNotFoundError(f"lm scorer: no {config_path}; checkpoint must be a pretrain "
                            "workdir (or its checkpoints/ directory)")
  # float32 everywhere: summed log-probabilities of ~50 tokens, compared across candidates.
  model_config = checkpoints.read_model_config(
      workdir, edit_channel=False, distance_feature=False, lm_feature=True,
      causal_scorer=True, dtype=jnp.float32)
  params = dict(checkpoints.load_params(path))  # "encoder" (and "lm_head" if untied), by name.
  params["score_head"] = {"kernel": np.zeros((model_config.dim, 1), np.float32),
                          "bias": np.zeros((1,), np.float32)}
  params["lm_weight"] = np.float32(1.0)
  # A 64-row bucket too: a first stage's top 64 would otherwise pad to 128 rows.
  batch_buckets = tuple(b for b in (8, 32, 64) if b < batch_size) + (batch_size,)
  return Scorer(model_config, params, batch_buckets=batch_buckets, prefilter_k=prefilter_k,
                prefilter_lambda=prefilter_lambda, prior_weight=prior_weight)


def _for_this_backend(model_config: models.TransformerConfig) -> models.TransformerConfig:
  # bfloat16 is slow on CPU; a GPU-trained bundle scores in float32 there.
  if jax.default_backend() == "cpu" and model_config.dtype != jnp.float32:
    return model_config.replace(dtype=jnp.float32)
  return model_config
