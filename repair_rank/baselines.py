"""Named baseline scorers and the `baselines` job.

Every baseline is a factory registered by name that returns an
`evaluate.ScoreFn`; `get(name, **options)` builds one. Adding one takes a few
lines: see `markov_distance` below.
"""
import hashlib
import json
import pathlib
from typing import Any, Callable

from absl import logging
import ml_collections
import numpy as np

from repair_rank import evaluate
from repair_rank import metrics
from repair_rank.data import instances as instances_lib
from repair_rank.data.instances import token_distance

_FACTORIES: dict[str, Callable[..., evaluate.ScoreFn]] = {}


def register(name: str) -> Callable[[Callable[..., evaluate.ScoreFn]],
                                    Callable[..., evaluate.ScoreFn]]:
  """Decorator: registers a factory `(**options) -> ScoreFn` under `name`."""
  def decorator(factory):
    if name in _FACTORIES:
      raise ValueError(f"baseline {name!r} is already registered")
    _FACTORIES[name] = factory
    return factory
  return decorator


def names() -> tuple[str, ...]:
  """The registered baseline names."""
  return tuple(_FACTORIES)


def get(name: str, **options: Any) -> evaluate.ScoreFn:
  """Builds the score function of baseline `name` with the factory's keyword options."""
  if name not in _FACTORIES:
    raise ValueError(f"unknown baseline {name!r}; known: {', '.join(names())}")
  return _FACTORIES[name](**options)


@register("random")
def random(seed: int = 0) -> evaluate.ScoreFn:
  """Uniform scores, seeded by (seed, the call's inputs) so reruns and views agree."""
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    rng = np.random.default_rng([seed, _fingerprint(query, candidates)])
    return rng.random(len(candidates))
  return score


@register("edit_distance")
def edit_distance() -> evaluate.ScoreFn:
  """Minus the token Levenshtein distance to the query: the smallest edit first."""
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    return -np.array([token_distance(query, c) for c in candidates], dtype=np.float64)
  return score


@register("markov")
def markov(model_path: str = "") -> evaluate.ScoreFn:
  """The n-gram log-probability of each candidate: the generator's own order."""
  model = _ngram_model(model_path)
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    del query  # The Markov order ignores the query.
    return model.log_probs(candidates)
  return score


@register("markov_distance")
def markov_distance(lam: float = 3.0, model_path: str = "") -> evaluate.ScoreFn:
  """n-gram log-probability minus `lam` per token edit.

  The default λ = 3 is the best valid MRR of launch/tune_distance_prior.py (BENCHMARKS.md).
  """
  model = _ngram_model(model_path)
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    distances = np.array([token_distance(query, c) for c in candidates], dtype=np.float64)
    return model.log_probs(candidates) - lam * distances
  return score


@register("markov_channel")
def markov_channel(weight: float = 1.75, model_path: str = "",
                   stats_path: str = "") -> evaluate.ScoreFn:
  """Noisy channel: n-gram log P(candidate) + `weight` x log P(edits | candidate).

  The channel is `edit_stats`: the log rate, per opportunity, at which people
  make each edit of the minimal script from the query to the candidate (on
  train: inserting ')' is common, inserting 'def' rare). Where markov_distance
  charges every edit the same λ, this charges each by how often humans make it.
  The default weight 1.75 is the best MRR on valid (BENCHMARKS.md).
  """
  from repair_rank import edit_stats  # pylint: disable=g-import-not-at-top
  model = _ngram_model(model_path)
  stats = edit_stats.EditStats.load(stats_path) if stats_path else edit_stats.load_default()
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    channel = np.array([edit_stats.channel_log_rate(stats, query, c) for c in candidates],
                       dtype=np.float64)
    return model.log_probs(candidates) + weight * channel
  return score


@register("model")
def model(path: str = "", prior_weight: float = -1.0, prefilter_k: int = -1,
          batch_buckets: tuple[int, ...] = (), prior: str = "") -> evaluate.ScoreFn:
  """The trained transformer (repair_rank.scorer.load; "" = the bundled default).

  Not a baseline, but registered here so model rows come out of the same job and
  code path as the baselines beside them. A non-negative `prior_weight` or
  `prefilter_k`, or non-empty `batch_buckets` or `prior` (a baseline name: the
  first stage), overrides the bundle's setting (for ablations; buckets change
  speed only, padding never changes a score).
  """
  from repair_rank import scorer  # pylint: disable=g-import-not-at-top
  loaded = scorer.load(path or None)
  if prior_weight >= 0:
    loaded.prior_weight = prior_weight
  if prefilter_k >= 0:
    loaded.prefilter_k = prefilter_k
  if batch_buckets:
    loaded.batch_buckets = tuple(sorted(batch_buckets))
  if prior:
    if prior not in _FACTORIES:
      raise ValueError(f"model: unknown prior {prior!r}; known: {', '.join(names())}")
    loaded.prior = prior
  return loaded.score


