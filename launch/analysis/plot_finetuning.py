"""Valid MRR (reweighted to test's mix) against finetuning steps, one line per run.

  python launch/analysis/plot_finetuning.py NAME=WORKDIR [NAME=WORKDIR@STEP ...] \
      [--metric balanced_mrr] [--out docs/figures/finetuning.png]

Reads each finetune workdir's metrics.jsonl (the finetune job's valid records), prints a
table and writes the plot, with the first stage's own valid score (the same in every
run that shares its instances) as a dashed line. `WORKDIR@STEP` draws a run that
continued another (`--config.init_scorer`) from that run's step STEP on, so the two
curves share one axis of steps trained.
"""
import argparse
import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def valid_curve(workdir: pathlib.Path, metric: str) -> tuple[list[tuple[int, float]],
                                                              float | None]:
  """(step, metric) at each validation of a finetune run, and the first stage's."""
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()
             if line.strip()]
  valid = [r for r in records if r["split"] == "valid" and metric in r]
  first_stage = next((r[f"first_stage_{metric}"] for r in valid
                      if f"first_stage_{metric}" in r), None)
  return [(r["step"], r[metric]) for r in valid], first_stage


def parse_run(run: str) -> tuple[str, pathlib.Path, int]:
  """NAME=WORKDIR[@STEP] -> (name, workdir, steps trained before this run)."""
  name, workdir = run.rsplit("=", 1)  # a name may hold "=" (K=32)
  offset = 0
  if "@" in workdir:
    workdir, step = workdir.rsplit("@", 1)
    if not step.isdigit():
      raise ValueError(f"{run!r}: expected NAME=WORKDIR@STEP with STEP a whole number")
    offset = int(step)
  return name, pathlib.Path(workdir), offset


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("runs", nargs="+",
                      help="NAME=WORKDIR of a finetune run (WORKDIR@STEP: it continued a run from STEP)")
  parser.add_argument("--metric", default="balanced_mrr")
  parser.add_argument("--out", default="docs/figures/finetuning.png")
  args = parser.parse_args()
  fig, ax = plt.subplots(figsize=(6.5, 4))
  print(f"{'run':<36} {'step':>6} {args.metric:>13}")
  first_stage = None
  for run in args.runs:
    name, workdir, offset = parse_run(run)
    curve, first = valid_curve(workdir, args.metric)
    curve = [(step + offset, value) for step, value in curve]
    first_stage = first_stage if first is None else first
    for step, value in curve:
      print(f"{name:<36} {step:>6} {value:>13.4f}")
    ax.plot([s for s, _ in curve], [v for _, v in curve], "o-", label=name)
  if first_stage is not None:
    ax.axhline(first_stage, color="grey", linestyle="--", label="first stage alone")
  ax.set_xlabel("finetuning step")
  ax.set_ylabel(f"valid {args.metric}")
  ax.set_title("Finetuning behind the learned first stage")
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=120)
  print(f"plot: {args.out}")


if __name__ == "__main__":
  main()
