"""How sure the ranker is: calibrated probabilities that a listed repair is the human's fix.

A scorer's scores for one candidate list become probabilities by a softmax over
the list with two fitted numbers (`Calibration`):

  p_i     = exp(s_i / T) / Z              for each candidate i
  p_none  = exp(max_j s_j / T + b) / Z    the human's fix is not in the list at all
  Z       = sum_j exp(s_j / T) + exp(max_j s_j / T + b)

T (the temperature) spreads or sharpens the list; b (the "none of these" logit,
relative to the best candidate) keeps room for the generator's misses, so even
a list with one clear winner is not certain. Both are fitted by weighted maximum
likelihood on valid lists, end to end: where the generator missed the fix the
label is "none", so `confidence` is the probability that the top repair is the
human's fix, the number a user feels. `p_i` of every candidate is the
confidence of each listed repair. Optionally an isotonic (monotone) map of the
top probability follows (`isotonic_x`, `isotonic_y`); `launch/analysis/fit_confidence.py`
decides on valid whether it pays (BENCHMARKS.md, "Confidence (issue 14)").

The fitted numbers travel in a scorer bundle as `confidence.json`
(`repair_rank.ranking.scorer`), digest-checked like the bundle's other files.
"""
import dataclasses
import json
import math
import pathlib
from typing import Any, Callable, Optional, Sequence

import numpy as np
import tqdm

from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics

FORMAT = "repair_rank.confidence/1"
# The bundle file holding a Calibration (scorer.json field `confidence` names it).
CALIBRATION_FILE = "confidence.json"
# Equal-width bins of the top confidence for the expected calibration error.
ECE_BINS = 10


class CalibrationError(ValueError):
  """A calibration file that cannot be used; the message names the file and field."""


