"""Tests for repair_rank.scorer: determinism, equivariance, padding, bundles."""
import jax
import numpy as np
import pytest

import conftest
from repair_rank.ranking import scorer
from repair_rank.model import models
from repair_rank.training import finetune


@pytest.fixture(name="tiny_scorer", scope="module")
def fixture_tiny_scorer():
  config = conftest.tiny_config()
  model_config = models.TransformerConfig.from_job_config(config, max_len=64)
  init = finetune._initializer(model_config)  # pylint: disable=protected-access
  params = init(jax.random.PRNGKey(0))
  # Zero-initialised parts (edit channel, distance) get random values so they matter.
  leaves, treedef = jax.tree.flatten(params)
  rng = np.random.default_rng(1)
  leaves = [np.asarray(x) + 0.1 * rng.standard_normal(x.shape).astype(np.float32) for x in leaves]
  return scorer.Scorer(model_config, jax.tree.unflatten(treedef, leaves),
                       length_buckets=(16, 32, 64), batch_buckets=(2, 4))


def _query_and_candidates():
  instance = conftest.make_instances(1, seed=3, candidates=7)[0]
  candidates = [list(c) for c in instance.candidates]
  candidates.append(list(instance.query) * 3)  # A long one: a larger length bucket.
  return list(instance.query), candidates


def test_scores_are_deterministic_floats(tiny_scorer):
  query, candidates = _query_and_candidates()
  first = tiny_scorer.score(query, candidates)
  assert first.shape == (len(candidates),) and first.dtype == np.float32
  np.testing.assert_array_equal(first, tiny_scorer.score(query, candidates))
  assert len(set(first.tolist())) == len(candidates)
  assert tiny_scorer.score(query, []).shape == (0,)


def test_permutation_equivariant(tiny_scorer):
  query, candidates = _query_and_candidates()
  scores = tiny_scorer.score(query, candidates)
  order = np.random.default_rng(0).permutation(len(candidates))
  np.testing.assert_allclose(tiny_scorer.score(query, [candidates[i] for i in order]),
                             scores[order], atol=1e-5)


def test_padding_does_not_change_scores(tiny_scorer):
  query, candidates = _query_and_candidates()
  batched = tiny_scorer.score(query, candidates)
  alone = np.array([tiny_scorer.score(query, [c])[0] for c in candidates])
  np.testing.assert_allclose(alone, batched, atol=1e-5)
  # Scored in a wider length bucket than it needs, a candidate keeps its score.
  wide = scorer.Scorer(tiny_scorer.model_config, tiny_scorer.params, length_buckets=(64,),
                       batch_buckets=(16,))
  np.testing.assert_allclose(wide.score(query, candidates), batched, atol=1e-5)


def test_save_load_round_trip(tiny_scorer, tmp_path):
  query, candidates = _query_and_candidates()
  path = tiny_scorer.save(tmp_path / "bundle")
  loaded = scorer.load(path)
  assert loaded.model_config == tiny_scorer.model_config
  np.testing.assert_array_equal(loaded.score(query, candidates),
                                tiny_scorer.score(query, candidates))


def test_missing_default_or_bad_path_raises(tmp_path, monkeypatch):
  monkeypatch.setattr(scorer, "DEFAULT_BUNDLE", tmp_path / "absent")
  with pytest.raises(FileNotFoundError, match="Train one"):
    scorer.load()
  with pytest.raises(FileNotFoundError, match="neither a scorer bundle"):
    scorer.load(tmp_path)


def test_cascade_scores_only_the_prefiltered_candidates(tiny_scorer, tmp_path):
  from repair_rank.ranking import baselines  # pylint: disable=g-import-not-at-top
  query, candidates = _query_and_candidates()
  cascade = scorer.Scorer(tiny_scorer.model_config, tiny_scorer.params,
                          length_buckets=(16, 32, 64), batch_buckets=(2, 4),
                          prefilter_k=3, prefilter_lambda=1.5)
  scores = cascade.score(query, candidates)
  first = baselines.get("markov_distance", lam=1.5)(query, candidates)
  kept = np.argsort(-first, kind="stable")[:3]
  # The kept three carry the transformer's own scores and rank above the rest...
  np.testing.assert_allclose(scores[kept], tiny_scorer.score(query, [candidates[i] for i in kept]),
                             atol=1e-5)
  rest = np.setdiff1d(np.arange(len(candidates)), kept)
  assert scores[rest].max() < scores[kept].min()
  # ...which keep the first stage's order among themselves.
  assert list(rest[np.argsort(-scores[rest])]) == list(rest[np.argsort(-first[rest], kind="stable")])
  # Few enough candidates: no first stage at all.
  np.testing.assert_array_equal(cascade.score(query, candidates[:3]),
                                tiny_scorer.score(query, candidates[:3]))
  # The cascade settings travel with the bundle.
  loaded = scorer.load(cascade.save(tmp_path / "cascade"))
  assert (loaded.prefilter_k, loaded.prefilter_lambda) == (3, 1.5)
  np.testing.assert_array_equal(loaded.score(query, candidates), scores)


