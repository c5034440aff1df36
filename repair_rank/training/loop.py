"""The one training loop, shared by pretraining and finetuning.

The loop owns what the stages have in common: the workdir and its model config,
checkpoints and exact resumption, replication over devices, the progress bar,
the cadence of logging / evaluation / checkpoints, the wall-clock budget and
the final plot. A stage (`training.pretrain`, `training.finetune`) supplies a
`Stage`: its pmapped step, its batches by step, how its summed step metrics
read as scalars, and its evaluation.

With several processes every process runs this same loop: the pmap spans all
devices of all processes, each process feeds its block of the global batch, and
only process 0 writes metrics and plots; all of them take part in orbax
checkpointing. A killed run resumes from the latest checkpoint and continues
exactly: batches are a pure function of the step, the dropout key is
`fold_in(key, step)`.
"""
import dataclasses
import pathlib
import time
from typing import Any, Callable, Mapping, Sequence

from absl import logging
import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import tqdm

from repair_rank import distributed
from repair_rank.model import checkpoints
from repair_rank.model import models
from repair_rank.training import writer as writer_lib

AXIS = "batch"  # The pmapped axis every step reduces over.
Scalars = dict[str, float]


@dataclasses.dataclass(frozen=True)
class Run:
  """A run's set-up: its workdir, this process's devices, the model config."""
  workdir: pathlib.Path
  devices: list[jax.Device]
  model_config: models.TransformerConfig

  @property
  def global_devices(self) -> int:
    """Devices of all processes (the global batch is per-device batch x this)."""
    return len(self.devices) * jax.process_count()

  @property
  def shard(self) -> dict[str, int]:
    """This process's block of a global batch (`process_index`, `process_count`)."""
    return dict(process_index=jax.process_index(), process_count=jax.process_count())


def start(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
          devices: Sequence[jax.Device] | None = None) -> Run:
  """Creates the workdir and records the model config there.

  With several processes the workdir must be one directory all of them see: each
  takes part in orbax saves and restores. Only process 0 writes the other files.
  """
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  model_config = models.TransformerConfig.from_job_config(config)
  checkpoints.write_model_config(workdir, model_config)
  return Run(workdir, list(devices or jax.local_devices()), model_config)


@dataclasses.dataclass(frozen=True)
class Stage:
  """What a training stage supplies to the loop.

  name: the job's name: progress label and metric namespace.
  train_step: the pmapped `(state, batch, rngs) -> (state, metrics)`.
  batch: this process's batch of a global step (a pure function of the step).
  train_scalars: `(metrics summed over steps, steps, seconds, step done)` -> the
    scalars logged for "train".
  evaluate: `(replicated state, step done)` -> the scalars logged for "valid",
    or None where there is nothing to evaluate.
  checkpoint_every_steps: the checkpoint cadence (evaluation has `eval_every_steps`).
  checkpoint_metrics: the metrics saved with a checkpoint, from the step's
    "valid" scalars (None if it had none); the best checkpoint maximises `best_metric`.
  panels: the final plot: title -> (split, scalar).
  plot_unfinished: also plot a run stopped by `stop_after_steps`.
  """
  name: str
  train_step: Callable[..., tuple[Any, Any]]
  batch: Callable[[int], dict[str, np.ndarray]]
  train_scalars: Callable[[Mapping[str, Any], int, float, int], Scalars]
  evaluate: Callable[[Any, int], Scalars | None]
  checkpoint_every_steps: int
  panels: Mapping[str, tuple[str, str]]
  checkpoint_metrics: Callable[[Scalars | None], dict[str, float] | None] = lambda valid: None
  best_metric: str | None = None
  plot_unfinished: bool = False


class TrainClock:
  """Whether a run's wall-clock budget (`config.max_train_seconds`, 0 = none) is spent.

  The budget stops a run early with a final checkpoint (and, for finetune, a final
  validation and export), e.g. to fit a lease of fixed length; the learning-rate
  schedule still spans `num_steps`. With several processes process 0 decides for
  all, so that they stop at the same step.
  """

  def __init__(self, seconds: float):
    self._deadline = time.monotonic() + seconds if seconds and seconds > 0 else None

  def expired(self) -> bool:
    if self._deadline is None:
      return False
    out = time.monotonic() >= self._deadline
    if jax.process_count() > 1:
      out = bool(multihost_utils.broadcast_one_to_all(np.asarray(out)))
    if out:
      logging.info("max_train_seconds spent: stopping early")
    return out


