"""Distillation: a larger scorer's residuals as soft targets for the one that ships.

The full model (512 dims) ranks far better than the small one the CPU can serve
(BENCHMARKS.md, "Training on one GPU"), so the small one can learn from it
(Hinton et al., 2015): the teacher, trained behind the same first stage, scores
every training group once; finetuning then adds, beside the listwise loss of the
truth, the cross-entropy between the teacher's softmax over the group and the
student's (both over the group's final scores, first stage included, / TAU).

The teacher's residual (`Scorer.score_all`: its transformer alone) is stored per
(instance id, candidate); a group's teacher score is the batch's first-stage
offset plus that residual, exactly how the teacher scored it in training. Groups
with a candidate the teacher never scored get no soft target.
"""
import pathlib
from typing import Callable, Mapping, Sequence

from absl import logging
import numpy as np
import tqdm

from repair_rank.data import instances as instances_lib
from repair_rank.data import jsonl

# (instance id) -> (candidate tokens) -> the teacher's residual score.
TeacherResiduals = Mapping[str, Mapping[tuple[str, ...], float]]


def teacher_residuals(score_all: Callable[[list[str], list[list[str]]], np.ndarray],
                      instances: Sequence[instances_lib.RankingInstance],
                      reranked: Callable, *, seed: int = 0, progress: bool = True
                      ) -> dict[str, dict[tuple[str, ...], float]]:
  """The teacher's residual on each candidate of each instance's training group.

  `reranked(instance, rng)` -> (candidates, first-stage scores, truth index), the
  groups RankingBatches draws (deterministic without random negatives).
  """
  rng = np.random.default_rng(seed)
  out = {}
  for instance in tqdm.tqdm(instances, desc="teacher", disable=not progress, unit="list"):
    candidates, _, _ = reranked(instance, rng)
    scores = np.asarray(score_all(list(instance.query), [list(c) for c in candidates]))
    out[instance.id] = {tuple(c): float(s) for c, s in zip(candidates, scores)}
  return out


def write(path: str | pathlib.Path, residuals: TeacherResiduals) -> None:
  """One JSON line per instance: id, candidates (space-joined tokens), residuals."""
  jsonl.write_jsonl(path, [{"id": key, "candidates": [" ".join(c) for c in scores],
                            "residuals": list(scores.values())}
                           for key, scores in residuals.items()])


def read(path: str | pathlib.Path) -> dict[str, dict[tuple[str, ...], float]]:
  """What `write` wrote; a malformed line raises DataError naming path:line."""
  out = {}
  for line, record in jsonl.read_jsonl(path, required={"id": str, "candidates": list, "residuals": list}):
    if len(record["candidates"]) != len(record["residuals"]):
      raise jsonl.DataError(f"{path}:{line}: {len(record['candidates'])} candidates but "
                            f"{len(record['residuals'])} residuals")
    out[record["id"]] = {tuple(c.split()): float(s)
                         for c, s in zip(record["candidates"], record["residuals"])}
  return out


def cached_residuals(path: pathlib.Path, compute: Callable[[], TeacherResiduals]
                     ) -> dict[str, dict[tuple[str, ...], float]]:
  """The residuals at `path`, computed and written there first if missing (so a resumed
  finetune does not score every group again)."""
  if not path.exists():
    write(path, compute())
    logging.info("teacher residuals written to %s", path)
  return read(path)

