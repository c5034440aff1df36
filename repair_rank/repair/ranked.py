"""Repairs of a token sequence, ranked by a scorer, each with its confidence.

Each repair carries its confidence, the calibrated probability that it is the
human's fix (`repair_rank.ranking.confidence`; None when the scorer has no
calibration). With `min_confidence` > 0 a front end abstains when the best
repair's confidence is below it.
"""
import dataclasses
from typing import Any, Optional, Sequence

from repair_rank.generator import search
from repair_rank.ranking import confidence as confidence_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics


@dataclasses.dataclass(frozen=True)
class Repair:
  """One scored repair of the file's tokens."""
  tokens: tuple[str, ...]
  score: float
  distance: int
  # The probability that this is the human's fix (calibrated; None: the scorer has none).
  confidence: Optional[float] = None



def rank_repairs(query: Sequence[str], score_fn: evaluate.ScoreFn, *, top_k: int,
                 max_distance: int = 3, k: int = 1000,
                 time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
                 max_expansions: Optional[int] = None) -> list[Repair]:
  """The `top_k` best repairs of `query` under `score_fn`, best first, each with its
  confidence when the scorer has a calibration (`confidence.score_with_confidence`)."""
  found = search.generate_scored(query, max_distance=max_distance, k=k,
                                 time_budget=time_budget, max_expansions=max_expansions)
  if not found:
    return []
  scores, confidences = confidence_lib.score_with_confidence(
      score_fn, list(query), [list(c.tokens) for c in found])
  order = metrics.best_first(scores)[:top_k]
  return [Repair(found[i].tokens, float(scores[i]), found[i].distance,
                 None if confidences is None else float(confidences[i])) for i in order]



def checked_min_confidence(value: Any) -> float:
  """`value` as a threshold on confidences; ValueError unless it is in [0, 1]."""
  threshold = float(value)
  if not 0.0 <= threshold <= 1.0:
    raise ValueError(f"config.min_confidence must be in [0, 1], got {value}")
  return threshold


def checked_top_k(value: Any) -> int:
  """`value` as a number of repairs to show; ValueError unless it is an integer >= 1."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
    raise ValueError(f"top_k must be a whole number of repairs, got {value!r}")
  if value < 1:
    raise ValueError(f"top_k must be at least 1 (how many repairs to show), got {value}")
  return int(value)


def abstains(repairs: Sequence[Repair], min_confidence: float) -> bool:
  """Whether the best repair's confidence is below `min_confidence` (never without one)."""
  best = repairs[0].confidence if repairs else None
  return min_confidence > 0 and best is not None and best < min_confidence


def abstain_message(repair: Repair, min_confidence: float) -> str:
  return (f"Abstained: the best repair's confidence {repair.confidence:.2f} (the calibrated "
          f"chance that it is the human's fix) is below min_confidence {min_confidence:.2f}. "
          "Pass --config.min_confidence=0 (repair-rank repair --min_confidence 0) to see "
          "the repairs anyway.")



def confidence_of(repair: Repair) -> Optional[float]:
  """The probability that `repair` is the human's fix, or None where the scorer gives none.

  The one place the page and the editor server read it; with no confidence
  every repair is offered.
  """
  value = getattr(repair, "confidence", None)
  return None if value is None else float(value)


def confident(repairs: Sequence[Repair], min_confidence: float) -> list[Repair]:
  """The repairs at or above `min_confidence` (all of them where none has a confidence)."""
  return [r for r in repairs
          if (confidence := confidence_of(r)) is None or confidence >= min_confidence]
