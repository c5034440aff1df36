"""repair_rank.ranking.confidence: the calibration recovers a known one, and its measures."""
import json

import numpy as np
import pytest

from repair_rank.ranking import confidence


def synthetic_lists(n: int, temperature: float, none_logit: float, seed: int = 0
                    ) -> list[confidence.ScoredList]:
  """Lists whose fix is drawn from exactly the model `Calibration(temperature, none_logit)`."""
  rng = np.random.default_rng(seed)
  truth_model = confidence.Calibration(temperature, none_logit)
  items = []
  for _ in range(n):
    scores = rng.normal(0.0, 3.0, size=rng.integers(1, 30))
    p = truth_model.probabilities(scores)
    choice = rng.choice(len(scores) + 1, p=np.append(p, 1.0 - p.sum()))
    items.append(confidence.ScoredList(scores, None if choice == len(scores) else int(choice)))
  return items


def tops_and_hits(calibration, items):
  return (np.array([calibration.top(item.scores) for item in items]),
          np.array([confidence.top_is_truth(item) for item in items]))


@pytest.mark.parametrize("objective", confidence.OBJECTIVES)
def test_fit_recovers_a_known_calibration_and_is_calibrated_on_fresh_lists(objective):
  fitted = confidence.fit(synthetic_lists(4000, temperature=2.0, none_logit=-1.0),
                          objective=objective)
  if objective == "list":  # every candidate's label: both numbers are identified
    assert fitted.temperature == pytest.approx(2.0, rel=0.1)
    assert fitted.none_logit == pytest.approx(-1.0, abs=0.15)
  tops, hits = tops_and_hits(fitted, synthetic_lists(4000, 2.0, -1.0, seed=1))
  assert confidence.expected_calibration_error(tops, hits) < 0.03
  # The raw softmax (T = 1, no room for misses) on the same lists is overconfident.
  raw_tops, _ = tops_and_hits(confidence.Calibration(1.0, -30.0),
                              synthetic_lists(4000, 2.0, -1.0, seed=1))
  assert confidence.expected_calibration_error(raw_tops, hits) > 0.15
  assert raw_tops.mean() > hits.mean() + 0.15


def test_weights_fit_the_reweighted_mix():
  # Two kinds of list with different temperatures: all weight on one recovers that one.
  cold = synthetic_lists(1500, temperature=1.0, none_logit=-3.0, seed=2)
  hot = synthetic_lists(1500, temperature=4.0, none_logit=-3.0, seed=3)
  fitted = confidence.fit(cold + hot, [1.0] * len(cold) + [1e-9] * len(hot), objective="list")
  assert fitted.temperature == pytest.approx(1.0, rel=0.15)


def test_probabilities_per_candidate_sum_below_one_and_follow_the_scores():
  calibration = confidence.Calibration(1.0, 0.0)
  p = calibration.probabilities([2.0, 0.0, 1.0])
  # exp(0), exp(-2), exp(-1) and the "none" option exp(0) share 1.
  expected = np.exp([0.0, -2.0, -1.0]) / (np.exp([0.0, -2.0, -1.0]).sum() + 1.0)
  np.testing.assert_allclose(p, expected)
  assert calibration.top([2.0, 0.0, 1.0]) == pytest.approx(expected[0])
  assert calibration.top([]) is None
  # Shifting every score changes nothing (the none option is relative to the best).
  np.testing.assert_allclose(calibration.probabilities([102.0, 100.0, 101.0]), expected)


def test_isotonic_regression_pools_violators_and_maps_the_top():
  x, y = confidence.isotonic_regression(np.array([0.1, 0.2, 0.3, 0.4]),
                                        np.array([0.0, 1.0, 0.0, 1.0]), np.ones(4))
  assert y == (0.0, 0.5, 1.0) and x == pytest.approx((0.1, 0.25, 0.4))
  mapped = confidence.Calibration(1.0, np.log(0.75), isotonic_x=(0.0, 1.0),
                                  isotonic_y=(0.0, 0.5))
  p = mapped.probabilities([0.0, -np.log(4.0), -np.log(2.0)])  # raw .4, .1, .2, none .3
  assert p[0] == pytest.approx(0.2)  # the map halves the top
  assert p[1] == pytest.approx(0.1 * 0.8 / 0.6)  # the others share the rest as before,
  assert p[2] == pytest.approx(0.2)  # none offered as surer than the top (0.267 uncapped)


def test_a_map_that_lowers_a_close_top_keeps_every_other_below_it():
  # Two close candidates; the map takes the top's raw probability down to a fifth.
  mapped = confidence.Calibration(1.0, -3.0, isotonic_x=(0.0, 1.0), isotonic_y=(0.0, 0.2))
  scores = np.array([0.0, -0.1, -4.0])
  raw_top = 1.0 / (np.exp(scores).sum() + np.exp(-3.0))
  p = mapped.probabilities(scores)
  assert p[0] == pytest.approx(0.2 * raw_top)
  assert p[1] <= p[0] and p[2] < p[1]


