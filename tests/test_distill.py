"""Tests for distillation (repair_rank.training.distill and its use in finetune): the soft
targets a larger model gives the small one."""
import numpy as np
import pytest

import conftest
from repair_rank.model import batches as batches_lib
from repair_rank.ranking import learned_prior
from repair_rank.training import distill
from repair_rank.training import finetune
from repair_rank.training import writer


def _first_stage(tmp_path):
  stage = learned_prior.LearnedPrior.plain(channel_weight=1.75, list_size=6)
  stage.save(tmp_path / "stage.json")
  return conftest.tiny_config(
      num_steps=10, learning_rate=1e-2, warmup_steps=1, log_every_steps=5, eval_every_steps=10,
      checkpoint_every_steps=10, prior="learned_prior", prior_weight=1.0,
      prior_path=str(tmp_path / "stage.json"), negatives="first_stage", first_stage_k=3,
      random_negatives=0, group_size=4)


def test_distillation_loss_is_least_where_the_model_agrees_with_the_teacher():
  teacher = np.array([[3.0, 1.0, 0.0, 9.0]], np.float32)  # slot 3 is padding
  mask = np.array([[True, True, True, False]])
  known = np.array([True])
  agree = finetune.distillation_loss_sum(teacher, teacher, mask, known, 1.0)
  for other in ([0.0, 1.0, 3.0, 9.0], [3.0, 1.0, 0.0, -9.0] , [0.0, 0.0, 0.0, 0.0]):
    loss = finetune.distillation_loss_sum(np.array([other], np.float32), teacher, mask, known,
                                          1.0)
    if other[:3] == [3.0, 1.0, 0.0]:  # Only the padding differs: the same loss.
      np.testing.assert_allclose(loss, agree, rtol=1e-6)
    else:
      assert loss > agree + 1e-3
  # The teacher's entropy is the minimum (cross-entropy = entropy + KL).
  p = np.exp(teacher[0, :3] - teacher[0, :3].max())
  p /= p.sum()
  np.testing.assert_allclose(agree, -(p * np.log(p)).sum(), rtol=1e-5)
  # A group the teacher did not score adds nothing.
  assert float(finetune.distillation_loss_sum(np.zeros((1, 4), np.float32), teacher, mask,
                                              np.array([False]), 1.0)) == 0.0


def test_batches_carry_the_teachers_final_scores_on_each_group(tmp_path):
  config = _first_stage(tmp_path)
  instances = conftest.with_parts(conftest.make_instances(8, candidates=8))
  first_stage = finetune.reranked_lists(config, finetune.prior_settings(config))

  def reranked(instance, rng):  # First-stage scores that differ by slot.
    candidates, scores, truth = first_stage(instance, rng)
    return candidates, scores + np.arange(len(candidates)), truth

  # A teacher whose residual is the candidate's length; one instance it never saw.
  residuals = {inst.id: {tuple(c): float(len(c)) for c in reranked(inst, None)[0]}
               for inst in instances[1:]}
  batches = batches_lib.RankingBatches(
      instances, devices=1, queries_per_device=len(instances), group_size=4, max_len=32,
      buckets=(32,), seed=0, reranked=reranked, prior_weight=1.0, teacher=residuals)
  batch = batches.batch(0)
  order = batches._epoch_order(0)[:len(instances)]  # pylint: disable=protected-access
  rng = np.random.default_rng([0, 0, 1])
  for row, index in enumerate(order):
    group, _, _ = batches.group(instances[index], rng)
    known = instances[index].id in residuals
    assert bool(batch["teacher_mask"][0, row]) == known
    if known:
      lengths = np.array([len(c) for c in group], np.float32)
      assert np.ptp(batch["offset"][0, row, :len(group)]) > 0
      np.testing.assert_allclose(batch["teacher"][0, row, :len(group)],
                                 batch["offset"][0, row, :len(group)] + lengths, rtol=1e-6)


def test_finetune_with_a_teacher_scores_every_group_once_and_trains(tmp_path):
  config = _first_stage(tmp_path)
  config.model.residual_init = True
  instances = conftest.with_parts(conftest.make_instances(8, candidates=8))
  finetune.train(config, tmp_path / "teacher", train_instances=instances,
                 valid_instances=instances[:4])
  config.teacher, config.distill_weight = str(tmp_path / "teacher"), 0.5
  finetune.train(config, tmp_path / "student", train_instances=instances,
                 valid_instances=instances[:4])
  residuals = distill.read(tmp_path / "student" / "teacher_residuals.jsonl.gz")
  assert set(residuals) == {inst.id for inst in instances}
  reranked = finetune.reranked_lists(config, finetune.prior_settings(config))
  for inst in instances:
    assert set(residuals[inst.id]) == set(map(tuple, reranked(inst, None)[0]))
  train = [r for r in writer.MetricWriter(tmp_path / "student").read() if r["split"] == "train"]
  assert train and all(np.isfinite(r["loss"]) for r in train)


def test_a_teacher_needs_fixed_first_stage_groups(tmp_path):
  config = _first_stage(tmp_path)
  config.teacher, config.random_negatives, config.group_size = "somewhere", 1, 5
  instances = conftest.with_parts(conftest.make_instances(4, candidates=8))
  with pytest.raises(ValueError, match="random_negatives=0"):
    finetune.teacher_residuals(config, tmp_path, instances,
                               finetune.reranked_lists(config, finetune.prior_settings(config)))


def test_residuals_file_names_a_bad_line(tmp_path):
  path = tmp_path / "t.jsonl"
  path.write_text('{"id": "a", "candidates": ["NAME"], "residuals": [1.0, 2.0]}\n')
  with pytest.raises(Exception, match=r"t.jsonl:1"):
    distill.read(path)


def test_cached_residuals_need_no_teacher(tmp_path):
  # A teacher trained elsewhere (e.g. on a GPU) travels as its residuals file alone.
  config = _first_stage(tmp_path)
  instances = conftest.with_parts(conftest.make_instances(4, candidates=8))
  reranked = finetune.reranked_lists(config, finetune.prior_settings(config))
  cached = {inst.id: {tuple(c): 0.5 for c in reranked(inst, None)[0]} for inst in instances}
  (tmp_path / "run").mkdir()
  distill.write(tmp_path / "run" / "teacher_residuals.jsonl.gz", cached)
  config.teacher = str(tmp_path / "no_such_teacher")
  assert finetune.teacher_residuals(config, tmp_path / "run", instances, reranked) == cached
  with pytest.raises(FileNotFoundError):
    finetune.teacher_residuals(config, tmp_path / "other", instances, reranked)
