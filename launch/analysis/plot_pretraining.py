"""Valid perplexity against training tokens seen, one line per pretraining run.

  python launch/analysis/plot_pretraining.py NAME=WORKDIR [NAME=WORKDIR ...] \
      [--out docs/figures/pretraining.png]

Reads each pretraining workdir's metrics.jsonl (the pretrain job's), counts the tokens
seen up to each validation from the train records (tokens per second / steps per
second = tokens per step, over each logging interval), prints a table and writes
the plot (log-scaled tokens).
"""
import argparse
import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def valid_curve(workdir: pathlib.Path) -> list[tuple[int, float, float]]:
  """(step, tokens seen, valid perplexity) at each validation of a pretraining run."""
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()
             if line.strip()]
  seen, last_step, tokens_at = 0.0, 0, {0: 0.0}
  for record in records:
    if record["split"] == "train" and record.get("steps_per_second"):
      per_step = record["tokens_per_second"] / record["steps_per_second"]
      seen += per_step * (record["step"] - last_step)
      last_step = record["step"]
      tokens_at[record["step"]] = seen
  curve = []
  for record in records:
    if record["split"] == "valid":
      known = max(s for s in tokens_at if s <= record["step"])
      curve.append((record["step"], tokens_at[known], record["perplexity"]))
  return curve


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("runs", nargs="+", help="NAME=WORKDIR of a pretraining run")
  parser.add_argument("--out", default="docs/figures/pretraining.png")
  args = parser.parse_args()
  fig, ax = plt.subplots(figsize=(6.5, 4))
  print(f"{'run':<28} {'step':>6} {'tokens':>12} {'valid ppl':>9}")
  for run in args.runs:
    name, workdir = run.split("=", 1)
    curve = valid_curve(pathlib.Path(workdir))
    for step, tokens, perplexity in curve:
      print(f"{name:<28} {step:>6} {tokens:>12,.0f} {perplexity:>9.3f}")
    ax.plot([max(t, 1.0) for _, t, _ in curve], [p for _, _, p in curve], "o-", label=name)
  ax.set_xscale("log")
  ax.set_xlabel("training tokens seen")
  ax.set_ylabel("valid perplexity per token")
  ax.set_title("Pretraining: StackOverflow valid pairs")
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=120)
  print(f"plot: {args.out}")


if __name__ == "__main__":
  main()
