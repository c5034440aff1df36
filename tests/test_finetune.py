"""Tests for repair_rank.training.finetune: learning, frozen encoder, exact resume, best checkpoint."""
import json
import pathlib
import sys

import jax
import numpy as np
import pytest

import conftest
from repair_rank.model import checkpoints
from repair_rank.model import models
from repair_rank.training import finetune
from repair_rank.training import pretrain
from repair_rank.training import writer
from repair_rank.ranking import learned_prior
from repair_rank import scorer


def _leaves(tree):
  return jax.tree.leaves(tree)


def _config(**overrides):
  # One optimiser/shape setting for all tests, so the pmapped step compiles once.
  settings = dict(num_steps=30, learning_rate=1e-2, warmup_steps=1, log_every_steps=5,
                  eval_every_steps=10, checkpoint_every_steps=10)
  settings.update(overrides)
  return conftest.tiny_config(**settings)


def test_listwise_loss_is_masked_softmax_cross_entropy():
  scores = np.array([[2.0, 1.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
  mask = np.array([[True, True, True, False], [True, True, False, False]])
  label = np.array([0, 1], np.int32)
  loss_sum, hits = finetune.listwise_loss_sums(scores, mask, label, tau=1.0)
  first = -np.log(np.exp(2.0) / np.exp([2.0, 1.0, 0.0]).sum())
  np.testing.assert_allclose(loss_sum, first + np.log(2.0), rtol=1e-6)
  assert float(hits) == 1.0  # The tie in the second query counts against the truth.


def test_loss_decreases(tmp_path):
  instances = conftest.make_instances(8)
  finetune.train(_config(), tmp_path, train_instances=instances, valid_instances=instances[:4])
  records = writer.MetricWriter(tmp_path).read()
  losses = [r["loss"] for r in records if r["split"] == "train"]
  assert losses[-1] < 0.7 * losses[0], losses
  valid = [r for r in records if r["split"] == "valid"]
  assert valid and 0.0 < valid[-1]["mrr"] <= 1.0
  # The same scalars as TensorBoard event files, under the job's namespace.
  events = b"".join(p.read_bytes() for p in (tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  assert b"finetune/train/loss" in events and b"finetune/valid/mrr" in events


def test_frozen_encoder_does_not_change(tmp_path):
  instances = conftest.make_instances(8)
  sequences = [np.concatenate([[1], np.arange(4, 10), [2], np.arange(4, 11), [3]])] * 4
  pretrain.train(conftest.tiny_config(num_steps=6),  # As in test_pretrain: compiled once.
                 tmp_path / "pretrain", train_sequences=sequences)
  pretrained = checkpoints.load_params(tmp_path / "pretrain")
  config = _config(freeze_encoder=True, num_steps=6,
                   pretrained_checkpoint=str(tmp_path / "pretrain"))
  state = finetune.train(config, tmp_path / "finetune", train_instances=instances)
  for a, b in zip(_leaves(pretrained["encoder"]), _leaves(state.params["encoder"])):
    np.testing.assert_array_equal(a, b)
  initial = finetune.create_train_state(jax.random.split(jax.random.PRNGKey(0))[0],
                                        models.TransformerConfig.from_job_config(config), config, pretrained)
  changed = [not np.array_equal(a, b) for a, b in zip(_leaves(initial.params["score_head"]),
                                                      _leaves(state.params["score_head"]))]
  assert all(changed)


def test_resume_equals_uninterrupted_and_keeps_best(tmp_path):
  instances = conftest.make_instances(8)
  config = _config()
  full = finetune.train(config, tmp_path / "full", train_instances=instances,
                        valid_instances=instances[:3])
  finetune.train(_config(stop_after_steps=14), tmp_path / "split",
                 train_instances=instances, valid_instances=instances[:3])
  resumed = finetune.train(config, tmp_path / "split", train_instances=instances,
                           valid_instances=instances[:3])
  assert int(resumed.step) == int(full.step) == 30
  for a, b in zip(_leaves(full.params), _leaves(resumed.params)):
    np.testing.assert_array_equal(a, b)
  # The exported bundle is the best checkpoint by validation MRR and scores like it.
  records = writer.MetricWriter(tmp_path / "split").read()
  mrrs = {r["step"]: r["mrr"] for r in records if r["split"] == "valid"}
  assert sorted(mrrs) == [10, 20, 30]
  manager = checkpoints.checkpoint_manager(tmp_path / "split" / "checkpoints", keep=2,
                                           best_metric=scorer.BEST_METRIC)
  assert mrrs[manager.best_step()] == max(mrrs.values())
  bundle = finetune.export(tmp_path / "split")
  loaded = scorer.load(bundle)
  best = scorer.load_workdir(tmp_path / "split", step=manager.best_step())
  query, candidates = list(instances[0].query), [list(c) for c in instances[0].candidates]
  np.testing.assert_allclose(loaded.score(query, candidates), best.score(query, candidates),
                             rtol=1e-6)


def test_time_budget_stops_with_a_validated_checkpoint_that_exports(tmp_path):
  instances = conftest.make_instances(8)
  config = _config(max_train_seconds=1e-9)
  state = finetune.train(config, tmp_path, train_instances=instances,
                         valid_instances=instances[:3])
  assert int(state.step) == config.log_every_steps < config.num_steps
  records = writer.MetricWriter(tmp_path).read()
  assert [r["step"] for r in records if r["split"] == "valid"] == [config.log_every_steps]
  bundle = scorer.load(finetune.export(tmp_path))
  query, candidates = list(instances[0].query), [list(c) for c in instances[0].candidates]
  np.testing.assert_allclose(
      bundle.score(query, candidates),
      scorer.Scorer(models.TransformerConfig.from_job_config(config), state.params).score(query, candidates),
      rtol=1e-6)
  # The serving buckets a finetune config asks for travel to the bundle, sorted, the last
  # the model's max_len; padding to them changes no score.
  max_len = bundle.model_config.max_len
  padded = scorer.load(finetune.export(tmp_path, tmp_path / "padded",
                                       length_buckets=(24, 8, max_len + 100)))
  assert padded.length_buckets == (8, 24, max_len)
  assert bundle.length_buckets != padded.length_buckets
  np.testing.assert_allclose(padded.score(query, candidates), bundle.score(query, candidates),
                             rtol=1e-5, atol=1e-6)


def test_training_on_top_of_a_prior_adds_its_scores_and_exports_it(tmp_path):
  from repair_rank.model import batches as batches_lib  # pylint: disable=g-import-not-at-top
  from repair_rank.ranking import registry  # pylint: disable=g-import-not-at-top
  instances = conftest.make_instances(8)
  prior = registry.get("markov_channel")
  batches = batches_lib.RankingBatches(
      instances, devices=1, queries_per_device=4, group_size=3, max_len=64,
      buckets=(64,), seed=0, prior=prior, prior_weight=0.5)
  plain = batches_lib.RankingBatches(
      instances, devices=1, queries_per_device=4, group_size=3, max_len=64,
      buckets=(64,), seed=0)
  batch, reference = batches.batch(0), plain.batch(0)
  assert "offset" not in reference
  for key, value in reference.items():  # The same groups, plus the offset.
    np.testing.assert_array_equal(batch[key], value)
  # offset = 0.5 x the prior's score of each group member, 0 on padding: check the truths.
  members = batches._epoch_order(0)[:4]  # pylint: disable=protected-access
  for q, index in enumerate(members):
    inst = batches.instances[index]
    label = int(batch["label"][0, q])
    expected = 0.5 * prior(list(inst.query), [list(inst.truth)])[0]
    np.testing.assert_allclose(batch["offset"][0, q, label], expected, rtol=1e-5)
  assert (batch["offset"][~batch["mask"]] == 0).all()

  config = _config(num_steps=10, prior="markov_channel", prior_weight=0.5)
  finetune.train(config, tmp_path, train_instances=instances, valid_instances=instances[:3])
  bundle = finetune.export(tmp_path, prior=finetune.PriorSettings("markov_channel", 0.5))
  loaded = scorer.load(bundle)
  assert (loaded.prior, loaded.prior_weight) == ("markov_channel", 0.5)
  query, candidates = list(instances[0].query), [list(c) for c in instances[0].candidates]
  np.testing.assert_allclose(loaded.score(query, candidates),
                             loaded.score_all(query, candidates)
                             + 0.5 * prior(query, candidates), rtol=1e-5)
  with np.testing.assert_raises_regex(ValueError, "go together"):
    finetune.train(_config(num_steps=10, prior="markov_channel"), tmp_path / "bad",
                   train_instances=instances)
  with np.testing.assert_raises_regex(ValueError, "unknown baseline 'nonsense'"):
    finetune.train(_config(num_steps=10, prior="nonsense", prior_weight=1.0), tmp_path / "bad",
                   train_instances=instances)


def test_first_stage_negatives_train_and_export_the_cascade(tmp_path):
  instances = conftest.with_parts(conftest.make_instances(8, candidates=8))
  stage = learned_prior.LearnedPrior.plain(channel_weight=1.75, list_size=6)
  stage.save(tmp_path / "stage.json")
  config = _config(num_steps=10, prior="learned_prior", prior_weight=1.0,
                   prior_path=str(tmp_path / "stage.json"), negatives="first_stage",
                   first_stage_k=3, random_negatives=0, group_size=4)
  config.model.residual_init = True
  finetune.train(config, tmp_path / "run", train_instances=instances,
                 valid_instances=instances[:4])
  records = writer.MetricWriter(tmp_path / "run").read()
  valid = [r for r in records if r["split"] == "valid"]
  # The first stage alone is logged beside the model, as the plot's reference line.
  assert valid and "first_stage_mrr" in valid[-1] and "balanced_mrr" in valid[-1]
  bundle = scorer.load(finetune.export(tmp_path / "run",
                                       prior=finetune.prior_settings(config)))
  assert (bundle.prior, bundle.prefilter_k, bundle.prior_weight) == ("learned_prior", 3, 1.0)
  with pytest.raises(ValueError, match="first_stage"):
    finetune.prior_settings(_config(prior="markov_channel", prior_weight=1.0,
                                    negatives="first_stage", first_stage_k=3))


def test_first_stage_quota_needs_room_and_travels_to_the_bundle(tmp_path):
  instances = conftest.with_parts(conftest.make_instances(8, candidates=8))
  stage = learned_prior.LearnedPrior.plain(channel_weight=1.75, list_size=64)
  stage.save(tmp_path / "stage.json")
  settings = dict(prior="learned_prior", prior_weight=1.0, prior_path=str(tmp_path / "stage.json"),
                  negatives="first_stage", first_stage_k=3, random_negatives=0,
                  first_stage_per_distance=1)
  with pytest.raises(ValueError, match="first_stage_per_distance"):  # 3 + 3 x 1 + 1 > 4
    finetune.train(_config(num_steps=2, group_size=4, **settings), tmp_path / "small",
                   train_instances=instances)
  config = _config(num_steps=4, group_size=7, **settings)
  finetune.train(config, tmp_path / "run", train_instances=instances,
                 valid_instances=instances[:4])
  bundle = scorer.load(finetune.export(tmp_path / "run", prior=finetune.prior_settings(config)))
  assert (bundle.prefilter_k, bundle.prefilter_per_distance) == (3, 1)
  with pytest.raises(ValueError, match="first_stage_per_distance must be >= 0"):
    finetune.prior_settings(_config(group_size=7, **{**settings, "first_stage_per_distance": -1}))
  # Serving draws the quota from the first stage's top 64: a stage ranking fewer is refused.
  learned_prior.LearnedPrior.plain(channel_weight=1.75, list_size=6).save(tmp_path / "six.json")
  six = _config(group_size=7, **{**settings, "prior_path": str(tmp_path / "six.json")})
  with pytest.raises(ValueError, match="top 64 at serving"):
    finetune.reranked_lists(six, finetune.prior_settings(six))


def test_residual_init_starts_at_the_prior():
  config = _config()
  config.model.residual_init = True
  model_config = models.TransformerConfig.from_job_config(config)
  params = finetune._initializer(model_config)(jax.random.PRNGKey(0))  # pylint: disable=protected-access
  batch = conftest.make_instances(1)[0]
  model = scorer.Scorer(model_config, params)
  scores = model.score_all(list(batch.query), [list(c) for c in batch.candidates])
  np.testing.assert_array_equal(scores, np.zeros(len(batch.candidates), np.float32))


def test_init_scorer_continues_from_a_trained_scorer(tmp_path):
  instances = conftest.make_instances(8)
  config = _config(num_steps=10)
  model_config = models.TransformerConfig.from_job_config(config)
  finetune.train(config, tmp_path / "first", train_instances=instances)
  trained = scorer.load_workdir(tmp_path / "first")
  fresh = finetune.create_train_state(jax.random.PRNGKey(0), model_config, config).params
  params = finetune.scorer_params(tmp_path / "first", model_config, fresh)
  for a, b in zip(_leaves(trained.params), _leaves(params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # Training from it starts where the first run ended, not from scratch.
  finetune.train(_config(num_steps=10, init_scorer=str(tmp_path / "first")),
                 tmp_path / "second", train_instances=instances)
  first = [r["loss"] for r in writer.MetricWriter(tmp_path / "first").read()
           if r["split"] == "train"]
  second = [r["loss"] for r in writer.MetricWriter(tmp_path / "second").read()
            if r["split"] == "train"]
  assert second[0] < first[0], (first, second)
  # A scorer of another model is refused, naming what differs.
  wider = _config()
  wider.model.dim = 64
  with pytest.raises(ValueError, match="dim"):
    finetune.scorer_params(tmp_path / "first", models.TransformerConfig.from_job_config(wider),
                           fresh)
  # How much of each pair the encoder reads is not in the params: a continuation may change it.
  wider_window = models.TransformerConfig.from_job_config(
      config, pair_window=model_config.pair_window + 5)
  params = finetune.scorer_params(tmp_path / "first", wider_window, fresh)
  for a, b in zip(_leaves(trained.params), _leaves(params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_plot_finetuning_reads_the_valid_curve(tmp_path):
  sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "launch" / "analysis"))
  import plot_finetuning  # pylint: disable=import-outside-toplevel
  records = [{"step": 50, "split": "train", "loss": 1.0},
             {"step": 100, "split": "valid", "balanced_mrr": 0.6,
              "first_stage_balanced_mrr": 0.5},
             {"step": 200, "split": "valid", "balanced_mrr": 0.7,
              "first_stage_balanced_mrr": 0.5}]
  (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
  curve, first_stage = plot_finetuning.valid_curve(tmp_path, "balanced_mrr")
  assert curve == [(100, 0.6), (200, 0.7)] and first_stage == 0.5
  # A continued run is drawn from the step it continued at; a name may hold "=".
  assert plot_finetuning.parse_run("K=32=runs/a@600") == ("K=32", pathlib.Path("runs/a"), 600)
  assert plot_finetuning.parse_run("x=runs/a") == ("x", pathlib.Path("runs/a"), 0)
  with pytest.raises(ValueError, match="WORKDIR@STEP"):
    plot_finetuning.parse_run("x=runs/a@six")


def test_balance_draws_by_tests_distance_mix():
  import dataclasses  # pylint: disable=import-outside-toplevel
  import ml_collections  # pylint: disable=import-outside-toplevel
  instances = conftest.make_instances(6)  # each a dropped token: distance 1
  instances[0] = dataclasses.replace(instances[0], distance=3)
  assert finetune.train_sample_weights(ml_collections.ConfigDict({"balance": "none"}),
                                       instances) is None
  weights = finetune.train_sample_weights(ml_collections.ConfigDict({"balance": "test"}),
                                          instances)
  assert len(weights) == 6 and weights[0] > weights[1]  # the rare distance weighs more
  with pytest.raises(ValueError, match="config.balance must be 'none' or 'test'"):
    finetune.train_sample_weights(ml_collections.ConfigDict({"balance": "tests"}), instances)
  half = finetune.train_sample_weights(
      ml_collections.ConfigDict({"balance": "test", "balance_power": 0.5}), instances)
  assert half[0] / half[1] == pytest.approx((weights[0] / weights[1]) ** 0.5)
  assert weights[0] / weights[1] > half[0] / half[1] > 1  # part way toward test's mix
  with pytest.raises(ValueError, match="balance_power"):
    finetune.train_sample_weights(
        ml_collections.ConfigDict({"balance": "test", "balance_power": 0.0}), instances)


def test_the_small_scorer_finetunes_without_dropout_and_pretraining_keeps_it():
  # Measured on valid (BENCHMARKS.md, session 23): dropout cost the small scorer's finetune;
  # pretraining and the untested full variant keep it.
  finetune_config = conftest.load_module("configs/finetune.py")
  pretrain_config = conftest.load_module("configs/pretrain.py")
  small = models.TransformerConfig.from_job_config(finetune_config.get_config())
  assert (small.dropout, small.attention_dropout) == (0.0, 0.0)
  for config in (finetune_config.get_config("full"), pretrain_config.get_config()):
    model = models.TransformerConfig.from_job_config(config)
    assert (model.dropout, model.attention_dropout) == (0.1, 0.1)
