"""Helpers shared by the training jobs: processes, model config, schedules, checkpoints, metrics."""
import functools
import json
import pathlib
import time
from typing import Any, Mapping, Sequence

from absl import logging
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy

from repair_rank import models

METRICS_FILE = "metrics.jsonl"
MODEL_CONFIG_FILE = "model_config.json"
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def initialize_distributed(config: ml_collections.ConfigDict) -> None:
  """`jax.distributed.initialize` from the config's coordinator/process fields.

  Must run before any other JAX call. Empty fields ("", 0, -1) are left to JAX's
  auto-detection, which covers Cloud TPU pods, SLURM and Open MPI.
  """
  # Cross-process collectives for CPU devices (tests, CPU clusters; GPU/TPU ignore it).
  # gloo is the default in recent JAX; explicit because older versions had none.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(
      coordinator_address=config.coordinator_address or None,
      num_processes=config.num_processes or None,
      process_id=None if config.process_id < 0 else config.process_id)


def is_primary() -> bool:
  """Whether this is process 0, the one that writes metrics, plots and exports."""
  return jax.process_index() == 0


def pmap_devices(devices: Sequence[jax.Device]) -> tuple[jax.Device, ...] | None:
  """The `devices=` for `jax.pmap`: `devices` in one process, None (all) across several.

  With several processes pmap must map over every device of every process (so
  `pmean`/`psum` span them all) while each process passes only its local
  devices' shards; that needs all local devices on each.
  """
  if jax.process_count() == 1:
    return tuple(devices)
  if list(devices) != jax.local_devices():
    raise ValueError("with several processes, each must train on all of its local devices")
  return None


def resolve_dtype(name: str) -> Any:
  """"auto" -> bfloat16 on GPU/TPU, float32 on CPU; else the named dtype."""
  if name == "auto":
    return jnp.float32 if jax.default_backend() == "cpu" else jnp.bfloat16
  if name not in DTYPES:
    raise ValueError(f"config.model.dtype must be 'auto' or one of {sorted(DTYPES)}, got {name!r}")
  return DTYPES[name]


def start_run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path,
              devices: Sequence[jax.Device] | None = None,
              ) -> tuple[pathlib.Path, list[jax.Device], models.TransformerConfig]:
  """Creates the workdir, records the model config there; (workdir, local devices, model config).

  With several processes the workdir must be one directory all of them see: each
  takes part in orbax saves and restores. Only process 0 writes the other files.
  """
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  model = model_config(config)
  if is_primary():
    save_json(workdir / MODEL_CONFIG_FILE, model_config_to_json(model))
  return workdir, list(devices or jax.local_devices()), model


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


def resume(manager: ocp.CheckpointManager, writer: "MetricWriter", state: Any) -> tuple[Any, int]:
  """(state, step) from the latest checkpoint, else (state, 0); drops metrics written after it."""
  step = manager.latest_step() or 0
  if step:
    state = manager.restore(step, args=ocp.args.StandardRestore(state))
    logging.info("resumed from step %d", step)
  writer.truncate_after(step)
  return state, step


def model_config(config: ml_collections.ConfigDict, **overrides: Any) -> models.TransformerConfig:
  """The frozen TransformerConfig of a job config's `model` block."""
  fields = dict(config.model.to_dict())
  fields["dtype"] = resolve_dtype(fields["dtype"])
  fields.update(overrides)
  return models.TransformerConfig(**fields)


def model_config_to_json(config: models.TransformerConfig) -> dict[str, Any]:
  """A JSON-serialisable dict of a TransformerConfig (dtype by name, train-time flags dropped)."""
  fields = {k: v for k, v in vars(config).items() if k != "deterministic"}
  fields["dtype"] = jnp.dtype(config.dtype).name
  return fields


def model_config_from_json(fields: Mapping[str, Any], **overrides: Any
                           ) -> models.TransformerConfig:
  """Inverse of `model_config_to_json`."""
  fields = dict(fields)
  fields["dtype"] = DTYPES[fields["dtype"]]
  fields.update(overrides)
  return models.TransformerConfig(**fields)


def warmup_cosine(peak: float, warmup_steps: int, total_steps: int) -> optax.Schedule:
  """Linear warm-up from 0 to `peak`, then cosine decay to 0 at `total_steps`."""
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=peak, warmup_steps=max(1, min(warmup_steps, total_steps - 1)),
      decay_steps=max(2, total_steps), end_value=0.0)


