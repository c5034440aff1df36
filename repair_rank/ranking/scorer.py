"""The trained ranker as a `score(query, candidates)` function, and its bundle format.

  scorer = repair_rank.scorer.load()          # the bundled default model
  scores = scorer.score(query, candidates)    # one float per candidate, higher is better

`score` encodes every (query, candidate) pair, groups the pairs by padded length
bucket, pads each group's row count up to a batch bucket, and runs one
`jax.jit`-compiled apply per (batch bucket, length bucket) shape, so a handful
of shapes are ever compiled. Padding never changes a score: PAD positions are
masked as attention keys and left out of pooling.

A bundle is a directory: `scorer.json` (format, vocabulary version, model
config, buckets, first stage, and the sha256 digests of itself and of every
other file), `params/` (an orbax checkpoint of the PairScorer params) and, for
the `learned_prior` first stage, `learned_prior.json`, and, once fitted,
`confidence.json` (`repair_rank.ranking.confidence`: the calibration that turns
scores into the probability that a repair is the human's fix; field
`confidence`). `load_bundle` checks all of it before anything is scored: the digests, every field's type and value,
the params' tree and shapes against the model config, and that params and
learned weights are finite; anything wrong is a `BundleError` naming the file
and the field. A bundle without a calibration (saved before it existed) loads
with a warning and `calibration` None: its repairs have no confidence. `load_language_model` wraps a pretraining checkpoint the same way
(the `lm` scorer). Names resolve to scorers in `repair_rank.ranking.registry`.
"""
import dataclasses
import functools
import hashlib
import json
import math
import pathlib
from typing import Any, Callable, Mapping, Sequence

from absl import logging
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from repair_rank import distributed
from repair_rank import paths
from repair_rank.data import instances as instances_lib
from repair_rank.data import jsonl
from repair_rank.model import checkpoints
from repair_rank.model import features as features_lib
from repair_rank.model import models
from repair_rank.ranking import baselines
from repair_rank.ranking import confidence as confidence_lib
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
# With a per-distance quota (Scorer.prefilter_per_distance), the extra candidates come
# from the first stage's top this many: the learned first stage's list, what training
# draws them from (learned_prior.first_stage_list).
QUOTA_POOL = 64
# The file a bundle keeps its learned first stage in (prior "learned_prior").
LEARNED_PRIOR_FILE = "learned_prior.json"
# The scorer.json field naming the bundle's calibration file (confidence.CALIBRATION_FILE).
CONFIDENCE = "confidence"
# The metric finetune records with each checkpoint; the best checkpoint maximises it.
BEST_METRIC = "valid_mrr"
# The scorer.json field holding sha256 digests: of scorer.json's other fields
# (key BUNDLE_CONFIG) and of every other file of the bundle (key: its relative path).
DIGESTS = "digests"