def test_cascade_quota_sends_deeper_repairs_to_the_transformer(tiny_scorer, tmp_path):
  from repair_rank.data import instances as instances_lib  # pylint: disable=g-import-not-at-top
  from repair_rank.ranking import baselines  # pylint: disable=g-import-not-at-top
  from repair_rank.ranking import learned_prior  # pylint: disable=g-import-not-at-top
  query, candidates = _query_and_candidates()
  candidates += [query + ["(", ")"], query + ["(", ")", ","], ["NAME"] + query + [".", "NAME"],
                 query[1:] + [":", "NAME"]]
  quota = scorer.Scorer(tiny_scorer.model_config, tiny_scorer.params,
                        length_buckets=(16, 32, 64), batch_buckets=(2, 4),
                        prefilter_k=2, prefilter_lambda=1.5, prefilter_per_distance=1)
  scores = quota.score(query, candidates)
  first = baselines.get("markov_distance", lam=1.5)(query, candidates)
  order = np.argsort(-first, kind="stable")
  distances = [instances_lib.token_distance(query, c) for c in candidates]
  assert {1, 2, 3} <= set(distances[i] for i in order[2:])
  kept = learned_prior.top_with_quota(order, distances, 2, 1)
  assert len(kept) == 5 and kept[:2] == list(order[:2])
  # The top two and the best of each distance after them carry the transformer's scores
  # and rank above the rest, which keep the first stage's order.
  np.testing.assert_allclose(scores[kept], tiny_scorer.score(query, [candidates[i] for i in kept]),
                             atol=1e-5)
  rest = [i for i in order if i not in kept]
  assert scores[rest].max() < scores[kept].min()
  assert list(np.array(rest)[np.argsort(-scores[rest], kind="stable")]) == rest
  # The quota travels with the bundle.
  loaded = scorer.load(quota.save(tmp_path / "quota"))
  assert loaded.prefilter_per_distance == 1
  np.testing.assert_array_equal(loaded.score(query, candidates), scores)


def test_prior_weight_adds_the_first_stage_score(tiny_scorer, tmp_path):
  from repair_rank.ranking import baselines  # pylint: disable=g-import-not-at-top
  query, candidates = _query_and_candidates()
  ensemble = scorer.Scorer(tiny_scorer.model_config, tiny_scorer.params,
                           length_buckets=(16, 32, 64), batch_buckets=(2, 4),
                           prefilter_lambda=2.0, prior_weight=0.5)
  first = baselines.get("markov_distance", lam=2.0)(query, candidates)
  np.testing.assert_allclose(ensemble.score(query, candidates),
                             tiny_scorer.score(query, candidates) + 0.5 * first, rtol=1e-5)
  loaded = scorer.load(ensemble.save(tmp_path / "ensemble"))
  assert loaded.prior_weight == 0.5
  # Another named first stage, saved with the bundle.
  channel = scorer.Scorer(tiny_scorer.model_config, tiny_scorer.params,
                          length_buckets=(16, 32, 64), batch_buckets=(2, 4),
                          prior_weight=0.5, prior="markov_channel")
  expected = (tiny_scorer.score(query, candidates)
              + 0.5 * baselines.get("markov_channel")(query, candidates))
  np.testing.assert_allclose(channel.score(query, candidates), expected, rtol=1e-5)
  reloaded = scorer.load(channel.save(tmp_path / "channel"))
  assert reloaded.prior == "markov_channel"
  np.testing.assert_allclose(reloaded.score(query, candidates), expected, rtol=1e-5)
  # Naming another prior after scoring replaces the cached first stage.
  reloaded.prior = "markov"
  np.testing.assert_allclose(reloaded.score(query, candidates),
                             tiny_scorer.score(query, candidates)
                             + 0.5 * baselines.get("markov")(query, candidates), rtol=1e-5)


def test_the_model_keeps_its_compiled_functions_in_the_persistent_cache(tmp_path):
  """Issue 22: a front end's second start reads compiled shapes instead of compiling;
  REPAIR_RANK_JAX_CACHE names the directory, `off` turns it off."""
  import os  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ("from repair_rank.ranking import registry, scorer\n"
          "s = registry.get('model')\n"
          "s(['NAME', '(', 'NEWLINE'], [['NAME', '(', ')', 'NEWLINE']])\n"
          "print(scorer.use_compilation_cache())\n")
  root = pathlib.Path(__file__).resolve().parent.parent
  for setting, expected in ((str(tmp_path / "cache"), str(tmp_path / "cache")), ("off", "None")):
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "REPAIR_RANK_JAX_CACHE": setting,
                               "JAX_PLATFORMS": "cpu"}, timeout=300, check=True)
    assert done.stdout.strip().splitlines()[-1] == expected
  assert any((tmp_path / "cache").iterdir())
