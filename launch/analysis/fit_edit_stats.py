"""Refits the bundled edit statistics (repair_rank/assets/edit_stats.json) on train.

  .venv/bin/python launch/analysis/fit_edit_stats.py [--output PATH]

Counts the minimal token edit scripts of every train pair (all distances) with
`edit_stats.EditStats.fit` and saves them as JSON. Train only: the statistics
steer the candidate search and the markov_channel prior evaluated on valid/test.
"""
import argparse

from repair_rank.generator import edit_stats
from repair_rank import paths
from repair_rank.data import stackoverflow


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--output", default=str(edit_stats.DEFAULT_PATH))
  args = parser.parse_args()
  pairs = [(p["broken"].split(), p["fixed"].split())
           for p in stackoverflow.read_pairs(paths.split_path("train"))]
  stats = edit_stats.EditStats.fit(pairs)
  stats.save(args.output)
  print(f"{stats.pairs} pairs, {stats.slots} insertion slots -> {args.output}")


if __name__ == "__main__":
  main()