class BundleError(ValueError):
  """A scorer bundle that cannot be used; the message names the file and field at fault."""


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
               prefilter_per_distance: int = 0,
               prior_weight: float = 0.0, prior: str = UNNAMED_PRIOR,
               prior_options: dict[str, Any] | None = None,
               calibration: confidence_lib.Calibration | None = None):
    """`prefilter_k` > 0 makes scoring a cascade, `prior_weight` > 0 an ensemble (see `score`).

    `prior` names the first stage, a baseline of repair_rank.ranking.baselines built
    with `prior_options` (`prefilter_lambda` is markov_distance's λ). `calibration`
    turns this scorer's scores into confidences (None: it has none).
    """
    self.prior_options = dict(prior_options or {})
    self.model_config = model_config.replace(deterministic=True)
    self.params = jax.device_put(params)
    self.length_buckets = length_buckets
    self.batch_buckets = tuple(sorted(batch_buckets))
    self.prefilter_k = prefilter_k
    self.prefilter_lambda = prefilter_lambda
    self.prefilter_per_distance = prefilter_per_distance
    self.prior_weight = prior_weight
    self._prefilter = None
    self.prior = prior
    self._apply = _apply_fn(self.model_config)
    self.calibration = calibration

  @property
  def length_buckets(self) -> tuple[int, ...]:
    """The pair lengths a batch pads to (speed only: padding changes no score)."""
    return self._length_buckets

  @length_buckets.setter
  def length_buckets(self, buckets: Sequence[int]) -> None:
    # Every pair fits the last bucket: those past max_len are cut to max_len.
    max_len = self.model_config.max_len
    self._length_buckets = tuple(sorted(b for b in buckets if b < max_len)) + (max_len,)

  def _score_settings(self) -> tuple:
    """What the scores depend on besides the params (batch buckets change speed only)."""
    return (self.prior_weight, self.prefilter_k, self.prefilter_lambda, self.prior,
            dict(self.prior_options), self.prefilter_per_distance)

  @property
  def calibration(self) -> confidence_lib.Calibration | None:
    """The calibration of these scores; None once a setting the scores depend on changed
    since it was attached (it was fitted to other scores), so it is never saved stale."""
    if self._calibration is None or self._score_settings() != self._calibrated_settings:
      return None
    return self._calibration

  @calibration.setter
  def calibration(self, calibration: confidence_lib.Calibration | None) -> None:
    self._calibration, self._calibrated_settings = calibration, self._score_settings()

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
      caps it per query. `prefilter_per_distance` > 0 adds, at each token edit
      distance 1-3, the first stage's best that many beyond its top `prefilter_k`
      (from its top QUOTA_POOL; `learned_prior.top_with_quota`), so repairs of
      three edits reach the transformer.
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
    if self.prefilter_k and self.prefilter_per_distance:
      pool = order[:QUOTA_POOL]
      distances = {i: instances_lib.token_distance(query, candidates[i])
                   for i in pool[self.prefilter_k:]}
      kept = np.array(learned_prior.top_with_quota(pool, distances, self.prefilter_k,
                                                   self.prefilter_per_distance), dtype=int)
    kept_scores = (self.score_all(query, [candidates[i] for i in kept])
                   + np.float32(self.prior_weight) * first[kept])
    scores = np.empty(len(candidates), dtype=np.float32)
    scores[kept] = kept_scores
    # Below every kept score, in first-stage order (float32 steps of at least 1).
    is_kept = np.zeros(len(candidates), bool)
    is_kept[kept] = True
    rest = order[~is_kept[order]]  # In first-stage order.
    if len(rest):
      scores[rest] = kept_scores.min() - 1.0 - np.arange(len(rest), dtype=np.float32)
    return scores

  def warmup(self) -> None:
    """Readies every (batch bucket, length bucket) shape before the first request: each
    compiled, or loaded from JAX's persistent cache (`use_compilation_cache`), but run only
    at the smallest batch (running every shape took seconds of a server's start, issue 22);
    then one list scored end to end, which loads the first stage's tables."""
    pair = features_lib.pair_features(["NAME", "=", "(", "NEWLINE"], ["NAME", "=", "(", ")", "NEWLINE"],
                                      self.model_config.max_len, self.model_config.pair_window)
    for length in self.length_buckets:
      one = features_lib.stack_pairs([pair], int(length))
      for rows in self.batch_buckets:
        batch = {k: np.concatenate([v, np.zeros((rows - 1,) + v.shape[1:], v.dtype)])
                 for k, v in one.items()}
        if rows == self.batch_buckets[0]:
          np.asarray(self._apply(self.params, batch))
        else:
          self._apply.lower(self.params, batch).compile()
    self.score(["NAME", "=", "(", "NEWLINE"], [["NAME", "=", "(", ")", "NEWLINE"]])

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
    try:
      checkpoints.check_finite(jax.device_get(self.params), "params")
    except checkpoints.CheckpointError as e:
      raise BundleError(f"{path}: not saved: {e}") from None
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
    meta = {
        "format": BUNDLE_FORMAT,
        "vocab_version": features_lib.VOCAB_VERSION,
        "model": self.model_config.to_json(),
        "length_buckets": list(self.length_buckets),
        "batch_buckets": list(self.batch_buckets),
        "prefilter_k": self.prefilter_k,
        "prefilter_lambda": self.prefilter_lambda,
        "prefilter_per_distance": self.prefilter_per_distance,
        "prior_weight": self.prior_weight,
        "prior": self.prior,
        "prior_options": prior_options,
    }
    digests = {BUNDLE_CONFIG: _config_digest(meta)}
    digests.update(checkpoints.file_digests(path / "params", path))
    if self.prior == "learned_prior":
      digests[LEARNED_PRIOR_FILE] = checkpoints.sha256_of_file(path / LEARNED_PRIOR_FILE)
    meta[DIGESTS] = digests
    jsonl.write_json(path / BUNDLE_CONFIG, meta)
    if self.calibration is not None:
      save_calibration(path, self.calibration)
    return path


