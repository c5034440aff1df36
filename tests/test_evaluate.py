"""Tests for repair_rank.ranking.evaluate: shuffling, views and the generated subset."""
import numpy as np
import pytest

from repair_rank.ranking import evaluate
from repair_rank.data.instances import RankingInstance


def _instance(index, found=True, n=6):
  query = ("NAME",) * (index + 1)
  truth = query + ("(", ")")
  others = [query + ("NUMBER",) * (j + 1) for j in range(n)]
  candidates = others[:2] + [truth] + others[2:] if found else others
  return RankingInstance(id=f"i{index}", query=query, truth=truth,
                         candidates=tuple(candidates), distance=2)


def _oracle(truths):
  def score(query, candidates):
    return np.array([1.0 if tuple(c) in truths else 0.0 for c in candidates])
  return score


def _constant(query, candidates):
  return np.zeros(len(candidates))


def test_constant_scorer_ranks_truth_last():
  instances = [_instance(i, found=i % 2 == 0) for i in range(6)]
  results = evaluate.rank_instances(instances, _constant, seed=0, progress=False)
  assert [r.rank for r in results] == [r.n_candidates - 1 for r in results]
  assert [r.n_candidates for r in results] == [7, 7, 7, 7, 7, 7]  # Truth appended if missed.


def test_shuffle_is_seeded_and_independent_of_order():
  seen = []
  def recorder(query, candidates):
    seen.append([tuple(c) for c in candidates])
    return np.arange(len(candidates), dtype=float)  # Position-based: exposes the shuffle.
  instances = [_instance(i) for i in range(8)]
  first = evaluate.rank_instances(instances, recorder, seed=3, progress=False)
  again = evaluate.rank_instances(instances, recorder, seed=3, progress=False)
  assert first == again
  orders = seen[:8]
  assert any(o != list(inst.candidates) for o, inst in zip(orders, instances))  # Shuffled.
  other = evaluate.rank_instances(instances, recorder, seed=4, progress=False)
  assert [r.rank for r in other] != [r.rank for r in first]
  # One instance alone at the same index gets the same shuffle.
  alone = evaluate.rank_instances(instances[:1], recorder, seed=3, progress=False)
  assert alone[0] == first[0]


def test_oracle_gives_mrr_one():
  instances = [_instance(i, found=i != 1) for i in range(5)]
  oracle = _oracle({inst.truth for inst in instances})
  reports = evaluate.evaluate(instances, oracle, seed=0, progress=False)
  assert reports["ranking"]["all"]["mrr"] == 1.0
  assert reports["ranking_generated"]["all"]["n"] == 4
  assert reports["ranking_generated"]["all"]["mrr"] == 1.0
  assert reports["end_to_end"]["all"]["mrr"] == pytest.approx(4 / 5)
  assert reports["end_to_end"]["all"]["p@100"] == pytest.approx(4 / 5)


def test_end_to_end_counts_misses_without_scoring_them():
  instances = [_instance(0), _instance(1, found=False)]
  calls = []
  def score(query, candidates):
    calls.append(tuple(query))
    return _oracle({inst.truth for inst in instances})(query, candidates)
  results = evaluate.rank_instances(instances, score, seed=0, end_to_end=True, progress=False)
  assert [r.rank for r in results] == [0, None]
  assert [r.generated for r in results] == [True, False]
  assert [r.n_candidates for r in results] == [7, 6]
  assert calls == [instances[0].query]  # The miss was never scored.


def test_end_to_end_view_matches_direct_ranking():
  instances = [_instance(i, found=i % 3 != 0) for i in range(9)]
  rng_score = lambda q, c: np.array([hash(tuple(x)) % 7 for x in c], dtype=float)
  ranking = evaluate.rank_instances(instances, rng_score, seed=1, progress=False)
  direct = evaluate.rank_instances(instances, rng_score, seed=1, end_to_end=True,
                                   progress=False)
  assert evaluate.end_to_end_view(ranking) == direct
  assert evaluate.generated_subset(ranking) == [r for r in ranking if r.generated]


def test_wrong_score_shape_is_an_error():
  with pytest.raises(ValueError, match="shape"):
    evaluate.rank_instances([_instance(0)], lambda q, c: np.zeros(2), seed=0, progress=False)
