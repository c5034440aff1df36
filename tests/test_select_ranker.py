"""Valid rows for choosing the bundle (launch/analysis/select_ranker.py): an ensemble of
bundles averages their transformer scores behind the first one's first stage."""

import jax
import numpy as np
import pytest

import conftest
from repair_rank.model import models
from repair_rank.ranking import scorer
from repair_rank.training import finetune

QUERY = ["NAME", "(", "NAME"]
CANDIDATES = [["NAME", "(", "NAME", ")"], ["NAME", "NAME"], ["NAME", "(", ")"],
              ["NAME", "(", "NAME", ",", "NAME", ")"]]


def _script():
  return conftest.load_module("launch/analysis/select_ranker.py")


def _tiny(seed: int, **settings) -> scorer.Scorer:
  model_config = models.TransformerConfig.from_job_config(conftest.tiny_config(), max_len=64)
  params = finetune._initializer(model_config)(jax.random.PRNGKey(seed))  # pylint: disable=protected-access
  return scorer.Scorer(model_config, params, length_buckets=(16, 64), batch_buckets=(2, 4),
                       **settings)


def test_an_ensemble_scores_the_mean_of_its_members_behind_the_first_stage():
  settings = dict(prior="markov_channel", prior_weight=1.0, prefilter_k=3)
  a, b = _tiny(0, **settings), _tiny(1, **settings)
  alone_a, alone_b = a.score_all(QUERY, CANDIDATES), b.score_all(QUERY, CANDIDATES)
  assert not np.allclose(alone_a, alone_b)  # Two starts: the mean is neither.
  first_stage = _tiny(2, prior="markov_channel", prior_weight=1.0, prefilter_k=3)
  first_stage.score_all = lambda query, candidates: np.zeros(len(candidates), np.float32)
  prior_only = first_stage.score(QUERY, CANDIDATES)
  kept = np.argsort(-prior_only, kind="stable")[:3]
  both = _script().ensemble([a, b])
  scores = both.score(QUERY, CANDIDATES)
  np.testing.assert_allclose(scores[kept], prior_only[kept] + (alone_a + alone_b)[kept] / 2,
                             rtol=1e-5, atol=1e-5)
  # The candidate the first stage drops ranks below every kept one, as with one scorer.
  assert scores[np.setdiff1d(np.arange(len(CANDIDATES)), kept)].max() < scores[kept].min()


def test_members_behind_other_first_stages_are_refused():
  with pytest.raises(ValueError, match="first stages or settings differ"):
    _script().ensemble([_tiny(0, prior="markov_channel", prefilter_k=3),
                        _tiny(1, prior="markov_channel", prefilter_k=2)])


def test_members_with_their_own_copies_of_one_learned_prior_are_one_first_stage(tmp_path):
  source = conftest.REPO / "repair_rank" / "assets" / "learned_prior.json"
  copies = [tmp_path / "a.json", tmp_path / "b.json", tmp_path / "other.json"]
  for copy in copies:
    copy.write_bytes(source.read_bytes())
  copies[2].write_text(copies[2].read_text().replace("0", "1", 1))
  settings = dict(prior="learned_prior", prior_weight=1.0, prefilter_k=3)
  same = [_tiny(seed, prior_options={"path": str(copy)}, **settings)
          for seed, copy in enumerate(copies[:2])]
  assert _script().ensemble(same) is same[0]
  with pytest.raises(ValueError, match="first stages or settings differ"):
    _script().ensemble([_tiny(0, prior_options={"path": str(copies[0])}, **settings),
                        _tiny(1, prior_options={"path": str(copies[2])}, **settings)])