def save_calibration(path: str | pathlib.Path, calibration: confidence_lib.Calibration
                     ) -> pathlib.Path:
  """Writes `calibration` into the bundle at `path` and records it in scorer.json (field
  `confidence` and its digest). The params and first stage are untouched, so scores stay
  the same to the bit; the other digests are checked first."""
  path = pathlib.Path(path).resolve()
  meta = _read_config(path / BUNDLE_CONFIG)
  _check_digests(path, meta)
  calibration.save(path / confidence_lib.CALIBRATION_FILE)
  meta[CONFIDENCE] = confidence_lib.CALIBRATION_FILE
  digests = dict(meta.get(DIGESTS) or {})
  digests[confidence_lib.CALIBRATION_FILE] = checkpoints.sha256_of_file(
      path / confidence_lib.CALIBRATION_FILE)
  meta.pop(DIGESTS, None)
  digests[BUNDLE_CONFIG] = _config_digest(meta)
  meta[DIGESTS] = digests
  jsonl.write_json(path / BUNDLE_CONFIG, meta)
  return path / confidence_lib.CALIBRATION_FILE


def add_digests(path: str | pathlib.Path) -> dict[str, str]:
  """Records the sha256 digests of a bundle saved before digests existed, as `Scorer.save`
  would have (launch/analysis/redigest_bundle.py). The bundle is loaded first, so one
  that fails any other check is refused (BundleError), never blessed; one that has
  digests already is refused too (its files would be re-blessed as they are now)."""
  path = pathlib.Path(path).resolve()
  meta = _read_config(path / BUNDLE_CONFIG)
  if DIGESTS in meta:
    raise BundleError(f"{path / BUNDLE_CONFIG}: has a {DIGESTS!r} field already; "
                      "re-save the scorer (Scorer.save) to record new ones")
  load_bundle(path)
  digests = {BUNDLE_CONFIG: _config_digest(meta)}
  digests.update(checkpoints.file_digests(path / "params", path))
  for name in (LEARNED_PRIOR_FILE, meta.get(CONFIDENCE)):
    if isinstance(name, str) and (path / name).is_file():
      digests[name] = checkpoints.sha256_of_file(path / name)
  meta[DIGESTS] = digests
  jsonl.write_json(path / BUNDLE_CONFIG, meta)
  return digests