def adamw(config: ml_collections.ConfigDict, learning_rate: float | None = None
          ) -> optax.GradientTransformation:
  """Global-norm clipping then AdamW on a warm-up/cosine schedule, from a job config.

  Cached by hyperparameters: `TrainState.tx` is static, so an equal-but-new
  optimiser object would make jax recompile the pmapped step on every run.
  """
  return _adamw(config.learning_rate if learning_rate is None else learning_rate,
                config.warmup_steps, config.num_steps, config.weight_decay, config.grad_clip_norm)


@functools.lru_cache(maxsize=32)
def _adamw(peak: float, warmup_steps: int, total_steps: int, weight_decay: float,
           clip_norm: float) -> optax.GradientTransformation:
  return optax.chain(optax.clip_by_global_norm(clip_norm),
                     optax.adamw(warmup_cosine(peak, warmup_steps, total_steps),
                                 weight_decay=weight_decay))


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


def replicate(tree: Any, devices: Sequence[jax.Device], axis_name: str) -> Any:
  """Stacks a host pytree once per device, sharded the way `jax.pmap(axis_name=...)` outputs are.

  Matching pmap's output sharding (a mesh axis named `axis_name`) matters: with
  `flax.jax_utils.replicate` the second step sees differently sharded state and
  recompiles.
  """
  mesh = jax.sharding.Mesh(np.array(devices), (axis_name,))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis_name))
  return jax.tree.map(lambda x: jax.device_put(np.stack([np.asarray(x)] * len(devices)),
                                               sharding), tree)


def unreplicate(tree: Any) -> Any:
  """The first replica of a pmapped pytree, on the host."""
  return jax.device_get(jax.tree.map(lambda x: x[0], tree))


class MetricWriter:
  """Appends `{"step", "split", **scalars}` lines to workdir/metrics.jsonl.

  With a `job` name the scalars also go to TensorBoard event files under
  workdir/tensorboard as `<job>/<split>/<name>` (one namespace per job), via
  tensorboardX, which needs no TensorFlow. On resume, `truncate_after(step)`
  drops JSONL lines the killed run wrote after its last checkpoint, so the file
  matches an uninterrupted run (TensorBoard shows the rewritten steps' latest values).
  Only an `active` writer touches files: training jobs pass `active=is_primary()`,
  as every process computes the same scalars.
  """

  def __init__(self, workdir: str | pathlib.Path, job: str | None = None,
               active: bool = True):
    self.path = pathlib.Path(workdir) / METRICS_FILE
    self.path.parent.mkdir(parents=True, exist_ok=True)
    self.job = job
    self.active = active
    self._events = None
    if job and self.active:
      import tensorboardX  # pylint: disable=g-import-not-at-top
      self._events = tensorboardX.SummaryWriter(str(pathlib.Path(workdir) / "tensorboard"))

  def truncate_after(self, step: int) -> None:
    if not self.active or not self.path.exists():
      return
    kept = [line for line in self.path.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    self.path.write_text("".join(line + "\n" for line in kept))

  def write(self, step: int, split: str, scalars: Mapping[str, Any]) -> None:
    if not self.active:
      return
    record = {"step": int(step), "split": split}
    record.update({k: float(v) for k, v in scalars.items()})
    with self.path.open("a") as f:
      f.write(json.dumps(record) + "\n")
    if self._events is not None:
      for name, value in scalars.items():
        self._events.add_scalar(f"{self.job}/{split}/{name}", float(value), int(step))
      self._events.flush()
    logging.info("step %d %s: %s", step, split,
                 ", ".join(f"{k}={float(v):.4g}" for k, v in scalars.items()))

  def read(self) -> list[dict[str, Any]]:
    if not self.path.exists():
      return []
    return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def plot_metrics(workdir: str | pathlib.Path, panels: Mapping[str, tuple[str, str]],
                 filename: str = "metrics.png") -> pathlib.Path | None:
  """Plots metrics.jsonl; `panels` maps a title to (split, key). None if matplotlib is missing."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  except ImportError:
    logging.info("matplotlib is not installed; skipping the metrics plot")
    return None
  records = MetricWriter(workdir).read()
  figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
  for axis, (title, (split, key)) in zip(axes[0], panels.items()):
    points = [(r["step"], r[key]) for r in records if r["split"] == split and key in r]
    if points:
      axis.plot(*zip(*points), marker="." if len(points) < 50 else None)
    axis.set_title(title)
    axis.set_xlabel("step")
    axis.grid(alpha=0.3)
  figure.tight_layout()
  path = pathlib.Path(workdir) / filename
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return path


def save_json(path: str | pathlib.Path, data: Any) -> None:
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(data, indent=2) + "\n")


def tree_size(tree: Any) -> int:
  """Number of scalars in a pytree."""
  return int(sum(np.size(x) for x in jax.tree.leaves(tree)))
