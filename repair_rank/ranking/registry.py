"""The one place a scorer name becomes a scorer.

`get(name, **options)` resolves every name the configs, jobs, the endpoint and
the launch scripts use to a `score(query, candidates)` callable:

  a baseline  `random`, `edit_distance`, `markov`, `markov_distance`,
              `markov_channel` (`repair_rank.ranking.baselines`)
  "model"     the trained transformer (`scorer.load`; options override its bundle)
  "lm"        the pretrained LM's log P(candidate | query), zero-shot
              (`scorer.load_language_model`)

`load` and `from_config` are `get` for user-facing settings (`config.scorer`,
`config.model_path`, `config.scorer_options`): a scorer that cannot be built is
a `ScorerUnavailableError` that says which override to pass.
"""
from typing import Any, Callable, Optional

import ml_collections

from repair_rank.ranking import baselines
from repair_rank.ranking import evaluate
from repair_rank.ranking import scorer as scorer_lib

MODEL, LM = "model", "lm"


class ScorerUnavailableError(RuntimeError):
  """The configured scorer cannot be loaded."""


def model(path: str = "", prior_weight: float = -1.0, prefilter_k: int = -1,
          batch_buckets: tuple[int, ...] = (), prior: str = "",
          prior_path: str = "", prefilter_per_distance: int = -1) -> scorer_lib.Scorer:
  """The trained transformer (`scorer.load`; "" = the bundled default).

  Resolved here beside the baselines so model rows come out of the same jobs and
  code path as the baselines beside them. A non-negative `prior_weight`,
  `prefilter_k` or `prefilter_per_distance`, or non-empty `batch_buckets`, `prior` (a
  baseline name: the first stage) or `prior_path` (a learned prior's JSON), overrides the
  bundle's setting (for ablations; buckets change speed only, padding never changes a score).
  An override that changes the scores drops the bundle's calibration (no confidence).
  """
  loaded = scorer_lib.load(path or None)
  if prior_weight >= 0:
    loaded.prior_weight = prior_weight
  if prefilter_k >= 0:
    loaded.prefilter_k = prefilter_k
  if prefilter_per_distance >= 0:
    loaded.prefilter_per_distance = prefilter_per_distance
  if batch_buckets:
    loaded.batch_buckets = tuple(sorted(batch_buckets))
  if prior:
    if prior not in baselines.names():
      raise ValueError(f"model: unknown prior {prior!r}; known: {', '.join(baselines.names())}")
    loaded.prior = prior
  if prior_path:  # Another learned first stage than the bundle's own (ablations).
    loaded.prior_options = {**loaded.prior_options, "path": prior_path}
    loaded.prior = loaded.prior  # Drops the cached first stage.
  return loaded  # Its calibration is None if an override changed the scores (Scorer).


def lm(checkpoint: str = "", batch_size: int = 128, prefilter_k: int = 0,
       prefilter_lambda: float = scorer_lib.PREFILTER_LAMBDA,
       prior_weight: float = 0.0) -> scorer_lib.Scorer:
  """The pretrained LM as a zero-shot ranker (`scorer.load_language_model`)."""
  return scorer_lib.load_language_model(checkpoint or None, batch_size=batch_size,
                                        prefilter_k=prefilter_k,
                                        prefilter_lambda=prefilter_lambda,
                                        prior_weight=prior_weight)


_MODELS: dict[str, Callable[..., evaluate.ScoreFn]] = {MODEL: model, LM: lm}


def names() -> tuple[str, ...]:
  """Every scorer name: the baselines, then "model" and "lm"."""
  return baselines.names() + tuple(_MODELS)


def baseline_names() -> tuple[str, ...]:
  """The names of the baselines (the scorers that can be a prior)."""
  return baselines.names()


def get(name: str, **options: Any) -> evaluate.ScoreFn:
  """The `score(query, candidates)` callable of scorer `name` built with `options`.

  The model scorers are `scorer.Scorer` objects (callable, and with the padding
  buckets the endpoint warms up); baselines are plain functions.
  """
  if name in _MODELS:
    return _MODELS[name](**options)
  if name not in baselines.names():
    raise ValueError(f"unknown baseline or model {name!r}; known: {', '.join(names())}")
  return baselines.get(name, **options)


def load(name: str, *, model_path: str = "",
         options: Optional[dict[str, Any]] = None) -> evaluate.ScoreFn:
  """`get` for a config's settings; `model_path` is the model's `path` option.

  Raises `ScorerUnavailableError` naming the config override when the model
  cannot be loaded or the name is unknown.
  """
  options = dict(options or {})
  if name == MODEL:
    if model_path:
      options["path"] = model_path
    try:
      return get(name, **options)
    except Exception as e:  # pylint: disable=broad-except
      where = model_path or "the bundled default model"
      raise ScorerUnavailableError(
          f"cannot load the model scorer from {where}: {type(e).__name__}: "
          f"{str(e).rstrip('.')}. Pass "
          "--config.model_path=<finetune checkpoint> or serve a baseline with "
          "--config.scorer=markov_distance") from e
  if name not in names():
    raise ScorerUnavailableError(
        f"config.scorer={name!r} is neither 'model' nor a baseline ({', '.join(names())})")
  return get(name, **options)


def from_config(config: ml_collections.ConfigDict) -> evaluate.ScoreFn:
  """`load` with the config's `scorer`, `model_path` and `scorer_options`."""
  options = config.get("scorer_options")
  options = options.to_dict() if options is not None else {}
  return load(config.scorer, model_path=config.get("model_path", ""), options=options)