def test_fit_with_isotonic_is_monotone_and_calibrated_in_sample():
  items = synthetic_lists(2000, temperature=2.0, none_logit=-1.0, seed=4)
  fitted = confidence.fit(items, isotonic=True)
  assert list(fitted.isotonic_y) == sorted(fitted.isotonic_y)
  tops, hits = tops_and_hits(fitted, items)
  assert confidence.expected_calibration_error(tops, hits) < 0.03


def test_reliability_ece_and_risk_coverage_by_hand():
  tops = np.array([0.95, 0.85, 0.15, 0.05])
  hits = np.array([True, False, False, False])
  rows = confidence.reliability(tops, hits)
  assert [(r["low"], r["n"], r["accuracy"]) for r in rows] == [
      (0.0, 1, 0.0), (0.1, 1, 0.0), (0.8, 1, 0.0), (0.9, 1, 1.0)]
  # |0 - .05| + |0 - .15| + |0 - .85| + |1 - .95|, each a quarter of the queries.
  assert confidence.expected_calibration_error(tops, hits) == pytest.approx(1.1 / 4)
  table = confidence.risk_coverage(tops, hits, coverages=(0.25, 0.5, 1.0))
  assert [(r["n"], r["p@1"], r["min_confidence"]) for r in table] == [
      (1, 1.0, 0.95), (2, 0.5, 0.85), (4, 0.25, 0.05)]
  assert confidence.at_threshold(tops, hits, 0.8) == {"threshold": 0.8, "coverage": 0.5,
                                                      "p@1": 0.5}


def test_top_is_truth_counts_ties_and_misses_against_the_truth():
  assert confidence.top_is_truth(confidence.ScoredList(np.array([1.0, 0.0]), 0))
  assert not confidence.top_is_truth(confidence.ScoredList(np.array([1.0, 1.0]), 0))
  assert not confidence.top_is_truth(confidence.ScoredList(np.array([1.0, 0.0]), None))
  # A NaN competitor beats the truth, as in P@1 (metrics.rank_of_truth).
  assert not confidence.top_is_truth(confidence.ScoredList(np.array([1.0, np.nan]), 0))


def test_nan_scores_get_no_probability_and_bad_fits_say_why():
  calibration = confidence.Calibration(1.0, -1.0)
  probabilities = calibration.probabilities([2.0, np.nan, 1.0])
  assert probabilities[1] == 0.0 and np.all(np.isfinite(probabilities))
  np.testing.assert_allclose(probabilities[[0, 2]], calibration.probabilities([2.0, 1.0]))
  np.testing.assert_array_equal(calibration.probabilities([np.nan]), [0.0])
  with pytest.raises(ValueError, match="nothing to fit the calibration on"):
    confidence.fit([confidence.ScoredList(np.zeros(0), None)])
  outside = [confidence.ScoredList(np.array([1.0, 0.0]), 0, distance=9, length=5)]
  with pytest.raises(ValueError, match="none of the 1 lists falls in a cell"):
    confidence.test_mix_weights(outside)


def test_save_load_round_trip_and_errors_name_the_field(tmp_path):
  calibration = confidence.Calibration(1.5, -2.0, (0.1, 0.9), (0.2, 0.8), {"queries": 3})
  path = tmp_path / confidence.CALIBRATION_FILE
  calibration.save(path)
  assert confidence.Calibration.load(path) == calibration
  data = json.loads(path.read_text())
  data["none_logit"] = float("nan")
  path.write_text(json.dumps(data))
  with pytest.raises(confidence.CalibrationError, match="none_logit"):
    confidence.Calibration.load(path)
  path.write_text("{")
  with pytest.raises(confidence.CalibrationError, match=str(path)):
    confidence.Calibration.load(path)


def test_score_with_confidence_reads_the_scorer_or_asks_it():
  calibration = confidence.Calibration(1.0, 0.0)

  class Calibrated:
    def __init__(self):
      self.calibration = calibration

    def score(self, query, candidates):
      return np.arange(len(candidates), dtype=np.float64)

  scorer = Calibrated()
  for score_fn in (scorer, scorer.score):  # the object, and a bound .score (the server's)
    scores, confidences = confidence.score_with_confidence(score_fn, ["NAME"], [["a"], ["b"]])
    np.testing.assert_allclose(confidences, calibration.probabilities(scores))
  plain = lambda query, candidates: np.zeros(len(candidates))
  assert confidence.score_with_confidence(plain, ["NAME"], [["a"]])[1] is None
