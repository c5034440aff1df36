"""Training metrics: one JSONL file and TensorBoard events per workdir, and a plot of them."""
import itertools
import json
import math
import os
import pathlib
from typing import Any, Mapping

from absl import logging

from repair_rank.data import jsonl

METRICS_FILE = "metrics.jsonl"
_RUN_COUNTER = itertools.count()


class MetricWriter:
  """Appends `{"step", "split", **scalars}` lines to workdir/metrics.jsonl.

  With a `job` name the scalars also go to TensorBoard event files under
  workdir/tensorboard as `<job>/<split>/<name>` (one namespace per job), via
  tensorboardX, which needs no TensorFlow. On resume, `truncate_after(step)`
  drops JSONL lines the killed run wrote after its last checkpoint, so the file
  matches an uninterrupted run (TensorBoard shows the rewritten steps' latest values).
  Only an `active` writer touches files: training jobs pass `active=is_primary()`,
  as every process computes the same scalars.

  The file is strict JSON: a NaN or infinite scalar is written as null (with a
  warning). Reading it, a torn last line (a run killed mid-write) is dropped with
  a warning; any other line that is not a JSON object raises `jsonl.DataError`
  naming the file and line.
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
      # tensorboardX names a file by the second and host: a run resumed within the
      # same second would reopen (and truncate) the killed run's file. One file per run.
      self._events = tensorboardX.SummaryWriter(
          str(pathlib.Path(workdir) / "tensorboard"),
          filename_suffix=f".{os.getpid()}.{next(_RUN_COUNTER)}")

  def truncate_after(self, step: int) -> None:
    if not self.active or not self.path.exists():
      return
    kept = [record for record in self.read() if record["step"] <= step]
    self.path.write_text("".join(json.dumps(record, allow_nan=False) + "\n"
                                 for record in kept))

  def write(self, step: int, split: str, scalars: Mapping[str, Any]) -> None:
    if not self.active:
      return
    record = {"step": int(step), "split": split}
    values = {k: float(v) for k, v in scalars.items()}
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if bad:
      logging.warning("step %d %s: %s not finite; written to %s as null", step, split,
                      ", ".join(bad), self.path)
    record.update({k: v if math.isfinite(v) else None for k, v in values.items()})
    with self.path.open("a") as f:
      f.write(json.dumps(record, allow_nan=False) + "\n")
    if self._events is not None:
      for name, value in scalars.items():
        self._events.add_scalar(f"{self.job}/{split}/{name}", float(value), int(step))
      self._events.flush()
    logging.info("step %d %s: %s", step, split,
                 ", ".join(f"{k}={float(v):.4g}" for k, v in scalars.items()))

  def read(self) -> list[dict[str, Any]]:
    """The records; a torn last line is dropped with a warning (see the class docstring)."""
    if not self.path.exists():
      return []
    lines = self.path.read_text().split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except json.JSONDecodeError as e:
        if number == len(lines):  # The last line, with no newline after it: torn.
          logging.warning("%s:%d: dropped a torn last line (%s)", self.path, number, e.msg)
          break
        raise jsonl.DataError(f"{self.path}:{number}: not valid JSON ({e.msg} at column "
                              f"{e.colno})") from None
      if not isinstance(record, dict) or not isinstance(record.get("step"), int):
        raise jsonl.DataError(f"{self.path}:{number}: expected a JSON object with an "
                              "integer 'step'")
      # Bare NaN / Infinity, as files written before null was, read as null too.
      records.append({k: None if isinstance(v, float) and not math.isfinite(v) else v
                      for k, v in record.items()})
    return records


def summary(workdir: str | pathlib.Path, job: str, best: str, seconds: float,
            outputs: Mapping[str, Any] = (), higher_is_better: bool = True) -> str:
  """A few lines for the end of a training job: steps, last train loss, the best and
  last `best` on valid (and the first stage's beside it where recorded), what was written.
  """
  workdir = pathlib.Path(workdir)
  records = MetricWriter(workdir).read()
  train = [r for r in records if r["split"] == "train" and r.get("loss") is not None]
  valid = [r for r in records if r["split"] == "valid" and r.get(best) is not None]
  minutes, rest = divmod(int(round(seconds)), 60)
  lines = [f"{job} finished in {minutes} min {rest} s"
           + (f": {train[-1]['step']} steps, last train loss {train[-1]['loss']:.4g}"
              if train else "")]
  if valid:
    top = (max if higher_is_better else min)(valid, key=lambda r: r[best])
    last = valid[-1]
    reference = (f" (first stage alone {top[f'first_stage_{best}']:.4g})"
                 if top.get(f"first_stage_{best}") is not None else "")
    lines.append(f"valid {best}: best {top[best]:.4g} at step {top['step']}{reference}, "
                 f"last {last[best]:.4g} at step {last['step']}")
  lines.append(f"metrics: {workdir / METRICS_FILE} (TensorBoard: {workdir / 'tensorboard'})")
  lines += [f"{name}: {value}" for name, value in dict(outputs).items()]
  return "\n".join(lines)


def plot_metrics(workdir: str | pathlib.Path, panels: Mapping[str, tuple[str, ...]],
                 filename: str = "metrics.png") -> pathlib.Path | None:
  """Plots metrics.jsonl; `panels` maps a title to (split, key[, reference key]), the
  reference drawn dashed (e.g. the first stage's own valid MRR beside the model's).
  None if matplotlib is missing."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  except ImportError:
    logging.info("matplotlib is not installed; skipping the metrics plot")
    return None
  records = MetricWriter(workdir).read()
  figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
  for axis, (title, (split, key, *reference)) in zip(axes[0], panels.items()):
    points = [(r["step"], r[key]) for r in records
              if r["split"] == split and r.get(key) is not None]
    if points:
      axis.plot(*zip(*points), marker="." if len(points) < 50 else None, label=key)
    for reference_key in reference:
      points = [(r["step"], r[reference_key]) for r in records
                if r["split"] == split and r.get(reference_key) is not None]
      if points:
        axis.plot(*zip(*points), linestyle="--", color="gray", label=reference_key)
        axis.legend(fontsize="small")
    axis.set_title(title)
    axis.set_xlabel("step")
    axis.grid(alpha=0.3)
  figure.tight_layout()
  path = pathlib.Path(workdir) / filename
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return path
