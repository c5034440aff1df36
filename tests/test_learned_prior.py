"""Tests for the learned first stage (features of the prior's parts, fitted listwise)."""
import dataclasses
import json

import jax
import numpy as np
import pytest

import conftest
from repair_rank.data import instances as instances_lib
from repair_rank.data.instances import RankingInstance
from repair_rank.model import models
from repair_rank.ranking import baselines
from repair_rank.ranking import learned_prior
from repair_rank.ranking import registry
from repair_rank.ranking import scorer
from repair_rank.training import finetune

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
  # Python blames the unclosed '(' (index 1); the edits are at query positions
  # 3 / 2 / 1 and 2 / 0 and 3 / 3.
  np.testing.assert_allclose(column["log_gap_to_error"], np.log1p([2, 1, 0, 1, 2]))
  np.testing.assert_allclose(column["log_edit_spread"], np.log1p([0, 0, 1, 3, 0]))
  np.testing.assert_array_equal(column["edits_after_error"], [1, 1, 1, 1, 1])
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


def test_reranked_group_is_the_learned_top_with_the_truth():
  instance = conftest.with_parts(conftest.make_instances(1, seed=5, candidates=12))[0]
  prior = learned_prior.LearnedPrior.plain(channel_weight=1.75, list_size=8)
  candidates, scores, truth = learned_prior.reranked_group(instance, prior, group_size=3)
  assert candidates[truth] == instance.truth
  listed, parts, _ = learned_prior.first_stage_list(instance, 8, 1.75)
  by_prior = np.argsort(-prior.score_parts(instance.query, listed, parts), kind="stable")
  top = [listed[i] for i in by_prior[:3]]
  assert candidates[:3] == top
  assert len(candidates) == 3 + (instance.truth not in top)
  np.testing.assert_allclose(scores, prior.score_parts(instance.query, listed, parts)[
      [listed.index(c) for c in candidates]])
  # Random extras come from the rest of the list, never twice.
  more, _, _ = learned_prior.reranked_group(instance, prior, 3, random_negatives=2,
                                            rng=np.random.default_rng(0))
  assert len(set(more)) == len(more) and set(candidates) < set(more)
  assert set(more) <= set(listed)


def test_bundle_carries_its_learned_prior(tmp_path):
  config = conftest.tiny_config()
  model_config = models.TransformerConfig.from_job_config(config, max_len=64, pair_window=3)
  params = finetune._initializer(model_config)(jax.random.PRNGKey(0))  # pylint: disable=protected-access
  weights = np.linspace(-1, 1, len(learned_prior.FEATURE_NAMES))
  stage = learned_prior.LearnedPrior(tuple(weights.tolist()), 1.75, 6)
  stage.save(tmp_path / "stage.json")
  model = scorer.Scorer(model_config, params, prior="learned_prior",
                        prior_options={"path": str(tmp_path / "stage.json")}, prior_weight=1.0,
                        prefilter_k=3)
  instance = conftest.make_instances(1, seed=2, candidates=9)[0]
  query, candidates = list(instance.query), [list(c) for c in instance.candidates]
  before = model.score(query, candidates)
  bundle = model.save(tmp_path / "bundle")
  (tmp_path / "stage.json").unlink()  # The bundle must not need the original file.
  loaded = scorer.load(bundle)
  assert (bundle / scorer.LEARNED_PRIOR_FILE).exists()
  assert loaded.model_config.pair_window == 3
  np.testing.assert_array_equal(loaded.score(query, candidates), before)
  # The first stage orders the list; the transformer moves only its top 3.
  first = baselines.get("learned_prior", path=str(bundle / scorer.LEARNED_PRIOR_FILE))(
      query, candidates)
  top = set(np.argsort(-first, kind="stable")[:3])
  assert set(np.argsort(-before, kind="stable")[:3]) == top
  # Another first stage can be swapped in for ablations; it changes the scores.
  plain = learned_prior.LearnedPrior.plain(1.75, 6)
  plain.save(tmp_path / "plain.json")
  swapped = registry.get("model", path=str(bundle), prior_path=str(tmp_path / "plain.json"))
  assert swapped.prior_options["path"] == str(tmp_path / "plain.json")
  assert not np.array_equal(swapped.score(query, candidates), before)


