"""Named baseline scorers and the `baselines` job.

Every baseline is a factory registered by name that returns an
`evaluate.ScoreFn`; `get(name, **options)` builds one. Adding one takes a few
lines: see `markov_distance` below.
"""
import hashlib
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


@register("model")
def model(path: str = "", prior_weight: float = -1.0, prefilter_k: int = -1) -> evaluate.ScoreFn:
  """The trained transformer (repair_rank.scorer.load; "" = the bundled default).

  Not a baseline, but registered here so model rows come out of the same job and
  code path as the baselines beside them. A non-negative `prior_weight` or
  `prefilter_k` overrides the bundle's setting (for ablations).
  """
  from repair_rank import scorer  # pylint: disable=g-import-not-at-top
  loaded = scorer.load(path or None)
  if prior_weight >= 0:
    loaded.prior_weight = prior_weight
  if prefilter_k >= 0:
    loaded.prefilter_k = prefilter_k
  return loaded.score


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