def resume(manager: ocp.CheckpointManager, writer: writer_lib.MetricWriter, state: Any
           ) -> tuple[Any, int]:
  """(state, step) from the newest usable checkpoint, else (state, 0); drops metrics
  written after it.

  A checkpoint orbax cannot read, or whose arrays hold NaN or Inf, is skipped
  with a warning and set aside to `<workdir>/damaged_checkpoints/<step>` (so a
  later save can take its step); when every checkpoint is damaged the run stops
  with one `CheckpointError` that says what to do.
  """
  directory = pathlib.Path(manager.directory)
  damaged, restored, step = [], None, 0
  for candidate in sorted(manager.all_steps(), reverse=True):
    try:
      restored = checkpoints.restore(manager, candidate, ocp.args.StandardRestore(state))
      step = candidate
      break
    except checkpoints.CheckpointError as e:
      logging.warning("%s; trying the previous checkpoint", e)
      damaged.append(str(e))
  if damaged and restored is None:
    raise checkpoints.CheckpointError(
        f"no usable checkpoint in {directory}: {'; '.join(damaged)}. Put back those step "
        f"directories from a copy, or move {directory} away to train again from step 0")
  if damaged:
    aside = _set_aside_damaged(manager, step)
    logging.warning("resuming from step %d; the %d newer damaged checkpoint(s) were moved to %s",
                    step, len(damaged), aside)
  if step:
    state = restored
    logging.info("resumed from step %d", step)
  writer.truncate_after(step)
  return state, step


def _set_aside_damaged(manager: ocp.CheckpointManager, good_step: int) -> pathlib.Path:
  """Moves every step newer than `good_step` to <workdir>/damaged_checkpoints/."""
  directory = pathlib.Path(manager.directory)
  aside = directory.parent / "damaged_checkpoints"
  if distributed.is_primary():
    aside.mkdir(exist_ok=True)
    for step in manager.all_steps():
      if step > good_step:
        target = aside / str(step)
        suffix = 1
        while target.exists():
          target, suffix = aside / f"{step}.{suffix}", suffix + 1
        (directory / str(step)).rename(target)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("repair_rank.resume.set_aside")
  manager.reload()
  return aside


def train(config: ml_collections.ConfigDict, run: Run, stage: Stage, state: Any,
          dropout_rng: jax.Array) -> Any:
  """Trains (or resumes) `state` to `config.num_steps`; returns the final host-side state."""
  manager = checkpoints.checkpoint_manager(run.workdir / "checkpoints",
                                           keep=config.keep_checkpoints,
                                           best_metric=stage.best_metric)
  writer = writer_lib.MetricWriter(run.workdir, job=stage.name,
                                   active=distributed.is_primary())
  state, start_step = resume(manager, writer, state)
  state = distributed.replicate(state, run.devices, AXIS)
  rngs = distributed.replicate(dropout_rng, run.devices, AXIS)

  pending, tick = [], time.perf_counter()
  # `stop_after_steps` ends the loop early without a final checkpoint, as a kill would
  # (tests use it to check exact resumption); the schedule still spans num_steps.
  stop = min(config.num_steps, config.get("stop_after_steps") or config.num_steps)
  progress = tqdm.trange(start_step, stop, initial=start_step, total=config.num_steps,
                         desc=stage.name,
                         disable=not (config.progress and distributed.is_primary()))
  clock, last = TrainClock(config.get("max_train_seconds", 0)), False
  for step in progress:
    state, metrics = stage.train_step(state, stage.batch(step), rngs)
    pending.append(metrics)
    done = step + 1
    # The clock is read at logging steps only (a cross-process broadcast with several).
    last = done == config.num_steps or (done % config.log_every_steps == 0 and clock.expired())
    if done % config.log_every_steps == 0 or last:
      summed = jax.tree.map(lambda *xs: np.sum([x[0] for x in xs]), *jax.device_get(pending))
      scalars = stage.train_scalars(summed, len(pending), time.perf_counter() - tick, done)
      writer.write(done, "train", scalars)
      progress.set_postfix(loss=f"{scalars['loss']:.3f}")
      pending, tick = [], time.perf_counter()
    valid = None
    if done % config.eval_every_steps == 0 or last:
      valid = stage.evaluate(state, done)
      if valid is not None:
        writer.write(done, "valid", valid)
    if done % stage.checkpoint_every_steps == 0 or last:
      host_state = distributed.unreplicate(state)
      _stop_if_diverged(manager, host_state, done)
      checkpoints.save(manager, done, host_state, stage.checkpoint_metrics(valid))
    if last:
      break
  manager.wait_until_finished()
  final = distributed.unreplicate(state)
  finished = last or int(final.step) == config.num_steps
  if (finished or stage.plot_unfinished) and distributed.is_primary():
    writer_lib.plot_metrics(run.workdir, stage.panels)
  return final


def _stop_if_diverged(manager: ocp.CheckpointManager, host_state: Any, step: int) -> None:
  """Raises FloatingPointError, saving nothing, if the params hold NaN or Inf."""
  bad = checkpoints.non_finite_leaves(host_state.params)
  if bad:
    manager.wait_until_finished()
    raise FloatingPointError(
        f"step {step}: the parameters hold NaN or Inf ({', '.join(bad[:3])}); not "
        f"checkpointed. The last good checkpoint in {manager.directory} is step "
        f"{manager.latest_step()}: resume from it with a lower learning rate or check the data")


def tree_size(tree: Any) -> int:
  """Number of scalars in a pytree."""
  return int(sum(np.size(x) for x in jax.tree.leaves(tree)))
