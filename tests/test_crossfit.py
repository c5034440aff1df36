"""Tests for cross-fitted priors and the instances built with them."""
import numpy as np

from repair_rank.data import generation as generation_lib
from repair_rank.generator import edit_stats
from repair_rank.data import crossfit

PAIRS = [
    {"id": f"p{i}", "broken": broken, "fixed": fixed, "distance": 1}
    for i, (broken, fixed) in enumerate([
        ("NAME = NAME ( NAME", "NAME = NAME ( NAME )"),
        ("import NAME ,", "import NAME"),
        ("NAME ( STRING ) )", "NAME ( STRING )"),
        ("NAME = [ NUMBER , NUMBER", "NAME = [ NUMBER , NUMBER ]"),
        ("for NAME in NAME NEWLINE INDENT pass NEWLINE DEDENT",
         "for NAME in NAME : NEWLINE INDENT pass NEWLINE DEDENT"),
        ("NAME . NAME ( NAME , )", "NAME . NAME ( NAME )"),
        ("NAME ( NAME", "NAME ( NAME )"),
        ("while NAME NEWLINE INDENT break NEWLINE DEDENT",
         "while NAME : NEWLINE INDENT break NEWLINE DEDENT"),
    ])]


def test_fold_of_is_a_stable_function_of_the_id():
  folds = [crossfit.fold_of(p["id"], 3) for p in PAIRS]
  assert folds == [crossfit.fold_of(p["id"], 3) for p in reversed(PAIRS)][::-1]
  assert set(folds) <= {0, 1, 2}
  assert len(set(crossfit.fold_of(f"id-{i}", 5) for i in range(100))) == 5


def test_fold_models_never_see_their_own_fold(tmp_path):
  folds = 2
  crossfit.write_fold_models(PAIRS, folds, tmp_path, with_ngram_files=False)
  everything = crossfit.fit_ngram(PAIRS)
  for fold in range(folds):
    model, stats = crossfit.load_fold_models(tmp_path, fold)
    inside = [p for p in PAIRS if crossfit.fold_of(p["id"], folds) == fold]
    assert stats.pairs == len(PAIRS) - len(inside)
    for pair in inside:
      fixed = pair["fixed"].split()
      # Held out, the fix is less likely than under a model that has seen it.
      assert model.log_prob(fixed) < everything.log_prob(fixed) - 0.5


def test_build_instance_stores_parts_and_keeps_the_priors_top(tmp_path):
  crossfit.write_fold_models(PAIRS, 2, tmp_path, with_ngram_files=False)
  model, stats = crossfit.load_fold_models(tmp_path, 0)
  pair = PAIRS[0]
  full, _ = generation_lib.build_instance(pair, max_distance=2, k=1000, time_budget=None,
                                      max_expansions=50, model=model, stats=stats)
  kept, generation = generation_lib.build_instance(pair, max_distance=2, k=1000, time_budget=None,
                                               max_expansions=50, model=model, stats=stats,
                                               keep=5)
  query = pair["broken"].split()
  for candidate, (log_prob, channel) in zip(full.candidates, full.parts):
    assert np.isclose(log_prob, model.log_prob(candidate))
    assert np.isclose(channel, edit_stats.channel_log_rate(stats, query, candidate))
  assert np.allclose(full.truth_parts, (model.log_prob(full.truth),
                                        edit_stats.channel_log_rate(stats, query, full.truth)))
  prior = {c: lp + edit_stats.CHANNEL_WEIGHT * ch for c, (lp, ch) in zip(full.candidates, full.parts)}
  best = sorted(prior, key=prior.get, reverse=True)[:5]
  assert set(kept.candidates) == set(best)
  # The generator's order is kept, and the stats speak of the whole list.
  assert list(kept.candidates) == [c for c in full.candidates if c in set(best)]
  assert generation["n_candidates"] == len(full.candidates) > 5
