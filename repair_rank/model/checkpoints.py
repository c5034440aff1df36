"""Model checkpoints on disk: the orbax manager, the model config beside it, reading params back.

A training workdir holds `model_config.json` (the `TransformerConfig`) and
`checkpoints/` (orbax, one step per directory). Training writes both; the lm
scorer and finetuning read a pretraining workdir's params back by name.
"""
import json
import pathlib
from typing import Any

import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy

from repair_rank import distributed
from repair_rank.data import jsonl
from repair_rank.model import models

MODEL_CONFIG_FILE = "model_config.json"


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
  """Keeps the last `keep` checkpoints and, with `best_metric`, also the best by it (max)."""
  policies = [preservation_policy.LatestN(n=keep)]
  if best_metric:
    policies.append(preservation_policy.BestN(
        get_metric_fn=lambda metrics: metrics[best_metric], n=1,
        keep_checkpoints_without_metrics=False))
  options = ocp.CheckpointManagerOptions(
      preservation_policy=preservation_policy.AnyPreservationPolicy(policies),
      best_fn=(lambda metrics: metrics[best_metric]) if best_metric else None,
      best_mode="max", create=True)
  return ocp.CheckpointManager(pathlib.Path(directory).resolve(), options=options)


def load_params(checkpoint_dir: str | pathlib.Path, step: int | None = None) -> dict[str, Any]:
  """The params of a training checkpoint (latest step by default), as nested dicts.

  `checkpoint_dir` is a training workdir or its `checkpoints/` directory.
  """
  checkpoint_dir = pathlib.Path(checkpoint_dir).resolve()
  if (checkpoint_dir / "checkpoints").is_dir():
    checkpoint_dir = checkpoint_dir / "checkpoints"
  manager = ocp.CheckpointManager(checkpoint_dir, options=ocp.CheckpointManagerOptions(
      read_only=True))
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"no checkpoints in {checkpoint_dir}")
  restored = manager.restore(step, args=ocp.args.StandardRestore())
  return restored["params"]
