"""The baseline scorers: cheap rankers without a neural model, by name.

Every baseline is a factory registered by name that returns an
`evaluate.ScoreFn`. They are the rows a model must beat and the scorer's first
stage (its prior); `repair_rank.ranking.registry.get` resolves any scorer name,
these and the models. Adding one takes a few lines: see `markov_distance` below.
"""
import hashlib
import inspect
from typing import Any, Callable

import numpy as np

from repair_rank.data.instances import token_distance
from repair_rank.generator import edit_stats
from repair_rank.generator import ngram
from repair_rank.ranking import evaluate
from repair_rank.ranking import learned_prior as learned_prior_lib

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


def option_names(name: str) -> tuple[str, ...]:
  """The keyword options baseline `name`'s factory takes (ValueError for an unknown name)."""
  if name not in _FACTORIES:
    raise ValueError(f"unknown baseline {name!r}; known: {', '.join(names())}")
  return tuple(inspect.signature(_FACTORIES[name]).parameters)


def get(name: str, **options: Any) -> evaluate.ScoreFn:
  """Builds the score function of baseline `name` with the factory's keyword options.

  The table the registry reads for baseline names; the scorer's first stage
  (always a baseline) reads it too. Elsewhere use `registry.get`.
  """
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

  The default λ = 3 is the best valid MRR of launch/analysis/tune_distance_prior.py
  (BENCHMARKS.md).
  """
  model = _ngram_model(model_path)
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    distances = np.array([token_distance(query, c) for c in candidates], dtype=np.float64)
    return model.log_probs(candidates) - lam * distances
  return score


@register("markov_channel")
def markov_channel(weight: float = edit_stats.CHANNEL_WEIGHT, model_path: str = "",
                   stats_path: str = "") -> evaluate.ScoreFn:
  """Noisy channel: n-gram log P(candidate) + `weight` x log P(edits | candidate).

  The channel is `edit_stats`: the log rate, per opportunity, at which people
  make each edit of the minimal script from the query to the candidate (on
  train: inserting ')' is common, inserting 'def' rare). Where markov_distance
  charges every edit the same λ, this charges each by how often humans make it.
  The default weight 1.75 is the best MRR on valid (BENCHMARKS.md).
  """
  model = _ngram_model(model_path)
  stats = edit_stats.EditStats.load(stats_path) if stats_path else edit_stats.load_default()
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    channel = np.array([edit_stats.channel_log_rate(stats, query, c) for c in candidates],
                       dtype=np.float64)
    return model.log_probs(candidates) + weight * channel
  return score


@register("learned_prior")
def learned_prior(path: str = "", model_path: str = "", stats_path: str = "") -> evaluate.ScoreFn:
  """The noisy-channel prior's parts recombined by weights learned on train's lists.

  `path`: a learned prior JSON (the fit_prior job's output; "" = the bundled
  repair_rank/assets/learned_prior.json). It scores the channel prior's top
  `list_size` candidates; the rest follow below them in the channel prior's order.
  """
  prior = (learned_prior_lib.LearnedPrior.load(path) if path
           else learned_prior_lib.load_default())
  model = _ngram_model(model_path)
  stats = edit_stats.EditStats.load(stats_path) if stats_path else edit_stats.load_default()
  def score(query: list[str], candidates: list[list[str]]) -> np.ndarray:
    parts = learned_prior_lib.parts_of(query, candidates, model, stats)
    return prior.score_list(query, candidates, parts)
  return score


def _ngram_model(model_path: str) -> ngram.NgramModel:
  return ngram.NgramModel.load(model_path) if model_path else ngram.load_default()


def _fingerprint(query: list[str], candidates: list[list[str]]) -> int:
  # A stable hash (unlike hash(), which is salted per process).
  text = "\n".join(" ".join(seq) for seq in [query, *candidates])
  return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
