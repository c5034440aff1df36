"""End-to-end evaluation: a truth the generator did not propose is a miss at every k.

The library of the evaluate job (`repair_rank.jobs.evaluate_end_to_end`): the
generated instances (`data.generation.generate_instances`, truth not inserted)
are ranked by `evaluate.rank_instances(end_to_end=True)` under any `ScoreFn`
(the job passes the endpoint's HTTP client), timing every call. Also reported:
the ranking view restricted to the pairs whose truth was generated.
"""
import time
from typing import Any, Optional, Sequence

import numpy as np

from repair_rank.data import instances as instances_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics

# Candidates kept per pair in the examples file (best first by the scorer).
N_EXAMPLE_CANDIDATES = 3


class TimedScoreFn:
  """Wraps a `ScoreFn`: records each call's wall time and top candidates, in call order."""

  def __init__(self, score_fn: evaluate.ScoreFn):
    self.score_fn = score_fn
    self.seconds: list[float] = []
    self.n_candidates: list[int] = []
    self.top: list[list[list[str]]] = []

  def __call__(self, query: list[str], candidates: list[list[str]]) -> np.ndarray:
    start = time.perf_counter()
    scores = self.score_fn(query, candidates)
    self.seconds.append(time.perf_counter() - start)
    self.n_candidates.append(len(candidates))
    order = metrics.best_first(scores)[:N_EXAMPLE_CANDIDATES]
    self.top.append([candidates[i] for i in order])
    return scores


def percentiles(values: Sequence[float]) -> dict[str, Optional[float]]:
  """Total, mean, p50, p90 and p99 of per-query seconds (None when empty)."""
  if not values:
    return {"total": 0.0, "mean": None, "p50": None, "p90": None, "p99": None}
  array = np.asarray(values, dtype=np.float64)
  return {"total": float(array.sum()), "mean": float(array.mean()),
          "p50": float(np.percentile(array, 50)), "p90": float(np.percentile(array, 90)),
          "p99": float(np.percentile(array, 99))}


def evaluate_end_to_end(instances: Sequence[instances_lib.RankingInstance],
                        score_fn: evaluate.ScoreFn, *, seed: int, progress: bool = True
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
  """(metric views and scoring times, per-instance examples) of `score_fn` end to end."""
  timed = TimedScoreFn(score_fn)
  start = time.perf_counter()
  results = evaluate.rank_instances(instances, timed, seed=seed, end_to_end=True,
                                    progress=progress)
  wall = time.perf_counter() - start
  n_scored = sum(timed.n_candidates)
  scoring = {"seconds": percentiles(timed.seconds), "wall_seconds": wall,
             "queries": len(timed.seconds), "candidates": n_scored,
             "candidates_per_second": n_scored / sum(timed.seconds) if timed.seconds else None}
  views = {"end_to_end": metrics.report(results),
           "ranking_generated": metrics.report(evaluate.generated_subset(results))}
  calls = iter(timed.top)
  examples = []
  for inst, result in zip(instances, results):
    top = next(calls) if result.generated else []
    examples.append({"id": inst.id, "distance": inst.distance, "length": inst.length,
                     "rank": result.rank, "n_candidates": result.n_candidates,
                     "query": " ".join(inst.query), "truth": " ".join(inst.truth),
                     "top": [" ".join(c) for c in top]})
  return {"views": views, "scoring": scoring}, examples
