"""Model checkpoints on disk: the orbax manager, the model config beside it, reading params back.

A training workdir holds `model_config.json` (the `TransformerConfig`) and
`checkpoints/` (orbax, one step per directory). Training writes both; the lm
scorer and finetuning read a pretraining workdir's params back by name.

Everything read back is checked: a checkpoint that orbax cannot read, or whose
arrays hold NaN or Inf, raises `CheckpointError` naming its directory, and
`file_digests` gives the sha256 of each file of a directory (the scorer bundle
records them at save and compares them at load).
"""
import hashlib
import json
import pathlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy

from repair_rank import distributed
from repair_rank.data import jsonl
from repair_rank.model import models

MODEL_CONFIG_FILE = "model_config.json"


class CheckpointError(ValueError):
  """A checkpoint that cannot be used; the message names its directory and why."""


def file_digests(directory: str | pathlib.Path, relative_to: str | pathlib.Path
                 ) -> dict[str, str]:
  """The sha256 of every file under `directory`, keyed by its POSIX path relative to
  `relative_to` (sorted, so the dict is the same on every machine)."""
  directory, relative_to = pathlib.Path(directory), pathlib.Path(relative_to)
  out = {}
  for path in sorted(p for p in directory.rglob("*") if p.is_file()):
    out[path.relative_to(relative_to).as_posix()] = sha256_of_file(path)
  return out


def sha256_of_file(path: str | pathlib.Path) -> str:
  digest = hashlib.sha256()
  with pathlib.Path(path).open("rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def non_finite_leaves(tree: Any) -> list[str]:
  """The paths ("encoder/block_0/...") of the floating-point leaves holding NaN or Inf."""
  out = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    array = np.asarray(leaf)
    if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
      out.append("/".join(_key_name(k) for k in path))
  return out


def check_finite(tree: Any, where: str) -> None:
  """Raises CheckpointError naming `where` and the first leaves if any leaf is not finite."""
  bad = non_finite_leaves(tree)
  if bad:
    shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    raise CheckpointError(f"{where}: NaN or Inf in {shown}")


def restore(manager: ocp.CheckpointManager, step: int, args: Any = None) -> Any:
  """`manager.restore(step, args)`, checked: unreadable or non-finite -> CheckpointError
  naming the step's directory."""
  where = pathlib.Path(manager.directory) / str(step)
  try:
    restored = manager.restore(step, args=args or ocp.args.StandardRestore())
  except Exception as e:  # pylint: disable=broad-except
    # orbax and tensorstore raise many types (ValueError, FileNotFoundError, KeyError...).
    raise CheckpointError(f"{where}: unreadable ({type(e).__name__}: "
                          f"{_first_line(e)})") from e
  check_finite(restored, str(where))
  return restored


def save(manager: ocp.CheckpointManager, step: int, state: Any,
         metrics: dict[str, float] | None = None) -> None:
  """Saves `state` as `step`, finished when it returns; a failure (a read-only or full disk)
  raises one CheckpointError that gives the cause in one line and the last good step,
  which stays restorable (a step is listed only once its save completed)."""
  try:
    manager.save(step, args=ocp.args.StandardSave(state), metrics=metrics)
    manager.wait_until_finished()
  except Exception as e:  # pylint: disable=broad-except
    # orbax raises the OSError itself, or tensorstore a ValueError that quotes it.
    cause = (f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.strerror
             else f"{type(e).__name__}: {_first_line(e)}")
    manager.reload()
    last = manager.latest_step()
    raise CheckpointError(
        f"step {step}: could not save a checkpoint in {manager.directory} ({cause}); the last "
        f"good checkpoint is {'none' if last is None else f'step {last}'}; fix that, then "
        "rerun the same command to resume from it") from e


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return text[0][:300] if text else ""


def _key_name(key: Any) -> str:
  for attribute in ("key", "name", "idx"):
    if hasattr(key, attribute):
      return str(getattr(key, attribute))
  return str(key)


def write_model_config(workdir: str | pathlib.Path, model_config: models.TransformerConfig
                       ) -> None:
  """Records the model config in a workdir (process 0 only)."""
  if distributed.is_primary():
    jsonl.write_json(pathlib.Path(workdir) / MODEL_CONFIG_FILE, model_config.to_json())


def read_model_config(workdir: str | pathlib.Path, **overrides: Any) -> models.TransformerConfig:
  """The model config a training run recorded in its workdir."""
  path = pathlib.Path(workdir) / MODEL_CONFIG_FILE
  return models.TransformerConfig.from_json(json.loads(path.read_text()), **overrides)


def checkpoint_manager(directory: str | pathlib.Path, *, keep: int,
                       best_metric: str | None = None) -> ocp.CheckpointManager:
  """Keeps the last `keep` checkpoints and, with `best_metric`, also the best by it (max).

  Every step holds one item (`default`), and the manager is told so: left to guess, orbax
  reads the mode off the first step it restores, and a newest step whose `default` was
  lost made every older, intact step unreadable too (issue 23).
  """
  policies = [preservation_policy.LatestN(n=keep)]
  if best_metric:
    policies.append(preservation_policy.BestN(
        get_metric_fn=lambda metrics: metrics[best_metric], n=1,
        keep_checkpoints_without_metrics=False))
  options = ocp.CheckpointManagerOptions(
      preservation_policy=preservation_policy.AnyPreservationPolicy(policies),
      best_fn=(lambda metrics: metrics[best_metric]) if best_metric else None,
      # Saved before `save` returns: an async save whose directory could not be made
      # (read-only, disk full) left orbax's threads waiting forever (issue 23).
      best_mode="max", create=True, enable_async_checkpointing=False)
  return ocp.CheckpointManager(pathlib.Path(directory).resolve(), options=options,
                               item_handlers=ocp.StandardCheckpointHandler())


def read_manager(directory: str | pathlib.Path, **options: Any) -> ocp.CheckpointManager:
  """A manager that only reads `directory` (never creates or saves there). Not orbax's
  `read_only=True`, which logs a warning per option it resets on every load."""
  return ocp.CheckpointManager(pathlib.Path(directory).resolve(),
                               options=ocp.CheckpointManagerOptions(create=False, **options),
                               item_handlers=ocp.StandardCheckpointHandler())


def load_params(checkpoint_dir: str | pathlib.Path, step: int | None = None) -> dict[str, Any]:
  """The params of a training checkpoint (latest step by default), as nested dicts.

  `checkpoint_dir` is a training workdir or its `checkpoints/` directory.
  """
  checkpoint_dir = pathlib.Path(checkpoint_dir).resolve()
  if (checkpoint_dir / "checkpoints").is_dir():
    checkpoint_dir = checkpoint_dir / "checkpoints"
  manager = read_manager(checkpoint_dir)
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"no checkpoints in {checkpoint_dir}")
  return restore(manager, step)["params"]
