"""Tests for repair_rank.model.features and .batches: vocabulary, edit labels, batches by step."""
import numpy as np
import pytest

import conftest
from repair_rank.model import batches as batches_lib
from repair_rank.model import features as ip
from repair_rank import tokens


def test_vocabulary_is_specials_then_alphabet():
  assert ip.VOCAB_SIZE == 4 + len(tokens.ALL_TOKENS)
  assert ip.encode(tokens.ALL_TOKENS).tolist() == list(range(4, ip.VOCAB_SIZE))
  assert ip.lm_sequence(["NAME"], ["NAME", "("], 16).tolist() == [
      ip.BOS, ip.TOKEN_TO_ID["NAME"], ip.SEP, ip.TOKEN_TO_ID["NAME"], ip.TOKEN_TO_ID["("], ip.EOS]


def test_edit_labels_from_alignment():
  query = ["NAME", "(", "NAME", "NAME", ")", ":"]
  candidate = ["NAME", "(", "NAME", ",", "NAME", "]"]  # insert ",", ")"->"]", delete ":".
  candidate_labels, query_labels, distance = ip.edit_labels(query, candidate)
  assert distance == 3
  kept, inserted, substituted = ip.EDIT_KEPT, ip.EDIT_INSERTED, ip.EDIT_SUBSTITUTED
  assert candidate_labels.tolist() == [kept, kept, kept, inserted, kept, substituted,
                                       ip.EDIT_NONE + ip.EDIT_DELETED_BEFORE]
  assert query_labels.tolist() == [ip.EDIT_QUERY_KEPT] * 4 + [
      ip.EDIT_QUERY_SUBSTITUTED, ip.EDIT_QUERY_DELETED]
  # A deletion inside the sequence flags the following candidate token.
  labels, _, _ = ip.edit_labels(["NAME", "=", "=", "NUMBER"], ["NAME", "=", "NUMBER"])
  assert labels.tolist() == [kept, kept, kept + ip.EDIT_DELETED_BEFORE, ip.EDIT_NONE]
  identical, _, zero = ip.edit_labels(query, query)
  assert zero == 0 and set(identical[:-1].tolist()) == {kept}


def test_pair_features_layout_and_truncation():
  features = ip.pair_features(["NAME", "("], ["NAME", "(", ")"], 32)
  assert features.inputs.tolist()[0] == ip.BOS and features.inputs[3] == ip.SEP
  assert features.inputs[-1] == ip.EOS and features.distance == 1
  assert len(features.edits) == len(features.inputs) == len(features.targets)
  # Targets mark positions whose next token is a candidate token or EOS.
  assert features.targets.tolist() == [0, 0, 0, 1, 1, 1, 1, 0]
  long = ip.pair_features(["NAME"] * 40, ["NAME"] * 41, 32)
  assert len(long.inputs) == len(long.edits) == len(long.targets) == 32
  assert long.inputs[-1] == ip.EOS


def test_lm_batches_are_a_pure_function_of_step():
  sequences = [np.arange(4, 4 + n) for n in range(3, 20)]
  batches = batches_lib.LMBatches(sequences, devices=2, per_device_batch=3, buckets=(8, 16, 32), seed=0)
  batch = batches.batch(5)
  assert batch["inputs"].shape[:2] == (2, 3) and batch["inputs"].shape[2] in (8, 16, 32)
  again = batches_lib.LMBatches(sequences, devices=2, per_device_batch=3, buckets=(8, 16, 32), seed=0)
  np.testing.assert_array_equal(again.batch(5)["inputs"], batch["inputs"])
  # One epoch covers each sequence exactly once (2 full batches of 6 out of 17).
  seen = [row[row > 0].tolist() for s in range(batches.batches_per_epoch)
          for row in batches.batch(s)["inputs"].reshape(-1, batches.batch(s)["inputs"].shape[-1])]
  assert len({tuple(r) for r in seen}) == len(seen) == 12


