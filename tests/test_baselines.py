"""Tests for repair_rank.ranking.baselines and .registry: the scorers, the registry, the job end to end."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from repair_rank.ranking import registry
from repair_rank.data import instances
from repair_rank.data.instances import RankingInstance

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_edit_distance_ranks_closer_candidate_first():
  score = registry.get("edit_distance")
  query = ["NAME", "=", "(", "NAME"]
  far = ["NAME", "=", "NAME", ")", ")"]
  near = ["NAME", "=", "(", "NAME", ")"]
  scores = score(query, [far, near])
  assert scores[1] > scores[0]
  assert scores.tolist() == [-3.0, -1.0]


def test_random_is_deterministic_per_input():
  score = registry.get("random", seed=1)
  query, candidates = ["NAME"], [["NAME", "("], ["NAME", ")"], ["("]]
  first = score(query, candidates)
  assert first.shape == (3,)
  np.testing.assert_array_equal(first, registry.get("random", seed=1)(query, candidates))
  assert not np.array_equal(first, registry.get("random", seed=2)(query, candidates))


def test_registry():
  assert {"random", "edit_distance"} <= set(registry.names())
  with pytest.raises(ValueError, match="unknown baseline"):
    registry.get("nope")


def test_job_runs_end_to_end(tmp_path):
  path = tmp_path / "tiny.jsonl"
  t = lambda s: tuple(s.split())
  instances.write_jsonl(path, [
      RankingInstance(id="a", query=t("NAME = ( NAME"), truth=t("NAME = ( NAME )"),
                      candidates=(t("NAME = ( NAME )"), t("NAME = NAME ) )")), distance=1),
      RankingInstance(id="b", query=t("NAME STRING"), truth=t("NAME ( STRING )"),
                      candidates=(t("NAME"),), distance=2),
  ])
  workdir = tmp_path / "work"
  export = tmp_path / "tiny.txt"
  subprocess.run(
      [sys.executable, "-m", "repair_rank.main", "--config", "configs/baselines.py",
       "--workdir", str(workdir), f"--config.instances={path}",
       f"--config.export_text={export}", "--config.progress=False"],
      cwd=ROOT, check=True, capture_output=True, text=True, timeout=120)
  report = json.loads((workdir / "baselines" / "edit_distance.json").read_text())
  assert report["n_instances"] == 2 and report["n_generated"] == 1
  assert report["views"]["ranking"]["all"]["n"] == 2
  assert report["views"]["end_to_end"]["all"]["p@1"] == 0.5  # Instance b is a miss.
  assert report["views"]["ranking_generated"]["all"]["mrr"] == 1.0
  assert (workdir / "baselines" / "random.json").exists()
  assert instances.read_text(export)[0].candidates == instances.read_jsonl(path)[0].candidates


def test_markov_prefers_likely_code_and_distance_prior_prefers_small_edits():
  query = "NAME = NAME ( NAME".split()
  likely = "NAME = NAME ( NAME )".split()
  unlikely = "NAME = NAME ( NAME ) ) if NAME else NAME".split()
  markov = registry.get("markov")
  scores = markov(query, [likely, unlikely])
  assert scores[0] > scores[1]
  # A huge distance prior makes the smaller edit win whatever the n-gram says.
  near = "NAME = NAME ( )".split()           # distance 1 from the query
  far = "NAME = NAME ( NAME , NAME )".split()  # distance 3
  prior = registry.get("markov_distance", lam=1000.0)(query, [far, near])
  assert prior[1] > prior[0]
  no_prior = registry.get("markov_distance", lam=0.0)(query, [far, near])
  np.testing.assert_allclose(no_prior, markov(query, [far, near]))


def test_markov_channel_charges_each_edit_by_how_often_people_make_it(tmp_path):
  """Against log rates worked out by hand from a small edit-statistics file."""
  from repair_rank.generator import edit_stats  # pylint: disable=g-import-not-at-top
  stats_path = tmp_path / "edit_stats.json"
  # 3 pairs, 9 insertion slots; ')' inserted 3 times, '(' seen 4 times and deleted once.
  edit_stats.EditStats(inserted={")": 3}, deleted={"(": 1}, substituted={},
                       occurrences={"NAME": 5, "(": 4}, slots=9, pairs=3).save(stats_path)
  query = "NAME ( NAME".split()
  closer = "NAME ( NAME )".split()    # insert ')': (3 + 0.5) / (9 + 0.5) per slot
  keyword = "NAME ( NAME def".split()  # insert 'def', never seen: 0.5 / 9.5
  dropped = "NAME NAME".split()        # delete '(': (1 + 0.5) / (4 + 2 x 0.5) per '('
  by_hand = np.log([3.5 / 9.5, 0.5 / 9.5, 1.5 / 5.0])
  candidates = [closer, keyword, dropped]
  markov = registry.get("markov")(query, candidates)
  for weight in (0.0, 0.5, 2.0):
    got = registry.get("markov_channel", weight=weight, stats_path=str(stats_path))(
        query, candidates)
    np.testing.assert_allclose(got, markov + weight * by_hand, rtol=1e-12)
  # With the bundled statistics too, the common edit costs less than the rare one.
  stats = edit_stats.load_default()
  assert stats.log_rate(edit_stats.Edit("insert", 0, None, ")")) > stats.log_rate(
      edit_stats.Edit("insert", 0, None, "def"))
  same = registry.get("markov_channel", weight=1.0)
  assert same(query, [closer, keyword])[0] > same(query, [closer, keyword])[1]


def test_model_row_comes_from_a_scorer_bundle(tmp_path):
  import jax  # pylint: disable=g-import-not-at-top
  import conftest  # pylint: disable=g-import-not-at-top
  from repair_rank import scorer  # pylint: disable=g-import-not-at-top
  from repair_rank.model import models  # pylint: disable=g-import-not-at-top
  from repair_rank.training import finetune  # pylint: disable=g-import-not-at-top
  model_config = models.TransformerConfig.from_job_config(conftest.tiny_config(), max_len=64)
  params = finetune._initializer(model_config)(jax.random.PRNGKey(0))  # pylint: disable=protected-access
  bundle = scorer.Scorer(model_config, params).save(tmp_path / "bundle")
  query = "NAME = NAME ( NAME".split()
  candidates = ["NAME = NAME ( NAME )".split(), "NAME = NAME ( )".split()]
  np.testing.assert_array_equal(registry.get("model", path=str(bundle))(query, candidates),
                                scorer.load(bundle).score(query, candidates))
  # Other batch buckets change the padding only, never a score.
  np.testing.assert_allclose(registry.get("model", path=str(bundle), batch_buckets=(1,))(
      query, candidates), scorer.load(bundle).score(query, candidates), rtol=1e-5, atol=1e-5)
  with_prior = registry.get("model", path=str(bundle), prior_weight=1.0)(query, candidates)
  prior = registry.get("markov_distance")(query, candidates)
  np.testing.assert_allclose(with_prior, scorer.load(bundle).score(query, candidates) + prior,
                             rtol=1e-5)
  # The first stage can be any baseline by name.
  channel = registry.get("model", path=str(bundle), prior_weight=1.0, prior="markov_channel")(
      query, candidates)
  np.testing.assert_allclose(channel, scorer.load(bundle).score(query, candidates)
                             + registry.get("markov_channel")(query, candidates), rtol=1e-5)
  with pytest.raises(ValueError, match="unknown prior"):
    registry.get("model", path=str(bundle), prior="nonsense")


def test_lm_ranks_by_the_pretrained_lm_log_likelihood(tmp_path):
  import jax  # pylint: disable=g-import-not-at-top
  import conftest  # pylint: disable=g-import-not-at-top
  from repair_rank.model import checkpoints, features, models  # pylint: disable=g-import-not-at-top
  from repair_rank.training import pretrain  # pylint: disable=g-import-not-at-top
  query = "NAME = NAME ( NAME".split()
  truth = "NAME = NAME ( NAME )".split()
  # A tiny LM that has only ever seen this repair.
  config = conftest.tiny_config(num_steps=30, warmup_steps=1, learning_rate=1e-2)
  sequences = [features.lm_sequence(query, truth, 32)] * 8
  pretrain.train(config, tmp_path / "pretrain", train_sequences=sequences)
  candidates = ["NAME = NAME ( NAME ]".split(), truth, "NAME = NAME ( NAME ) )".split(),
                "NAME = NAME ( )".split()]
  score = registry.get("lm", checkpoint=str(tmp_path / "pretrain"), batch_size=2)
  scores = score(query, candidates)
  assert int(np.argmax(scores)) == 1
  # Exactly log P(candidate tokens, EOS | BOS query SEP) under the LanguageModel itself.
  params = checkpoints.load_params(tmp_path / "pretrain")
  lm = models.LanguageModel(models.TransformerConfig.from_job_config(config, deterministic=True))
  for candidate, got in zip(candidates, scores):
    ids = features.lm_sequence(query, candidate, 32)
    log_probs = jax.nn.log_softmax(lm.apply({"params": params}, ids[None])[0])
    sep = len(query) + 1
    expected = sum(float(log_probs[t, ids[t + 1]]) for t in range(sep, len(ids) - 1))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  # With a first stage keeping 2, the other two rank below both, in the prior's order.
  cascade = registry.get("lm", checkpoint=str(tmp_path / "pretrain" / "checkpoints"),
                          prefilter_k=2)(query, candidates)
  prior = registry.get("markov_distance")(query, candidates)
  kept = np.argsort(-prior, kind="stable")[:2]
  np.testing.assert_allclose(cascade[kept], scores[kept], rtol=1e-5, atol=1e-5)
  assert np.delete(cascade, kept).max() < cascade[kept].min()