@dataclasses.dataclass(frozen=True)
class Calibration:
  """Scores of one list -> probabilities (see the module docstring)."""
  temperature: float  # scores are divided by it (score units)
  none_logit: float  # log-odds weight of "the fix is not listed", relative to the best (nats)
  # An isotonic map of the top probability: increasing knots, linear between; () = none.
  isotonic_x: tuple[float, ...] = ()
  isotonic_y: tuple[float, ...] = ()
  # What it was fitted on and how (free-form, for people: data, weights, counts).
  fitted_on: dict[str, Any] = dataclasses.field(default_factory=dict)

  def probabilities(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """The calibrated probability that each candidate is the human's fix (sums to < 1).

    With an isotonic map the best candidate gets the mapped value and the others
    are rescaled to share what is left in their old proportions, none above it.
    """
    scores = np.asarray(scores, dtype=np.float64)
    # A NaN score (a broken scorer, a null over HTTP) is no candidate: probability 0.
    scores = np.where(np.isnan(scores), -np.inf, scores)
    if not np.isfinite(scores).any():
      return np.zeros(scores.size)
    logits = scores / self.temperature
    best = logits.max()
    weights = np.exp(logits - best)
    total = weights.sum() + math.exp(self.none_logit)
    probabilities = weights / total
    if self.isotonic_x:
      top = int(np.argmax(scores))
      raw = probabilities[top]
      mapped = float(np.interp(raw, self.isotonic_x, self.isotonic_y))
      rest = 1.0 - raw
      # No runner-up is offered as surer than the top (a map that lowers a close top
      # would otherwise hand its mass to the candidate ranked below it).
      probabilities = np.minimum(
          probabilities * ((1.0 - mapped) / rest if rest > 0 else 0.0), mapped)
      probabilities[top] = mapped
    return probabilities

  def top(self, scores: Sequence[float] | np.ndarray) -> Optional[float]:
    """The probability that the best-scored candidate is the fix (None for no candidates)."""
    probabilities = self.probabilities(scores)
    return float(probabilities.max()) if probabilities.size else None

  def to_json(self) -> dict[str, Any]:
    return {"format": FORMAT, "temperature": self.temperature, "none_logit": self.none_logit,
            "isotonic_x": list(self.isotonic_x), "isotonic_y": list(self.isotonic_y),
            "fitted_on": self.fitted_on}

  def save(self, path: str | pathlib.Path) -> None:
    pathlib.Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

  @classmethod
  def load(cls, path: str | pathlib.Path) -> "Calibration":
    """Reads and checks a calibration file; CalibrationError names the file and field."""
    path = pathlib.Path(path)
    try:
      data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
      raise CalibrationError(f"{path}: unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
      raise CalibrationError(f"{path}: expected a JSON object")
    if data.get("format") != FORMAT:
      raise CalibrationError(f"{path}: field 'format' is {data.get('format')!r}, "
                             f"expected {FORMAT!r}")

    def number(name: str) -> float:
      value = data.get(name)
      if (not isinstance(value, (int, float)) or isinstance(value, bool)
          or not math.isfinite(value)):
        raise CalibrationError(f"{path}: field {name!r} is {value!r}, expected a finite number")
      return float(value)

    temperature = number("temperature")
    if temperature <= 0:
      raise CalibrationError(f"{path}: field 'temperature' is {temperature}, expected > 0")
    knots = []
    for name in ("isotonic_x", "isotonic_y"):
      values = data.get(name, [])
      if not (isinstance(values, list) and all(
          isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0
          for v in values)):
        raise CalibrationError(f"{path}: field {name!r} must list numbers in [0, 1]")
      knots.append(tuple(float(v) for v in values))
    if len(knots[0]) != len(knots[1]) or any(np.diff(knots[0]) < 0) or any(np.diff(knots[1]) < 0):
      raise CalibrationError(f"{path}: fields 'isotonic_x' and 'isotonic_y' must be "
                             "non-decreasing lists of the same length")
    fitted_on = data.get("fitted_on", {})
    if not isinstance(fitted_on, dict):
      raise CalibrationError(f"{path}: field 'fitted_on' must be a JSON object")
    return cls(temperature, number("none_logit"), knots[0], knots[1], fitted_on)


# --- Fitting and measuring ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScoredList:
  """One query's scores in list order and where the human's fix is (None: not listed)."""
  scores: np.ndarray
  truth: Optional[int]
  distance: int = 0
  length: int = 0


def top_is_truth(item: ScoredList) -> bool:
  """Whether the best-scored candidate is the fix, ties counting against it (as P@1)."""
  if item.truth is None or not len(item.scores):
    return False
  return metrics.rank_of_truth(item.scores, item.truth) == 0  # NaN scores count against it


def _padded(items: Sequence[ScoredList]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Scores padded with -inf to one array, the fix's column (-1: none) and a mask."""
  width = max(1, max(len(item.scores) for item in items))
  scores = np.full((len(items), width), -np.inf)
  for row, item in enumerate(items):
    scores[row, :len(item.scores)] = item.scores
  truth = np.array([-1 if item.truth is None else item.truth for item in items])
  return scores, truth, np.isfinite(scores)


def _negative_log_likelihood(params: np.ndarray, scores: np.ndarray, truth: np.ndarray,
                             weights: np.ndarray, hits: Optional[np.ndarray]) -> float:
  """Weighted NLL of where each fix is (`hits` None), or of whether the top is the fix."""
  log_temperature, none_logit = params
  logits = scores / math.exp(log_temperature)
  best = np.max(logits, axis=1, keepdims=True)
  shifted = logits - best  # -inf padding stays -inf
  log_total = np.log(np.exp(shifted).sum(axis=1) + math.exp(none_logit))
  if hits is not None:  # log p_top = -log_total; log(1 - p_top) = log(total - 1) - log_total
    log_rest = np.log(np.maximum(np.exp(log_total) - 1.0, 1e-300))
    return float(weights @ (log_total - np.where(hits, 0.0, log_rest)))
  rows = np.arange(len(truth))
  picked = np.where(truth >= 0, shifted[rows, np.maximum(truth, 0)], none_logit)
  return float(weights @ (log_total - picked))


OBJECTIVES = ("top", "list")


def fit(items: Sequence[ScoredList], weights: Optional[Sequence[float]] = None, *,
        objective: str = "top", isotonic: bool = False,
        fitted_on: Optional[dict[str, Any]] = None) -> Calibration:
  """T and the none logit by weighted maximum likelihood.

  `objective` "top": of whether the top repair is the fix (the confidence a user
  sees); "list": of where in the list the fix is (every candidate's probability,
  which a scorer that only reranks a first stage's top few fits poorly: the
  scores past them are placeholders). `weights` (one per list, default equal)
  reweight the lists, e.g. to another mix of distances. With `isotonic`, a
  weighted isotonic regression of "top is the fix" on the top probability
  follows (pool adjacent violators).
  """
  if objective not in OBJECTIVES:
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
  weights = (np.ones(len(items)) if weights is None else np.asarray(weights, np.float64))
  kept = [i for i, item in enumerate(items) if len(item.scores) and weights[i] > 0]
  if not kept:
    raise ValueError(f"nothing to fit the calibration on: none of the {len(items)} lists has "
                     "candidates and a positive weight")
  items, weights = [items[i] for i in kept], weights[kept] / weights[kept].sum()
  scores, truth, _ = _padded(items)
  hits = (np.array([top_is_truth(item) for item in items]) if objective == "top" else None)
  # Imported here: scipy.optimize costs half a second that front ends never need.
  from scipy import optimize  # pylint: disable=g-import-not-at-top
  result = optimize.minimize(_negative_log_likelihood, x0=np.array([0.0, -2.0]),
                             args=(scores, truth, weights, hits), method="Nelder-Mead",
                             options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
  calibration = Calibration(float(math.exp(result.x[0])), float(result.x[1]),
                            fitted_on=dict(fitted_on or {}))
  if not isotonic:
    return calibration
  tops = np.array([calibration.top(item.scores) for item in items])
  hits = np.array([top_is_truth(item) for item in items], np.float64)
  x, y = isotonic_regression(tops, hits, weights)
  return dataclasses.replace(calibration, isotonic_x=x, isotonic_y=y)


def isotonic_regression(x: np.ndarray, y: np.ndarray, weights: np.ndarray
                        ) -> tuple[tuple[float, ...], tuple[float, ...]]:
  """Knots of the weighted least-squares non-decreasing fit of y on x (pool adjacent
  violators): each pooled block becomes one knot at its weighted mean x."""
  order = np.argsort(x, kind="stable")
  blocks: list[list[float]] = []  # [sum w, sum w*x, sum w*y]
  for i in order:
    blocks.append([weights[i], weights[i] * x[i], weights[i] * y[i]])
    while len(blocks) > 1 and blocks[-2][2] / blocks[-2][0] >= blocks[-1][2] / blocks[-1][0]:
      last = blocks.pop()
      blocks[-1] = [a + b for a, b in zip(blocks[-1], last)]
  knots_x = tuple(float(w_x / w) for w, w_x, _ in blocks)
  knots_y = tuple(float(w_y / w) for w, _, w_y in blocks)
  return knots_x, knots_y


def reliability(confidences: Sequence[float], hits: Sequence[bool], bins: int = ECE_BINS,
                weights: Optional[Sequence[float]] = None) -> list[dict[str, float]]:
  """Per equal-width bin of [0, 1]: count, weight share, mean confidence and accuracy."""
  confidences = np.asarray(confidences, np.float64)
  hits = np.asarray(hits, np.float64)
  weights = np.ones(len(confidences)) if weights is None else np.asarray(weights, np.float64)
  index = np.minimum((confidences * bins).astype(int), bins - 1)
  rows = []
  for b in range(bins):
    members = index == b
    w = weights[members]
    if not members.any() or w.sum() == 0:
      continue
    rows.append({"low": b / bins, "high": (b + 1) / bins, "n": int(members.sum()),
                 "share": float(w.sum() / weights.sum()),
                 "confidence": float(w @ confidences[members] / w.sum()),
                 "accuracy": float(w @ hits[members] / w.sum())})
  return rows


def expected_calibration_error(confidences: Sequence[float], hits: Sequence[bool],
                               bins: int = ECE_BINS,
                               weights: Optional[Sequence[float]] = None) -> float:
  """Sum over equal-width bins of (share of queries) x |accuracy - mean confidence|."""
  return float(sum(row["share"] * abs(row["accuracy"] - row["confidence"])
                   for row in reliability(confidences, hits, bins, weights)))


def risk_coverage(confidences: Sequence[float], hits: Sequence[bool],
                  coverages: Sequence[float] = (0.25, 0.5, 0.75, 1.0)
                  ) -> list[dict[str, float]]:
  """P@1 of the most confident `coverage` share of queries, and the confidence at its edge."""
  confidences = np.asarray(confidences, np.float64)
  hits = np.asarray(hits, np.float64)
  order = np.argsort(-confidences, kind="stable")
  rows = []
  for coverage in coverages:
    answered = order[:max(1, int(math.ceil(coverage * len(order))))]
    rows.append({"coverage": float(coverage), "n": int(len(answered)),
                 "p@1": float(hits[answered].mean()),
                 "min_confidence": float(confidences[answered].min())})
  return rows


def at_threshold(confidences: Sequence[float], hits: Sequence[bool], threshold: float,
                 weights: Optional[Sequence[float]] = None) -> dict[str, float]:
  """Coverage and P@1 of the queries whose confidence is at least `threshold`."""
  confidences = np.asarray(confidences, np.float64)
  hits = np.asarray(hits, np.float64)
  weights = np.ones(len(confidences)) if weights is None else np.asarray(weights, np.float64)
  answered = confidences >= threshold
  covered = float(weights[answered].sum() / weights.sum())
  accuracy = (float(weights[answered] @ hits[answered] / weights[answered].sum())
              if answered.any() else float("nan"))
  return {"threshold": float(threshold), "coverage": covered, "p@1": accuracy}


# --- Valid lists, scored end to end --------------------------------------------


def score_lists(instances: Sequence[Any], score_fn: Callable[..., Any], *,
                progress: bool = False) -> list[ScoredList]:
  """Each instance's scores in generator order under `score_fn`, and where its fix is
  (`generated_rank`: None where the generator missed it, so the top is wrong there)."""
  out = []
  for inst in tqdm.tqdm(instances, desc="scoring for the calibration", unit="list",
                        disable=not progress):
    candidates = [list(c) for c in inst.candidates]
    scores = (np.asarray(score_fn(list(inst.query), candidates), np.float64)
              if candidates else np.zeros(0))
    out.append(ScoredList(scores, inst.generated_rank, inst.distance, inst.length))
  return out


def test_mix_weights(items: Sequence[ScoredList]) -> np.ndarray:
  """Per-list weights (summing to 1) that reweight `items` to test's distance x length mix,
  the mix model selection uses (`evaluate.test_mix`)."""
  weights = metrics.mix_weights([metrics.cell(item.distance, item.length) for item in items],
                                evaluate.test_mix())
  if not weights.sum() > 0:
    raise ValueError(f"none of the {len(items)} lists falls in a cell of test's distance x "
                     "length mix: nothing to weight the calibration by")
  return weights / weights.sum()


# The name launch/analysis/fit_confidence.py gives the variant `fit_shipped` fits.
SHIPPED_VARIANT = "top likelihood, test mix"


def fit_shipped(items: Sequence[ScoredList], fitted_on: Optional[dict[str, Any]] = None
                ) -> Calibration:
  """The variant the bundled scorer ships, chosen on valid (BENCHMARKS.md, "Confidence"):
  the top-1 likelihood, lists weighted to test's mix, no isotonic map."""
  return fit(items, test_mix_weights(items), objective="top",
             fitted_on={"variant": SHIPPED_VARIANT,
                        "weights": "test mix of distance x length", **(fitted_on or {})})


# --- Reading a scorer's calibration -------------------------------------------


def calibration_of(score_fn: Callable[..., Any]) -> Optional[Calibration]:
  """The Calibration a scorer carries (`.calibration`, also through a bound `.score`), or None."""
  for owner in (score_fn, getattr(score_fn, "__self__", None)):
    calibration = getattr(owner, "calibration", None)
    if isinstance(calibration, Calibration):
      return calibration
  return None


def score_with_confidence(score_fn: Callable[..., Any], query: list[str],
                          candidates: list[list[str]]
                          ) -> tuple[np.ndarray, Optional[np.ndarray]]:
  """(scores, per-candidate confidence or None) of one list.

  A scorer that answers both itself (`score_with_confidence`, e.g. the HTTP
  client, whose endpoint computes them) is asked for both; otherwise its
  Calibration, if it has one, turns the scores into confidences.
  """
  method = getattr(score_fn, "score_with_confidence", None)
  if callable(method):
    scores, confidences = method(query, candidates)
    return np.asarray(scores, np.float64), confidences
  scores = np.asarray(evaluate.as_score_fn(score_fn)(query, candidates), np.float64)
  calibration = calibration_of(score_fn)
  return scores, None if calibration is None else calibration.probabilities(scores)