def test_fit_prior_job_writes_the_prior_and_its_valid_report(tmp_path):
  from configs import fit_prior as fit_prior_config  # pylint: disable=g-import-not-at-top
  from repair_rank.data import instances as instances_lib  # pylint: disable=g-import-not-at-top
  from repair_rank.jobs import fit_prior  # pylint: disable=g-import-not-at-top
  instances = conftest.with_parts(conftest.make_instances(12, candidates=8))
  instances_lib.write_jsonl(tmp_path / "train.jsonl", instances[:8])
  instances_lib.write_jsonl(tmp_path / "valid.jsonl", instances[8:])
  config = fit_prior_config.get_config()
  config.unlock()
  config.update(train_instances=str(tmp_path / "train.jsonl"),
                valid_instances=str(tmp_path / "valid.jsonl"), steps=50, list_size=6)
  fit_prior.run(config, str(tmp_path / "work"))
  prior = learned_prior.LearnedPrior.load(tmp_path / "work" / "learned_prior.json")
  assert prior.list_size == 6 and len(prior.weights) == len(learned_prior.FEATURE_NAMES)
  report = (tmp_path / "work" / "valid_report.json").read_text()
  assert '"markov_channel"' in report and '"learned_prior"' in report and "balanced" in report
  with pytest.raises(ValueError, match="unknown features"):
    learned_prior.fit(instances, drop=("no_such_feature",), steps=1)


def test_fit_prior_appends_extra_train_instances(tmp_path):
  """Train plus extra files fit exactly what one file of the same lists fits."""
  from configs import fit_prior as fit_prior_config  # pylint: disable=g-import-not-at-top
  from repair_rank.data import instances as instances_lib  # pylint: disable=g-import-not-at-top
  from repair_rank.jobs import fit_prior  # pylint: disable=g-import-not-at-top
  instances = conftest.with_parts(conftest.make_instances(8, candidates=8))
  instances_lib.write_jsonl(tmp_path / "all.jsonl", instances)
  instances_lib.write_jsonl(tmp_path / "real.jsonl", instances[:5])
  instances_lib.write_jsonl(tmp_path / "synthetic.jsonl", instances[5:])
  weights = {}
  for name, train, extra in (("one", "all.jsonl", ()), ("two", "real.jsonl", ("synthetic.jsonl",)),
                             ("real", "real.jsonl", ())):
    config = fit_prior_config.get_config()
    config.update(train_instances=str(tmp_path / train), valid_instances="", steps=50,
                  list_size=6, extra_train_instances=tuple(str(tmp_path / e) for e in extra))
    fit_prior.run(config, str(tmp_path / name))
    weights[name] = learned_prior.LearnedPrior.load(tmp_path / name / "learned_prior.json").weights
  np.testing.assert_array_equal(weights["one"], weights["two"])
  assert not np.array_equal(weights["one"], weights["real"])


def test_quota_adds_the_best_of_each_distance_beyond_the_top():
  order = [5, 4, 3, 2, 1, 0]  # Best first.
  distances = {0: 3, 1: 1, 2: 3, 3: 2, 4: 1, 5: 1}
  assert learned_prior.top_with_quota(order, distances, 2, 0) == [5, 4]
  # Beyond the top two: the best distance-2 (3), distance-3 (2) and distance-1 (1) one.
  assert learned_prior.top_with_quota(order, distances, 2, 1) == [5, 4, 3, 2, 1]
  assert learned_prior.top_with_quota(order, distances, 2, 2) == [5, 4, 3, 2, 1, 0]
  assert learned_prior.top_with_quota(order, {**distances, 0: 4}, 2, 2) == [5, 4, 3, 2, 1]


def test_reranked_group_with_a_quota_reaches_deeper_repairs():
  instance = conftest.make_instances(1, seed=5, candidates=12)[0]
  query = instance.query
  # Three more candidates, two and three edits away (the tiny ones are one edit away).
  deeper = (query + ("(", ")"), query + ("(", ")", ","), ("NAME",) + query + (".", "NAME"))
  instance = dataclasses.replace(instance, candidates=instance.candidates + deeper)
  instance = conftest.with_parts([instance])[0]
  prior = learned_prior.LearnedPrior.plain(channel_weight=1.75, list_size=64)
  plain, _, _ = learned_prior.reranked_group(instance, prior, group_size=3)
  quota, scores, truth = learned_prior.reranked_group(instance, prior, group_size=3,
                                                      per_distance=1)
  assert quota[truth] == instance.truth and quota[:3] == plain[:3]
  listed, parts, _ = learned_prior.first_stage_list(instance, 64, 1.75)
  prior_scores = prior.score_parts(query, listed, parts)
  order = np.argsort(-prior_scores, kind="stable")
  for distance in (1, 2, 3):  # The best of each distance outside the top 3 is in.
    best = next(listed[i] for i in order[3:]
                if instances_lib.token_distance(query, listed[i]) == distance)
    assert best in quota
  assert len(quota) == 6 + (instance.truth not in quota[:6])
  np.testing.assert_allclose(scores, prior_scores[[listed.index(c) for c in quota]])


