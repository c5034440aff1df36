"""Averaging scorer bundles' params (launch/analysis/average_scorers.py): a weighted mean per
param, refused across model configs, saved as a bundle that loads."""

import jax
import numpy as np
import pytest

import conftest
from repair_rank.model import models
from repair_rank.ranking import scorer
from repair_rank.training import finetune

QUERY = ["NAME", "(", "NAME"]
CANDIDATES = [["NAME", "(", "NAME", ")"], ["NAME", "NAME"], ["NAME", "(", ")"]]


def _script():
  return conftest.load_module("launch/analysis/average_scorers.py")


def _tiny(seed: int, layers: int = 2) -> scorer.Scorer:
  model_config = models.TransformerConfig.from_job_config(conftest.tiny_config(), max_len=64,
                                                          layers=layers)
  params = finetune._initializer(model_config)(jax.random.PRNGKey(seed))  # pylint: disable=protected-access
  return scorer.Scorer(model_config, params, length_buckets=(16, 64), batch_buckets=(2, 4))


def test_every_param_is_the_weighted_mean():
  a, b = _tiny(0), _tiny(1)
  mean = _script().average([a, b], [0.25, 0.75])
  leaves = list(zip(*(jax.tree_util.tree_leaves(jax.device_get(s.params))
                      for s in (a, b, mean))))
  # The two starts differ (biases and norms start equal), so the mean is not either one.
  assert sum(not np.allclose(x, y) for x, y, _ in leaves) > len(leaves) // 3
  for x, y, m in leaves:
    np.testing.assert_allclose(m, 0.25 * x + 0.75 * y, rtol=1e-6, atol=1e-7)


def test_a_scorer_averaged_with_itself_scores_as_it_does(tmp_path):
  a = _tiny(0)
  path = _script().average([a, a], [0.5, 0.5]).save(tmp_path / "soup")
  loaded = scorer.load_bundle(path, calibrating=True)
  np.testing.assert_allclose(loaded.score(QUERY, CANDIDATES), a.score(QUERY, CANDIDATES),
                             rtol=1e-5, atol=1e-5)


def test_scorers_of_other_sizes_are_refused():
  with pytest.raises(ValueError, match="model configs differ"):
    _script().average([_tiny(0, layers=2), _tiny(1, layers=1)], [0.5, 0.5])
