"""Numpy batches for pretraining and ranking, shaped for `jax.pmap`.

Every batch is a dict of numpy arrays shaped `[devices, per_device_batch, ...]`
(the leading axis is what `jax.pmap` maps over). Batches are pure functions of
`(seed, step)`, so a resumed run sees exactly the batches an uninterrupted one
would, with no iterator state to checkpoint.

With several processes, `devices` counts the devices of all of them and each
process gets its own consecutive block of the global batch (`process_index`
of `process_count` equal blocks, in pmap's process-major device order), padded
to the length the whole global batch needs; so the global batch, and the
training run, do not depend on how the devices are spread over processes.
"""
import functools
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from repair_rank.data.instances import RankingInstance
from repair_rank.model.features import PairFeatures
from repair_rank.model.features import bucket_length
from repair_rank.model.features import pad_to
from repair_rank.model.features import pair_features
from repair_rank.model.features import pair_length
from repair_rank.model.features import stack_pairs


def local_block(devices: int, per_device: int, process_index: int, process_count: int
                ) -> tuple[int, slice]:
  """(this process's devices, its rows of the global batch): equal consecutive blocks."""
  if devices % process_count:
    raise ValueError(f"{devices} devices do not split evenly over {process_count} processes")
  local = devices // process_count
  return local, slice(process_index * local * per_device, (process_index + 1) * local * per_device)


# --- Pretraining batches -----------------------------------------------------------


