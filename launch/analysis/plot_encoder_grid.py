"""Valid MRR of the finetuned scorer against the encoder's pretraining and size (issue 21).

  PYTHONPATH=. .venv/bin/python launch/analysis/plot_encoder_grid.py \
      [--grid docs/figures/encoder_grid.jsonl] [--out docs/figures/encoder_grid.png]

Reads one JSON line per finetune run (layers, pretraining steps and data, the encoder's
valid perplexity, finetuning steps, valid MRR reweighted to test's mix, and where the
run is reported: each is a row of BENCHMARKS.md, whose run directories did not outlive
their sessions), prints the grid and draws two panels: MRR against pretraining steps,
and MRR against the encoder's valid perplexity, one series per size and finetune length.
"""
import argparse
import collections
import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def read_grid(path: pathlib.Path) -> list[dict]:
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def series(rows: list[dict]) -> dict[str, list[dict]]:
  """Rows grouped by (layers, pretraining data, finetune steps), each sorted by pretraining."""
  groups = collections.defaultdict(list)
  for row in rows:
    name = (f"{row['layers']} layers, {row['pretrain_data']}, "
            f"{row['finetune_steps']:,} finetuning steps")
    groups[name].append(row)
  return {name: sorted(group, key=lambda r: r["pretrain_steps"])
          for name, group in sorted(groups.items())}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--grid", default="docs/figures/encoder_grid.jsonl")
  parser.add_argument("--out", default="docs/figures/encoder_grid.png")
  args = parser.parse_args()
  groups = series(read_grid(pathlib.Path(args.grid)))
  print(f"{'series':<48} {'pretrain':>8} {'perplexity':>10} {'valid MRR':>9}")
  fig, (by_steps, by_perplexity) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
  for name, rows in groups.items():
    for row in rows:
      print(f"{name:<48} {row['pretrain_steps']:>8} {row['valid_perplexity']:>10.3f} "
            f"{row['valid_test_mix_mrr']:>9.4f}")
    marker = "*-" if rows[0]["finetune_steps"] > 300 else "o-"
    mrr = [r["valid_test_mix_mrr"] for r in rows]
    by_steps.plot([r["pretrain_steps"] for r in rows], mrr, marker, markersize=9, label=name)
    by_perplexity.plot([r["valid_perplexity"] for r in rows], mrr, marker, markersize=9,
                       label=name)
  by_steps.set_xlabel("pretraining steps (32 sequences each)")
  by_steps.set_ylabel("valid MRR, test mix")
  by_perplexity.set_xlabel("encoder's valid perplexity per token")
  by_perplexity.invert_xaxis()  # better encoders to the right in both panels
  for ax in (by_steps, by_perplexity):
    ax.grid(alpha=0.3)
  by_steps.legend(fontsize=8)
  fig.suptitle("The finetuned scorer against its encoder's pretraining and size (CPU)")
  fig.tight_layout()
  pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(args.out, dpi=120)
  print(f"plot: {args.out}")


if __name__ == "__main__":
  main()