def load_bundle(path: str | pathlib.Path, *, calibrating: bool = False) -> Scorer:
  """Reads a bundle written by `Scorer.save`, checked (see the module docstring).

  A bundle without digests (saved before they were recorded) loads with a
  warning; everything else is still checked. `calibrating`: loaded to fit its
  calibration, so a missing one is expected (no warning).
  """
  path = pathlib.Path(path).resolve()
  config_path = path / BUNDLE_CONFIG
  meta = _read_config(config_path)
  _check_digests(path, meta)
  where = str(config_path)
  if meta.get("format") != BUNDLE_FORMAT:
    raise BundleError(f"{where}: field 'format' is {meta.get('format')!r}, "
                      f"expected {BUNDLE_FORMAT!r}")
  if meta.get("vocab_version") != features_lib.VOCAB_VERSION:
    raise BundleError(f"{where}: field 'vocab_version': vocabulary "
                      f"{meta.get('vocab_version')!r} does not match this code's "
                      f"{features_lib.VOCAB_VERSION!r}")
  model_config = _for_this_backend(_model_config(_field(meta, "model", dict, where), where))
  length_buckets = _buckets(meta, "length_buckets", where)
  batch_buckets = _buckets(meta, "batch_buckets", where)
  prefilter_k = _field(meta, "prefilter_k", int, where, 0)
  if prefilter_k < 0:
    raise BundleError(f"{where}: field 'prefilter_k' is {prefilter_k}, expected >= 0")
  prefilter_lambda = float(_field(meta, "prefilter_lambda", float, where, PREFILTER_LAMBDA))
  per_distance = _field(meta, "prefilter_per_distance", int, where, 0)
  if per_distance < 0:
    raise BundleError(f"{where}: field 'prefilter_per_distance' is {per_distance}, "
                      "expected >= 0")
  prior_weight = float(_field(meta, "prior_weight", float, where, 0.0))
  prior = _field(meta, "prior", str, where, UNNAMED_PRIOR)
  prior_options = dict(_field(meta, "prior_options", dict, where, {}))
  _check_prior(path, prior, prior_options, where)
  if prior_options.get("path"):  # Relative paths are inside the bundle.
    prior_options["path"] = str(path / prior_options["path"])
  calibration = _calibration(path, meta, where, warn=not calibrating)
  params = _restore_params(path / "params")
  _check_shapes(params, model_config, where, path / "params")
  return Scorer(model_config, params, length_buckets=length_buckets,
                batch_buckets=batch_buckets, prefilter_k=prefilter_k,
                prefilter_lambda=prefilter_lambda, prefilter_per_distance=per_distance,
                prior_weight=prior_weight, prior=prior, prior_options=prior_options, calibration=calibration)


def _calibration(path: pathlib.Path, meta: Mapping[str, Any], where: str, warn: bool = True
                 ) -> confidence_lib.Calibration | None:
  """The bundle's calibration (field `confidence`), checked; None, with a warning, if it
  has none. Its digest is checked with the others (`_check_digests`)."""
  name = _field(meta, CONFIDENCE, str, where, "")
  if not name:
    if not warn:
      return None
    logging.warning("%s: no %r field (an older bundle, or one not yet calibrated): repairs "
                    "get no confidence until one is fitted (the finetune job fits it at "
                    "export; launch/analysis/fit_confidence.py --bundle %s --write)", where,
                    CONFIDENCE, path)
    return None
  if DIGESTS in meta and name not in meta[DIGESTS]:
    raise BundleError(f"{where}: field {DIGESTS!r} records no digest of {name!r} (field "
                      f"{CONFIDENCE!r}); re-save the bundle or refit the calibration")
  try:
    return confidence_lib.Calibration.load(path / name)
  except confidence_lib.CalibrationError as e:
    raise BundleError(f"{e} (the bundle's field {CONFIDENCE!r} in {where})") from None


def _config_digest(meta: Mapping[str, Any]) -> str:
  """sha256 of scorer.json's fields but the digests, in a canonical form (sorted keys)."""
  body = {k: v for k, v in meta.items() if k != DIGESTS}
  return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                        .encode()).hexdigest()


def _read_config(config_path: pathlib.Path) -> dict[str, Any]:
  try:
    text = config_path.read_text(encoding="utf-8")
  except (OSError, UnicodeDecodeError) as e:
    raise BundleError(f"{config_path}: cannot read the bundle config ({e})") from None
  try:
    meta = json.loads(text, parse_constant=_reject_constant)
  except (json.JSONDecodeError, ValueError) as e:
    detail = (f"{e.msg} at line {e.lineno} column {e.colno}"
              if isinstance(e, json.JSONDecodeError) else str(e))
    raise BundleError(f"{config_path}: not valid JSON ({detail})") from None
  if not isinstance(meta, dict):
    raise BundleError(f"{config_path}: expected a JSON object, got {type(meta).__name__}")
  return meta


def _reject_constant(name: str) -> None:
  raise ValueError(f"{name} is not a number JSON allows")