def test_ranking_batches_hold_truth_at_label():
  instances = conftest.make_instances(6)
  batches = batches_lib.RankingBatches(instances, devices=2, queries_per_device=2, group_size=4,
                              max_len=32, buckets=(16, 32), seed=0)
  batch = batches.batch(0)
  d, q, g, length = batch["inputs"].shape
  assert (d, q, g) == (2, 2, 4) and length in (16, 32)
  assert batch["label"].shape == (2, 2) and batch["mask"].all()
  members = batches._epoch_order(0)[:4]  # pylint: disable=protected-access
  for row, index in enumerate(members):
    instance = batches.instances[index]
    label = batch["label"].reshape(-1)[row]
    truth_row = batch["inputs"].reshape(4, 4, length)[row, label]
    expected = ip.pair_features(instance.query, instance.truth, 32).inputs
    np.testing.assert_array_equal(truth_row[:len(expected)], expected)
    assert batch["distance"].reshape(4, 4)[row, label] == instance.distance
  # Few candidates: the group is padded and masked.
  small = batches_lib.RankingBatches(conftest.make_instances(2, candidates=2), devices=1,
                            queries_per_device=2, group_size=4, max_len=32, buckets=(32,), seed=0)
  assert small.batch(0)["mask"].sum(-1).tolist() == [[2, 2]]


def test_process_blocks_make_up_the_global_batch():
  # Each of 2 processes (2 devices each) gets its consecutive block of the 4-device batch,
  # padded to the global batch's length, whatever lengths its own rows have.
  sequences = [np.arange(4, 4 + n) for n in range(3, 30)]
  lm = dict(devices=4, per_device_batch=2, buckets=(8, 16, 32))
  whole = batches_lib.LMBatches(sequences, seed=0, **lm).batch(1)["inputs"]
  parts = [batches_lib.LMBatches(sequences, seed=0, process_index=p, process_count=2, **lm).batch(1)
           for p in range(2)]
  np.testing.assert_array_equal(np.concatenate([b["inputs"] for b in parts]), whole)
  whole_eval = list(batches_lib.lm_eval_batches(sequences, **lm))
  parts_eval = [list(batches_lib.lm_eval_batches(sequences, process_index=p, process_count=2, **lm))
                for p in range(2)]
  for i, batch in enumerate(whole_eval):
    np.testing.assert_array_equal(
        np.concatenate([parts_eval[0][i]["inputs"], parts_eval[1][i]["inputs"]]), batch["inputs"])
  instances = conftest.make_instances(8)
  ranking = dict(devices=4, queries_per_device=2, group_size=4, max_len=32, buckets=(8, 16, 32),
                 seed=0)
  whole = batches_lib.RankingBatches(instances, **ranking).batch(0)
  parts = [batches_lib.RankingBatches(instances, process_index=p, process_count=2, **ranking).batch(0)
           for p in range(2)]
  for key, value in whole.items():
    assert parts[0][key].shape[0] == 2
    np.testing.assert_array_equal(np.concatenate([parts[0][key], parts[1][key]]), value)


def test_edit_window_holds_every_edit_and_its_context():
  query = "NAME = NAME ( NAME NEWLINE NAME = NUMBER NEWLINE NAME ( )".split()
  candidate = "NAME = NAME ( NAME ) NEWLINE NAME = NUMBER NEWLINE NAME ( )".split()
  query_slice, candidate_slice = ip.edit_window(query, candidate, 2)
  assert query[query_slice] == ["(", "NAME", "NEWLINE", "NAME"]
  assert candidate[candidate_slice] == ["(", "NAME", ")", "NEWLINE", "NAME"]
  # Two edits far apart: one window spans both; the distance is the whole pair's.
  far = "NAME = [ NAME ( NAME NEWLINE NAME = NUMBER NEWLINE NAME ( ) ]".split()
  features = ip.pair_features(query, far, 64, window=1)
  assert features.distance == 2
  inputs = features.inputs.tolist()
  assert inputs.count(ip.SEP) == 1 and len(inputs) == ip.pair_length(query, far, 64, window=1)
  # A window never reaches past either end; window 0 is the whole pair.
  assert ip.edit_window(query, candidate, 100) == (slice(0, len(query)),
                                                   slice(0, len(candidate)))
  np.testing.assert_array_equal(ip.pair_features(query, candidate, 64).inputs,
                                ip.pair_features(query, candidate, 64, window=0).inputs)
  assert ip.pair_length(query, candidate, 64, window=2) == 4 + 5 + 3