class LMBatches:
  """Causal-LM batches `{"inputs": int32[devices, per_device_batch, length]}` by step.

  Each epoch is a seeded permutation; within pools of `pool_batches` batches the
  sequences are sorted by length so a batch pads to a small bucket (lm1b-style
  bucketing), then the batch order is shuffled again.
  """

  def __init__(self, sequences: Sequence[np.ndarray], *, devices: int, per_device_batch: int,
               buckets: Sequence[int], seed: int, pool_batches: int = 32,
               process_index: int = 0, process_count: int = 1):
    if not sequences:
      raise ValueError("no training sequences")
    self.sequences = list(sequences)
    self.devices = devices
    self.per_device_batch = per_device_batch
    self.global_batch = devices * per_device_batch
    self.local_devices, self.rows = local_block(devices, per_device_batch, process_index,
                                                process_count)
    self.buckets = tuple(buckets)
    self.seed = seed
    self.pool_batches = pool_batches
    # Short final batches are dropped; a tiny dataset still yields one batch per epoch.
    self.batches_per_epoch = max(1, len(self.sequences) // self.global_batch)

  @functools.lru_cache(maxsize=2)
  def _epoch_plan(self, epoch: int) -> list[np.ndarray]:
    rng = np.random.default_rng([self.seed, epoch])
    order = rng.permutation(len(self.sequences))
    order = np.resize(order, self.batches_per_epoch * self.global_batch)
    lengths = np.array([len(self.sequences[i]) for i in order])
    batches = []
    pool = self.pool_batches * self.global_batch
    for start in range(0, len(order), pool):
      chunk = order[start:start + pool]
      chunk = chunk[np.argsort(lengths[start:start + pool], kind="stable")]
      batches += [chunk[i:i + self.global_batch] for i in range(0, len(chunk), self.global_batch)]
    return [batches[i] for i in rng.permutation(len(batches))]

  def batch(self, step: int) -> dict[str, np.ndarray]:
    """This process's part of the batch for a global step (0-based)."""
    epoch, index = divmod(step, self.batches_per_epoch)
    members = self._epoch_plan(epoch)[index]
    chosen = [self.sequences[i] for i in members]
    length = bucket_length(max(len(s) for s in chosen), self.buckets)
    inputs = pad_to(chosen[self.rows], length)
    return {"inputs": inputs.reshape(self.local_devices, self.per_device_batch, length)}

  def iterate(self, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
    step = start_step
    while True:
      yield self.batch(step)
      step += 1


def lm_eval_batches(sequences: Sequence[np.ndarray], *, devices: int, per_device_batch: int,
                    buckets: Sequence[int], process_index: int = 0, process_count: int = 1
                    ) -> Iterator[dict[str, np.ndarray]]:
  """All of `sequences` once, in order; the last batch is padded with empty rows."""
  global_batch = devices * per_device_batch
  local_devices, rows = local_block(devices, per_device_batch, process_index, process_count)
  for start in range(0, len(sequences), global_batch):
    chosen = list(sequences[start:start + global_batch])
    length = bucket_length(max(len(s) for s in chosen), buckets)
    chosen += [np.zeros(0, np.int32)] * (global_batch - len(chosen))
    yield {"inputs": pad_to(chosen[rows], length).reshape(local_devices, per_device_batch, length)}


# --- Ranking batches -----------------------------------------------------------------


class RankingBatches:
  """Listwise ranking batches by step: per query, the truth and sampled negatives, shuffled.

  Shapes (D this process's devices, Q queries per device, G group size, L padded length):
    inputs, edits, targets: int32[D, Q, G, L]; distance: int32[D, Q, G];
    mask: bool[D, Q, G] (False for padding where a query has < G-1 negatives);
    label: int32[D, Q] (index of the truth within its group);
    offset: float32[D, Q, G], only with a `prior` or `reranked`: prior_weight x the
      prior's score of each candidate, a constant added to the model's scores (0 for
      padding).
    teacher: float32[D, Q, G] and teacher_mask: bool[D, Q], only with `teacher`
      (instance id -> candidate -> a larger model's residual, training.distill): the
      teacher's final score of each candidate (offset + its residual); teacher_mask is
      False for groups with a candidate the teacher never scored.

  Negatives are drawn uniformly from the generator's candidates, unless
  `reranked` is given: then each query's group is the list a reranker behind a
  first stage sees (`reranked(instance, rng)` -> (candidates, first-stage
  scores, truth index), e.g. `ranking.learned_prior.reranked_group`), the hard
  negatives it must separate at inference, and its offsets are those scores.
  `window` > 0 encodes only each pair's edited span plus that much context.
  `sample_weights` (one per instance, e.g. `evaluate.test_distance_weights`) draws each
  epoch's queries with replacement in proportion to them instead of as a permutation.
  """

  def __init__(self, instances: Sequence[RankingInstance], *, devices: int,
               queries_per_device: int, group_size: int, max_len: int,
               buckets: Sequence[int], seed: int, process_index: int = 0,
               process_count: int = 1,
               prior: Callable[[list[str], list[list[str]]], np.ndarray] | None = None,
               prior_weight: float = 0.0,
               reranked: Callable[[RankingInstance, np.random.Generator],
                                  tuple[list, np.ndarray, int]] | None = None,
               window: int = 0,
               teacher: Mapping[str, Mapping[tuple[str, ...], float]] | None = None,
               sample_weights: Sequence[float] | None = None):
    if prior is not None and reranked is not None:
      raise ValueError("give a prior or a reranked-list function, not both: the latter "
                       "carries its own first-stage scores")
    if sample_weights is not None and len(sample_weights) != len(instances):
      raise ValueError(f"{len(sample_weights)} sample weights for {len(instances)} instances")
    usable = [i for i, inst in enumerate(instances)
              if any(c != inst.truth for c in inst.candidates)]
    instances = [instances[i] for i in usable]
    if not instances:
      raise ValueError("no ranking instances with at least one negative candidate")
    self.sample_p = None
    if sample_weights is not None:
      weights = np.asarray(sample_weights, np.float64)[usable]
      if (weights < 0).any() or not weights.sum() > 0:
        raise ValueError("sample weights must be >= 0 with a positive sum")
      self.sample_p = weights / weights.sum()
    self.instances = instances
    self.devices = devices
    self.queries_per_device = queries_per_device
    self.global_queries = devices * queries_per_device
    self.local_devices, self.rows = local_block(devices, queries_per_device, process_index,
                                                process_count)
    self.group_size = group_size
    self.max_len = max_len
    self.buckets = tuple(b for b in buckets if b < max_len) + (max_len,)
    self.seed = seed
    self.prior = prior if prior_weight else None
    self.prior_weight = prior_weight
    self.reranked = reranked
    self.window = window
    if teacher is not None and reranked is None and not self.prior:
      raise ValueError("a teacher's residuals sit on a first stage: give `reranked` or a prior")
    self.teacher = teacher
    self.batches_per_epoch = max(1, len(instances) // self.global_queries)

  @functools.lru_cache(maxsize=2)
  def _epoch_order(self, epoch: int) -> np.ndarray:
    rng = np.random.default_rng([self.seed, epoch])
    size = self.batches_per_epoch * self.global_queries
    if self.sample_p is not None:
      return rng.choice(len(self.instances), size=size, p=self.sample_p)
    return np.resize(rng.permutation(len(self.instances)), size)

  def group(self, instance: RankingInstance, rng: np.random.Generator
            ) -> tuple[list[tuple[str, ...]], int, np.ndarray | None]:
    """The truth and up to G-1 distinct negatives, shuffled: (group, truth index, the
    first stage's scores of the group or None)."""
    if self.reranked is not None:
      candidates, scores, truth = self.reranked(instance, rng)
      if len(candidates) > self.group_size:
        raise ValueError(f"instance {instance.id!r}: a reranked list of {len(candidates)} "
                         f"exceeds group_size {self.group_size}")
      order = rng.permutation(len(candidates))
      return ([candidates[i] for i in order], int(np.flatnonzero(order == truth)[0]),
              np.asarray(scores, np.float32)[order])
    negatives = [c for c in instance.candidates if c != instance.truth]
    count = min(self.group_size - 1, len(negatives))
    chosen = [negatives[i] for i in rng.choice(len(negatives), size=count, replace=False)]
    group = [instance.truth] + chosen
    order = rng.permutation(len(group))
    return [group[i] for i in order], int(np.flatnonzero(order == 0)[0]), None

  def batch(self, step: int) -> dict[str, np.ndarray]:
    """This process's part of the batch for a global step (0-based).

    Groups are drawn for the whole global batch (one RNG stream, and the padded
    length fits all of it), but only this process's queries are encoded.
    """
    epoch, index = divmod(step, self.batches_per_epoch)
    members = self._epoch_order(epoch)[index * self.global_queries:
                                       (index + 1) * self.global_queries]
    rng = np.random.default_rng([self.seed, step, 1])
    groups = [(self.instances[i], *self.group(self.instances[i], rng)) for i in members]
    longest = max(pair_length(instance.query, c, self.max_len, self.window)
                  for instance, group, _, _ in groups for c in group)
    length = bucket_length(longest, self.buckets)
    features, labels, masks, offsets, teachers = [], [], [], [], []
    empty = PairFeatures(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32), 0)
    with_offsets = self.prior is not None or self.reranked is not None
    for instance, group, label, first_stage in groups[self.rows]:
      group_features = [pair_features(instance.query, c, self.max_len, self.window)
                        for c in group]
      masks.append([True] * len(group) + [False] * (self.group_size - len(group)))
      if self.prior is not None:
        first_stage = np.asarray(self.prior(list(instance.query), [list(c) for c in group]))
      if with_offsets:
        offset = np.zeros(self.group_size, np.float32)
        offset[:len(group)] = self.prior_weight * np.asarray(first_stage, np.float32)
        offsets.append(offset)
      if self.teacher is not None:
        teachers.append(self._teacher_scores(instance.id, group, offsets[-1]))
      features += group_features + [empty] * (self.group_size - len(group))
      labels.append(label)
    stacked = stack_pairs(features, length)
    shape = (self.local_devices, self.queries_per_device, self.group_size)
    out = {key: value.reshape(shape + value.shape[1:]) for key, value in stacked.items()}
    out["mask"] = np.array(masks, dtype=bool).reshape(shape)
    out["label"] = np.array(labels, dtype=np.int32).reshape(shape[:2])
    if with_offsets:
      out["offset"] = np.stack(offsets).reshape(shape)
    if self.teacher is not None:
      out["teacher"] = np.stack([t for t, _ in teachers]).reshape(shape)
      out["teacher_mask"] = np.array([known for _, known in teachers]).reshape(shape[:2])
    return out

  def _teacher_scores(self, instance_id: str, group: Sequence[tuple[str, ...]],
                      offset: np.ndarray) -> tuple[np.ndarray, bool]:
    """(the teacher's final score of each group slot, whether it scored the whole group)."""
    residuals = self.teacher.get(instance_id, {})
    scores = offset.copy()
    for i, candidate in enumerate(group):
      if tuple(candidate) not in residuals:
        return np.zeros_like(offset), False
      scores[i] += residuals[tuple(candidate)]
    return scores, True