def _check_digests(path: pathlib.Path, meta: Mapping[str, Any]) -> None:
  """Compares each file (and the config's fields) with the sha256 recorded at save."""
  config_path = path / BUNDLE_CONFIG
  digests = meta.get(DIGESTS)
  if digests is None:
    logging.warning("%s: no %r field (a bundle saved before digests were recorded): its "
                    "files are not checked against damage; add them with "
                    "launch/analysis/redigest_bundle.py (scorer.add_digests)", config_path, DIGESTS)
    return
  if not (isinstance(digests, dict) and BUNDLE_CONFIG in digests
          and all(isinstance(v, str) for v in digests.values())):
    raise BundleError(f"{config_path}: field {DIGESTS!r} must map {BUNDLE_CONFIG!r} and "
                      "file paths to sha256 hex strings")
  if digests[BUNDLE_CONFIG] != _config_digest(meta):
    raise BundleError(f"{config_path}: its fields differ from the digest recorded at save "
                      "(edited or damaged). Re-save the bundle with Scorer.save, or delete "
                      f"the {DIGESTS!r} field to load it unchecked")
  for name, digest in digests.items():
    if name == BUNDLE_CONFIG:
      continue
    file = path / name
    if not file.is_file():
      raise BundleError(f"{file}: missing (the bundle recorded it at save in {config_path}); "
                        "copy the whole bundle directory again or re-save it")
    if checkpoints.sha256_of_file(file) != digest:
      raise BundleError(f"{file}: damaged: its sha256 differs from the one recorded at save "
                        f"in {config_path}; copy the bundle again or re-save it")
  unrecorded = sorted(p.relative_to(path).as_posix() for p in (path / "params").rglob("*")
                      if p.is_file() and p.relative_to(path).as_posix() not in digests)
  if unrecorded:
    logging.warning("%s: files not recorded at save (ignored): %s", path, ", ".join(unrecorded))


_MISSING = object()
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               dict: "a JSON object", list: "a JSON list"}


def _field(meta: Mapping[str, Any], name: str, kind: type, where: str,
           default: Any = _MISSING, prefix: str = "") -> Any:
  """`meta[name]`, checked to be of `kind` (float accepts integers; numbers must be finite);
  `prefix` names the enclosing field in messages ("model.")."""
  if name not in meta:
    if default is _MISSING:
      raise BundleError(f"{where}: missing field '{prefix}{name}'")
    return default
  value = meta[name]
  if kind is float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
  elif kind is int:
    ok = isinstance(value, int) and not isinstance(value, bool)
  else:
    ok = isinstance(value, kind)
  if not ok:
    raise BundleError(f"{where}: field '{prefix}{name}' is {json.dumps(value)[:60]}, "
                      f"expected {_TYPE_NAMES.get(kind, kind.__name__)}")
  return value


def _buckets(meta: Mapping[str, Any], name: str, where: str) -> tuple[int, ...]:
  values = _field(meta, name, list, where)
  if not values:
    raise BundleError(f"{where}: field {name!r} is empty; it must list at least one size")
  if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
    raise BundleError(f"{where}: field {name!r} is {json.dumps(values)[:60]}, expected "
                      "positive integers")
  return tuple(values)


# Model fields a bundle must state (the others default, as for older bundles).
_REQUIRED_MODEL_FIELDS = ("vocab_size", "dim", "heads", "layers", "mlp_dim", "max_len", "dtype")
_POSITIVE_MODEL_FIELDS = ("vocab_size", "dim", "heads", "layers", "mlp_dim", "max_len",
                          "edit_vocab_size")