def test_ranking_batches_from_reranked_lists_carry_their_scores():
  instances = conftest.make_instances(4)
  def reranked(instance, rng):
    del rng
    group = [instance.truth] + [c for c in instance.candidates if c != instance.truth][:2]
    return group, np.array([5.0, 3.0, 1.0]), 0
  batches = batches_lib.RankingBatches(instances, devices=1, queries_per_device=4, group_size=4,
                                       max_len=32, buckets=(32,), seed=0, prior_weight=0.5,
                                       reranked=reranked, window=2)
  batch = batches.batch(0)
  assert batch["mask"].sum(-1).tolist() == [[3, 3, 3, 3]]
  members = batches._epoch_order(0)[:4]  # pylint: disable=protected-access
  for row, index in enumerate(members):
    instance = batches.instances[index]
    label = batch["label"][0, row]
    # The truth's offset is 0.5 x 5; the others' 0.5 x 3 and 0.5 x 1; padding 0.
    assert batch["offset"][0, row, label] == 2.5
    assert sorted(batch["offset"][0, row].tolist()) == [0.0, 0.5, 1.5, 2.5]
    expected = ip.pair_features(instance.query, instance.truth, 32, window=2).inputs
    np.testing.assert_array_equal(batch["inputs"][0, row, label, :len(expected)], expected)


def test_ranking_batches_draw_queries_by_sample_weight():
  instances = conftest.make_instances(8)
  kwargs = dict(devices=1, queries_per_device=4, group_size=4, max_len=64, buckets=(64,), seed=0)
  # Weight 0 is never drawn; the rest come up in proportion to their weights.
  weights = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 5.0]
  batches = batches_lib.RankingBatches(instances, sample_weights=weights, **kwargs)
  drawn = np.concatenate([batches._epoch_order(e) for e in range(400)])  # pylint: disable=protected-access
  counts = np.bincount(drawn, minlength=8)
  assert counts[:4].sum() == 0
  np.testing.assert_allclose(counts[4:] / counts.sum(), np.array([1, 1, 1, 5]) / 8, atol=0.02)
  # Batches are drawn from the weighted order.
  batch = batches.batch(3)
  epoch, index = divmod(3, batches.batches_per_epoch)
  members = batches._epoch_order(epoch)[index * 4:(index + 1) * 4]  # pylint: disable=protected-access
  assert set(members.tolist()) <= {4, 5, 6, 7}
  assert batch["label"].shape == (1, 4)
  # Without weights an epoch is a permutation.
  plain = batches_lib.RankingBatches(instances, **kwargs)
  assert sorted(plain._epoch_order(0).tolist()) == list(range(8))  # pylint: disable=protected-access


def test_test_distance_weights_give_each_distance_its_test_share():
  from repair_rank.ranking import evaluate
  distances = [1] * 6 + [2] * 3 + [3]
  weights = evaluate.test_distance_weights(distances)
  share = {d: weights[np.array(distances) == d].sum() / weights.sum() for d in (1, 2, 3)}
  mix = {}
  for (d, _), s in evaluate.test_mix().items():
    mix[d] = mix.get(d, 0.0) + s
  for d in (1, 2, 3):
    assert abs(share[d] - mix[d]) < 1e-9
  assert weights[-1] > weights[0]  # The rare distance 3 weighs more than a distance-1 query.


def test_ranking_batches_reject_bad_sample_weights():
  instances = conftest.make_instances(4)
  kwargs = dict(devices=1, queries_per_device=2, group_size=4, max_len=64, buckets=(64,), seed=0)
  with pytest.raises(ValueError, match="3 sample weights for 4 instances"):
    batches_lib.RankingBatches(instances, sample_weights=[1.0, 1.0, 1.0], **kwargs)
  with pytest.raises(ValueError, match=">= 0 with a positive sum"):
    batches_lib.RankingBatches(instances, sample_weights=[1.0, -1.0, 1.0, 1.0], **kwargs)
  with pytest.raises(ValueError, match=">= 0 with a positive sum"):
    batches_lib.RankingBatches(instances, sample_weights=[0.0] * 4, **kwargs)
