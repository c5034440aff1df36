"""Tests for the learned first stage (features of the prior's parts, fitted listwise)."""
import numpy as np
import pytest

from repair_rank.data.instances import RankingInstance
from repair_rank.ranking import learned_prior

QUERY = ("NAME", "(", "NAME")


def _instance(i, truth, candidates, parts, truth_parts):
  return RankingInstance(id=f"q{i}", query=QUERY, truth=truth, candidates=tuple(candidates),
                         distance=1, parts=tuple(parts), truth_parts=truth_parts)


def test_features_describe_the_list():
  candidates = [("NAME", "(", "NAME", ")"), ("NAME", "(", ")"), ("NAME",), ("(", "NAME", ")"),
                ("NAME", "(", "NAME", ",")]
  parts = np.array([[-5.0, -2.0], [-4.0, -3.0], [-9.0, -6.0], [-3.0, -8.0], [-6.0, -2.0]])
  x = learned_prior.features(QUERY, candidates, parts, channel_weight=1.0)
  column = {name: x[:, i] for i, name in enumerate(learned_prior.FEATURE_NAMES)}
  assert x.shape == (5, len(learned_prior.FEATURE_NAMES))
  np.testing.assert_array_equal(column["log_prob"], parts[:, 0])
  np.testing.assert_array_equal(column["channel"], parts[:, 1])
  np.testing.assert_array_equal(column["distance_1"], [1, 1, 0, 0, 1])
  np.testing.assert_array_equal(column["distance_2"], [0, 0, 1, 1, 0])
  np.testing.assert_array_equal(column["insertions"], [1, 0, 0, 1, 1])
  np.testing.assert_array_equal(column["deletions"], [0, 0, 2, 1, 0])
  np.testing.assert_array_equal(column["substitutions"], [0, 1, 0, 0, 0])
  np.testing.assert_allclose(column["log_prob_per_token"], parts[:, 0] / [5, 4, 2, 4, 5])
  # Prior = log_prob + channel: -7, -7, -15, -11, -8; ties keep list order.
  np.testing.assert_allclose(column["log_rank"], np.log1p([0, 1, 4, 3, 2]))
  np.testing.assert_allclose(column["log_rank_in_distance"], np.log1p([0, 1, 1, 0, 2]))
  np.testing.assert_allclose(column["deep_x_log_distance1_count"],
                             [0, 0, np.log1p(3), np.log1p(3), 0])
  np.testing.assert_allclose(column["deep_x_best1_gap"], [0, 0, 0, 0, 0])
  np.testing.assert_allclose(column["near_x_best2_gap"], [-4, -4, 0, 0, -4])
  # The best one-edit repair falls behind when a two-edit one leads the list.
  parts[3] = [-1.0, -1.0]
  x = learned_prior.features(QUERY, candidates, parts, channel_weight=1.0)
  gap = x[:, learned_prior.FEATURE_NAMES.index("deep_x_best1_gap")]
  np.testing.assert_allclose(gap, [0, 0, -5, -5, 0])


def test_fit_learns_what_the_prior_gets_wrong():
  # The truth is always the insertion with the lower prior: a fixed prior ranks it second,
  # the learned weights must put it first on unseen lists of the same kind.
  rng = np.random.default_rng(0)
  def make(n, offset):
    out = []
    for i in range(n):
      truth, other = ("NAME", "(", "NAME", ")"), ("NAME", "(", "(", "NAME")
      wrong = ("NAME",)
      lp = rng.normal(-8, 1, size=3)
      parts = [(lp[0], -4.0), (lp[0] + 1.0, -4.0), (lp[2], -9.0)]  # truth's prior is 1 lower
      out.append(_instance(offset + i, truth, [truth, other, wrong], parts, parts[0]))
    return out
  train, valid = make(40, 0), make(10, 100)
  plain = learned_prior.LearnedPrior.plain(channel_weight=1.0, list_size=64)
  fitted, _ = learned_prior.fit(train, channel_weight=1.0, steps=300)
  for inst in valid:
    parts = np.array(inst.parts)
    assert np.argmax(plain.score_parts(QUERY, inst.candidates, parts)) != 0
    assert np.argmax(fitted.score_parts(QUERY, inst.candidates, parts)) == 0


def test_json_round_trip_and_refusals(tmp_path):
  prior = learned_prior.LearnedPrior.plain(channel_weight=1.75, list_size=64)
  path = tmp_path / "prior.json"
  prior.save(path)
  assert learned_prior.LearnedPrior.load(path) == prior
  path.write_text("{not json")
  with pytest.raises(ValueError, match="prior.json"):
    learned_prior.LearnedPrior.load(path)