def _model_config(fields: Mapping[str, Any], where: str) -> models.TransformerConfig:
  """The `model` field as a TransformerConfig, every setting's type and range checked."""
  defaults = {f.name: f.default for f in dataclasses.fields(models.TransformerConfig)}
  for name in fields:
    if name not in defaults:
      raise BundleError(f"{where}: field 'model.{name}' is not a model setting this code knows")
  for name in _REQUIRED_MODEL_FIELDS:
    if name not in fields:
      raise BundleError(f"{where}: missing field 'model.{name}'")
  for name, value in fields.items():
    if name == "dtype":
      if value not in models.DTYPES:
        raise BundleError(f"{where}: field 'model.dtype' is {json.dumps(value)[:40]}, "
                          f"expected one of {sorted(models.DTYPES)}")
      continue
    kind = type(defaults[name])
    _field(fields, name, kind, where, prefix="model.")
    if kind is int and value < (1 if name in _POSITIVE_MODEL_FIELDS else 0):
      raise BundleError(f"{where}: field 'model.{name}' is {value}, expected "
                        f"{'a positive integer' if name in _POSITIVE_MODEL_FIELDS else '>= 0'}")
  if fields.get("pooling", "mean") not in models.POOLINGS:
    raise BundleError(f"{where}: field 'model.pooling' is {fields['pooling']!r}, expected one "
                      f"of {models.POOLINGS}")
  for name, expected in (("vocab_size", features_lib.VOCAB_SIZE),
                         ("edit_vocab_size", features_lib.EDIT_VOCAB_SIZE)):
    if fields.get(name, expected) != expected:
      raise BundleError(f"{where}: field 'model.{name}' is {fields[name]}, but this code's "
                        f"vocabulary has {expected}")
  if fields["dim"] % fields["heads"]:
    raise BundleError(f"{where}: field 'model.heads' ({fields['heads']}) does not divide "
                      f"'model.dim' ({fields['dim']})")
  return models.TransformerConfig.from_json(fields)


def _check_prior(path: pathlib.Path, prior: str, options: Mapping[str, Any], where: str
                 ) -> None:
  """The first stage is a known baseline taking these options; a bundled learned prior
  reads and is finite."""
  if prior not in baselines.names():
    raise BundleError(f"{where}: field 'prior' is {prior!r}, not a known first stage "
                      f"({', '.join(baselines.names())})")
  known = baselines.option_names(prior)
  for name in options:
    if name not in known:
      raise BundleError(f"{where}: field 'prior_options.{name}' is not an option of "
                        f"{prior!r} ({', '.join(known) or 'it takes none'})")
  if prior == "learned_prior" and options.get("path"):
    if not isinstance(options["path"], str):
      raise BundleError(f"{where}: field 'prior_options.path' must be a string")
    file = path / options["path"]
    try:
      stage = learned_prior.LearnedPrior.load(file)
    except (KeyError, TypeError, ValueError) as e:
      raise BundleError(f"{file}: not a usable learned prior ({type(e).__name__}: {e})"
                        ) from None
    if not all(math.isfinite(v) for v in stage.values()):
      raise BundleError(f"{file}: field 'weights', 'channel_weight' or 'hidden' holds NaN or Inf")
    if stage.list_size <= 0:
      raise BundleError(f"{file}: field 'list_size' is {stage.list_size}, expected > 0")


def _restore_params(params_dir: pathlib.Path) -> Any:
  if not params_dir.is_dir():
    raise BundleError(f"{params_dir}: missing (the bundle's params)")
  try:
    params = ocp.StandardCheckpointer().restore(params_dir)
  except Exception as e:  # pylint: disable=broad-except
    # orbax and tensorstore raise many types (ValueError, FileNotFoundError, KeyError...).
    first = (str(e).strip().splitlines() or [""])[0][:300]
    raise BundleError(f"{params_dir}: unreadable ({type(e).__name__}: {first}); copy the "
                      "bundle again or re-save it") from e
  try:
    checkpoints.check_finite(params, str(params_dir))
  except checkpoints.CheckpointError as e:
    raise BundleError(str(e)) from None
  return params


# Model settings that switch a parameter on, by its name's start (for naming them).
_SWITCH_FIELDS = {"lm_weight": "lm_feature", "edit_embed": "edit_channel",
                  "distance_embed": "distance_feature", "lm_head": "tied_output"}
# Model settings that size a parameter, for naming the one a shape mismatch points at.
_SIZE_FIELDS = ("vocab_size", "dim", "heads", "mlp_dim", "max_len", "edit_vocab_size")


