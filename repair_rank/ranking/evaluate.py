"""The one evaluation code path: shuffle, score, rank the truth (pipeline step 8, README.md).

Every scorer (baselines, the in-process model, the HTTP endpoint) is a
`ScoreFn`, so every reported number comes from `rank_instances`. Two views:
  - ranking-instance: the truth is appended when the generator missed it, which
    measures the ranker alone; also reported on the subset where the generator
    found the truth itself, since an appended truth can be an artefact;
  - end-to-end: a truth the generator missed is a miss (rank None).
"""
import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import tqdm

from repair_rank import paths
from repair_rank.data.instances import RankingInstance
from repair_rank.ranking import metrics

# score(query, candidates) -> one float per candidate, higher is better.
ScoreFn = Callable[[list[str], list[list[str]]], np.ndarray]

VIEWS = ("ranking", "ranking_generated", "end_to_end")


def as_score_fn(scorer: Any) -> ScoreFn:
  """The `ScoreFn` of a scorer: its `.score` method, or the scorer itself if callable."""
  method = getattr(scorer, "score", None)
  if callable(method):
    return method
  if callable(scorer):
    return scorer
  raise TypeError(f"{type(scorer).__name__} is neither a ScoreFn nor has a .score method")


def rank_instances(instances: Sequence[RankingInstance], score_fn: ScoreFn, *, seed: int,
                   end_to_end: bool = False, progress: bool = True
                   ) -> list[metrics.QueryResult]:
  """Ranks the truth of each instance among its shuffled candidates under `score_fn`.

  The candidate list is shuffled with a generator seeded by (seed, instance
  index), so results do not depend on evaluation order and a scorer cannot win
  ties from the truth's position. In the end-to-end view an instance whose
  generator missed the truth is a miss and `score_fn` is not called for it.
  """
  results = []
  for index, inst in enumerate(tqdm.tqdm(instances, desc="ranking", unit="query",
                                         disable=not progress)):
    generated = inst.generated_rank is not None
    candidates = list(inst.candidates)
    if not generated:
      if end_to_end:
        results.append(_result(inst, rank=None, n_candidates=len(candidates)))
        continue
      candidates.append(inst.truth)
    truth_index = candidates.index(inst.truth)
    order = np.random.default_rng([seed, index]).permutation(len(candidates))
    shuffled = [list(candidates[i]) for i in order]
    scores = np.asarray(score_fn(list(inst.query), shuffled), dtype=np.float64)
    if scores.shape != (len(shuffled),):
      raise ValueError(f"instance {inst.id!r}: score function returned shape {scores.shape} "
                       f"for {len(shuffled)} candidates")
    rank = metrics.rank_of_truth(scores, int(np.flatnonzero(order == truth_index)[0]))
    results.append(_result(inst, rank=rank, n_candidates=len(shuffled)))
  return results


def generated_subset(results: Sequence[metrics.QueryResult]) -> list[metrics.QueryResult]:
  """The results whose generator found the truth on its own (no inserted truth)."""
  return [r for r in results if r.generated]


def end_to_end_view(results: Sequence[metrics.QueryResult]) -> list[metrics.QueryResult]:
  """The end-to-end results implied by ranking-view results, without rescoring.

  Where the generator found the truth both views score the same shuffled list,
  so the ranks agree (for a score function that depends only on its inputs);
  elsewhere the end-to-end view has a miss.
  """
  return [r if r.generated else _as_miss(r) for r in results]


def evaluate(instances: Sequence[RankingInstance], score_fn: ScoreFn, *, seed: int,
             progress: bool = True) -> dict[str, dict[str, dict[str, Any]]]:
  """Metric reports of one scorer in every view (keys `VIEWS`), scoring each instance once."""
  results = rank_instances(instances, score_fn, seed=seed, progress=progress)
  return {
      "ranking": metrics.report(results),
      "ranking_generated": metrics.report(generated_subset(results)),
      "end_to_end": metrics.report(end_to_end_view(results)),
  }


def _result(inst: RankingInstance, *, rank: int | None, n_candidates: int) -> metrics.QueryResult:
  return metrics.QueryResult(id=inst.id, distance=inst.distance, length=inst.length, rank=rank,
                             generated=inst.generated_rank is not None,
                             n_candidates=n_candidates)


def _as_miss(result: metrics.QueryResult) -> metrics.QueryResult:
  # The ranking view appended the truth; the end-to-end list lacks it.
  return dataclasses.replace(result, rank=None, n_candidates=result.n_candidates - 1)


def test_mix() -> dict[metrics.Cell, float]:
  """The mix of (distance, length bucket) cells of the bundled test pairs.

  Only the split's make-up is read (never a result on it): model selection on
  valid reweights to it (`metrics.balanced_summary`), because test is balanced
  across distance and length while valid is 54% distance 1.
  """
  # Imported here: tensorflow-datasets costs a second that scoring front ends never need.
  from repair_rank.data import stackoverflow  # pylint: disable=g-import-not-at-top
  pairs = stackoverflow.read_pairs(paths.split_path("test"))
  return metrics.composition(metrics.cell(p["distance"], len(p["broken"].split()))
                             for p in pairs)


def test_distance_weights(distances: Sequence[int]) -> np.ndarray:
  """Per-query weights that give each edit distance the share it has in test.

  A query weighs its distance's test share / that distance's share of `distances`
  (distances test lacks weigh 0), so a d1-heavy training set (train: 61% distance 1)
  is trained as if it had test's balanced mix. Mean 1 where every distance is in test.
  """
  target: dict[int, float] = {}
  for (distance, _), share in test_mix().items():
    target[distance] = target.get(distance, 0.0) + share
  distances = np.asarray(distances)
  return np.array([target.get(d, 0.0) / np.mean(distances == d) for d in distances])