@register("lm")
def lm(checkpoint: str = "", batch_size: int = 128, prefilter_k: int = 0,
       prefilter_lambda: float = 3.0, prior_weight: float = 0.0) -> evaluate.ScoreFn:
  """The pretrained LM's log P(candidate | query) as a zero-shot ranker (issue 4's ablation).

  The log-likelihood of the candidate's tokens and its end token after
  `[BOS] query [SEP]`, as in pretraining. `checkpoint` is a pretrain workdir ("" =
  the bundled repair_rank/assets/pretrained_default). It runs as a `scorer.Scorer`
  (same length buckets, jit, padding; batch buckets up to `batch_size`) over a
  PairScorer whose only live part is its LM feature: no edit channel or distance
  embedding, a zero score head and LM weight 1, so its score is exactly that
  log-likelihood. `prefilter_k` / `prefilter_lambda` / `prior_weight` are the
  scorer's first stage and ensemble, as for the `model` row.
  """
  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp
  from repair_rank import paths
  from repair_rank import pretrain
  from repair_rank import scorer
  from repair_rank import train_utils
  # pylint: enable=g-import-not-at-top
  path = pathlib.Path(checkpoint) if checkpoint else paths.ASSETS_DIR / "pretrained_default"
  workdir = path.parent if path.name == "checkpoints" else path
  config_path = workdir / train_utils.MODEL_CONFIG_FILE
  if not config_path.exists():
    raise FileNotFoundError(f"lm baseline: no {config_path}; checkpoint must be a pretrain "
                            "workdir (or its checkpoints/ directory)")
  # float32 everywhere: summed log-probabilities of ~50 tokens, compared across candidates.
  model_config = train_utils.model_config_from_json(
      json.loads(config_path.read_text()), edit_channel=False, distance_feature=False,
      lm_feature=True, causal_scorer=True, dtype=jnp.float32)
  params = dict(pretrain.load_params(path))  # "encoder" (and "lm_head" if untied), by name.
  params["score_head"] = {"kernel": np.zeros((model_config.dim, 1), np.float32),
                          "bias": np.zeros((1,), np.float32)}
  params["lm_weight"] = np.float32(1.0)
  # A 64-row bucket too: a first stage's top 64 would otherwise pad to 128 rows.
  batch_buckets = tuple(b for b in (8, 32, 64) if b < batch_size) + (batch_size,)
  return scorer.Scorer(model_config, params, batch_buckets=batch_buckets,
                       prefilter_k=prefilter_k, prefilter_lambda=prefilter_lambda,
                       prior_weight=prior_weight).score


def _ngram_model(model_path: str):
  from repair_rank import ngram  # pylint: disable=g-import-not-at-top
  return ngram.NgramModel.load(model_path) if model_path else ngram.load_default()


def _fingerprint(query: list[str], candidates: list[list[str]]) -> int:
  # A stable hash (unlike hash(), which is salted per process).
  text = "\n".join(" ".join(seq) for seq in [query, *candidates])
  return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Evaluates each baseline of `config.baselines` in every view; writes one JSON report each."""
  for name in config.baselines:
    if name not in _FACTORIES:
      raise ValueError(f"config.baselines: unknown baseline {name!r}; known: {', '.join(names())}")
  instances = instances_lib.read(config.instances, config.get("format") or None)
  n_generated = sum(inst.generated_rank is not None for inst in instances)
  logging.info("Read %d ranking instances from %s (generator found the truth in %d).",
               len(instances), config.instances, n_generated)
  if config.get("export_text"):
    instances_lib.write_text(config.export_text, instances)
    logging.info("Wrote the instances in the prototype's text format to %s", config.export_text)

  out_dir = pathlib.Path(workdir) / "baselines"
  for name in config.baselines:
    options = config.baseline_options.get(name)
    options = options.to_dict() if options is not None else {}
    reports = evaluate.evaluate(instances, get(name, **options), seed=config.seed,
                                progress=config.progress)
    for view in evaluate.VIEWS:
      print(metrics.format_table(reports[view], title=f"\n{name} / {view}"), flush=True)
    path = out_dir / f"{name}.json"
    metrics.save_report(path, {
        "baseline": name,
        "options": options,
        "instances": str(config.instances),
        "n_instances": len(instances),
        "n_generated": n_generated,
        "seed": config.seed,
        "views": reports,
    })
    logging.info("Wrote %s", path)