def _check_shapes(params: Any, model_config: models.TransformerConfig, where: str,
                  params_dir: pathlib.Path) -> None:
  """The params' tree and shapes are exactly those of a PairScorer of `model_config`."""
  dummy = {k: jnp.zeros((1, 8), jnp.int32) for k in ("inputs", "edits", "targets")}
  dummy["distance"] = jnp.zeros((1,), jnp.int32)
  expected = jax.eval_shape(
      lambda rng: models.PairScorer(model_config).init(rng, **dummy)["params"],
      jax.random.PRNGKey(0))
  expected = traverse_util.flatten_dict(expected, sep="/")
  actual = traverse_util.flatten_dict(params, sep="/") if isinstance(params, dict) else {}
  extra = sorted(set(actual) - set(expected))
  missing = sorted(set(expected) - set(actual))
  if extra or missing:
    first = (extra + missing)[0]
    if "block_" in first:
      field = f"'model.layers' (= {model_config.layers})"
    else:
      field = next((f"'model.{f}' (= {getattr(model_config, f)})"
                    for key, f in _SWITCH_FIELDS.items() if first.startswith(key)), "'model'")
    detail = (f"the params hold {first}, which the model it describes lacks" if extra
              else f"the model needs {first}, which the params lack")
    raise BundleError(f"{where}: field {field} does not match {params_dir}: {detail} "
                      f"({len(extra)} extra, {len(missing)} missing)")
  for name in sorted(expected):
    want, got = tuple(expected[name].shape), tuple(np.shape(actual[name]))
    if want != got:
      sizes = {f: getattr(model_config, f) for f in _SIZE_FIELDS}
      sizes["max_distance"] = model_config.max_distance + 1  # rows of the distance embedding
      differing = [w for w, g in zip(want, got) if w != g] if len(want) == len(got) else []
      suspects = [f"'model.{f}'" for f, size in sizes.items() if size in differing]
      fields = " or ".join(suspects) if suspects else "'model'"
      raise BundleError(f"{where}: field {fields} does not match {params_dir}: {name} has "
                        f"shape {got}, the config gives {want}")


def load_workdir(workdir: str | pathlib.Path, step: int | None = None) -> Scorer:
  """A scorer from a finetune workdir: its best checkpoint (else the latest, or `step`)."""
  workdir = pathlib.Path(workdir).resolve()
  model_config = checkpoints.read_model_config(workdir)
  manager = checkpoints.read_manager(workdir / "checkpoints",
                                     best_fn=lambda metrics: metrics[BEST_METRIC],
                                     best_mode="max")
  if step is None:
    step = manager.best_step() or manager.latest_step()
  if step is None:
    raise FileNotFoundError(f"no checkpoints in {workdir / 'checkpoints'}")
  restored = checkpoints.restore(manager, step)
  return Scorer(_for_this_backend(model_config), restored["params"])


# Where compiled scoring functions are kept between runs, so a front end's second start
# loads them instead of compiling (issue 22: the repair command, the server's warm-up).
# REPAIR_RANK_JAX_CACHE=off turns it off; any other value is the directory.
COMPILATION_CACHE_ENV = "REPAIR_RANK_JAX_CACHE"
DEFAULT_COMPILATION_CACHE = pathlib.Path.home() / ".cache" / "repair_rank" / "jax"


def use_compilation_cache() -> pathlib.Path | None:
  """Turns on JAX's persistent compilation cache (every compile cached, however quick: the
  scorer's shapes are few and small), unless REPAIR_RANK_JAX_CACHE=off or JAX already has
  a cache directory. Returns the directory in use, or None."""
  import os  # pylint: disable=g-import-not-at-top
  setting = os.environ.get(COMPILATION_CACHE_ENV, "")
  if setting.lower() in ("off", "0", "false", "no"):
    return None
  if jax.config.jax_compilation_cache_dir:
    return pathlib.Path(jax.config.jax_compilation_cache_dir)
  directory = pathlib.Path(setting) if setting else DEFAULT_COMPILATION_CACHE
  try:
    directory.mkdir(parents=True, exist_ok=True)
  except OSError as e:  # a read-only home: compile every time, say why once
    logging.warning("no JAX compilation cache (%s): %s", directory, e)
    return None
  jax.config.update("jax_compilation_cache_dir", str(directory))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return directory


def load(path: str | pathlib.Path | None = None) -> Scorer:
  """The bundled default scorer (`path` None), a bundle directory, or a finetune workdir.
  JAX's persistent compilation cache is on (`use_compilation_cache`)."""
  use_compilation_cache()
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
