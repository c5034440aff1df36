"""Checks candidates' distance-1 validity shortcuts against the full parse.

For every distance-1 neighbour of the broken side of `--pairs` pairs drawn from
a split (seeded shuffle), compares `neighbours.NeighbourValidity.is_valid`
(one-line compiles, bracket and layout shortcuts) with `tokens.is_valid` and
prints every disagreement; the shortcuts are exact when there is none.

  .venv/bin/python launch/analysis/check_neighbour_validity.py --split train --pairs 100
"""
import argparse
import json
import random

import tqdm

from repair_rank.generator import neighbours
from repair_rank import paths
from repair_rank import tokens


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--split", default="train", help="train, valid or test")
  parser.add_argument("--pairs", type=int, default=100, help="broken snippets checked")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  with open(paths.split_path(args.split)) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  random.Random(args.seed).shuffle(rows)
  checked = disagreements = 0
  for row in tqdm.tqdm(rows[:args.pairs], desc=args.split):
    broken = tuple(row["broken"].split())
    validity = neighbours.NeighbourValidity(broken)  # pylint: disable=protected-access
    for position, removed, added, seq in neighbours.edits(broken):  # pylint: disable=protected-access
      checked += 1
      if validity.is_valid(position, removed, added, seq) != tokens.is_valid(seq):
        disagreements += 1
        print(f"disagreement: {row['id']} position {position}: {removed!r} -> {added!r}")
  print(f"{checked} neighbours of {min(args.pairs, len(rows))} {args.split} snippets, "
        f"{disagreements} disagreements")


if __name__ == "__main__":
  main()