def _interaction_lists(n, offset, seed):
  """Lists a linear score cannot rank: two substitutions with the same parts, the
  first one right where the n-gram likes the list (log_prob near -5), the second
  where it does not (near -12). Only the product of log_prob and the edit's place
  (its gap to Python's error) tells them apart."""
  rng = np.random.default_rng(seed)
  first, second = ("NAME", ")", "NAME"), ("NAME", "(", ")")
  out = []
  for i in range(n):
    likely = i % 2 == 0
    lp = (-5.0 if likely else -12.0) + rng.normal(0, 0.3)
    parts = [(lp, -3.0), (lp, -3.0)]
    truth = first if likely else second
    out.append(_instance(offset + i, truth, [first, second], parts, parts[0 if likely else 1]))
  return out


def _top1(prior, instances):
  return np.mean([inst.candidates[int(np.argmax(prior.score_parts(
      QUERY, inst.candidates, np.array(inst.parts))))] == inst.truth for inst in instances])


def test_a_hidden_layer_learns_what_a_linear_score_cannot():
  train, valid = _interaction_lists(40, 0, seed=0), _interaction_lists(20, 100, seed=1)
  drop = ("log_rank", "log_rank_in_distance")
  linear, _ = learned_prior.fit(train, channel_weight=1.0, steps=300, drop=drop)
  layered, _ = learned_prior.fit(train, channel_weight=1.0, steps=300, drop=drop, hidden=8)
  assert linear.hidden is None and len(layered.hidden.b1) == 8
  assert _top1(linear, valid) <= 0.5  # Always the same one of the pair.
  assert _top1(layered, valid) == 1.0
  # A dropped feature feeds the hidden layer nothing.
  w1 = np.array(layered.hidden.w1)
  for name in drop:
    assert not w1[learned_prior.FEATURE_NAMES.index(name)].any()
  with pytest.raises(ValueError, match="hidden"):
    learned_prior.fit(train, steps=1, hidden=-1)


@pytest.mark.parametrize("hidden", [0, 4])
def test_fit_returns_the_loss_of_the_raw_weights_it_returns(hidden):
  """The optimiser's standardised weights map back to raw features exactly (the hidden
  layer's input scaling and shift included): the listwise loss recomputed from the
  returned prior's scores is the loss fit reports."""
  instances = conftest.with_parts(conftest.make_instances(16, seed=3, candidates=8))
  prior, loss = learned_prior.fit(instances, steps=40, l2=0.0, list_size=6, hidden=hidden,
                                  learning_rate=0.1)
  losses = []
  for inst in instances:
    candidates, parts, truth = learned_prior.first_stage_list(inst, 6, prior.channel_weight)
    scores = prior.score_parts(inst.query, candidates, parts)
    losses.append(np.logaddexp.reduce(scores) - scores[truth])
  np.testing.assert_allclose(np.mean(losses), loss, rtol=1e-4)


def test_a_hidden_layer_survives_json_and_is_checked(tmp_path):
  width = 3
  rng = np.random.default_rng(0)
  layer = learned_prior.HiddenLayer(
      tuple(map(tuple, rng.normal(size=(len(learned_prior.FEATURE_NAMES), width)).tolist())),
      tuple(rng.normal(size=width).tolist()), tuple(rng.normal(size=width).tolist()))
  prior = dataclasses.replace(learned_prior.LearnedPrior.plain(1.75, 64), hidden=layer)
  path = tmp_path / "prior.json"
  prior.save(path)
  data = json.loads(path.read_text())
  assert data["format"] == learned_prior.FORMAT_HIDDEN
  loaded = learned_prior.LearnedPrior.load(path)
  assert loaded == prior
  candidates = [("NAME", "(", "NAME", ")"), ("NAME", "(", ")"), ("NAME",)]
  parts = np.array([[-5.0, -2.0], [-4.0, -3.0], [-9.0, -6.0]])
  x = learned_prior.features(QUERY, candidates, parts, 1.75).astype(np.float64)
  pre = x @ np.array(layer.w1) + np.array(layer.b1)
  gelu = 0.5 * pre * (1 + np.tanh(np.sqrt(2 / np.pi) * (pre + 0.044715 * pre ** 3)))
  np.testing.assert_allclose(loaded.score_parts(QUERY, candidates, parts),
                             x @ np.array(prior.weights) + gelu @ np.array(layer.w2))
  np.testing.assert_allclose(learned_prior.gelu(pre), np.asarray(jax.nn.gelu(pre)), rtol=1e-5,
                             atol=1e-6)
  # A file that says linear but carries a layer, or a layer of the wrong shape, is refused.
  path.write_text(json.dumps({**data, "format": learned_prior.FORMAT}))
  with pytest.raises(ValueError, match="format"):
    learned_prior.LearnedPrior.load(path)
  path.write_text(json.dumps({**data, "hidden": {**data["hidden"], "w2": [1.0]}}))
  with pytest.raises(ValueError, match="hidden layer shapes"):
    learned_prior.LearnedPrior.load(path)
