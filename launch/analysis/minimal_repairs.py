"""How many human fixes are minimal repairs, and the generator's recall of each kind.

A human fix of distance d is *minimal* when no proper subset of its token edits
already makes the program valid; otherwise the person changed something beyond
the repair (a name, an argument, a line) on top of it. The generator searches for
repairs, so a fix that is not minimal is one it reaches only by going on past a
valid program. Prints, per split, the count of each kind at distance d and the
share of each that the instances' candidate lists hold.

  PYTHONPATH=. .venv/bin/python launch/analysis/minimal_repairs.py \
      data/instances/valid_ranker.jsonl.gz data/instances/train_ranker.jsonl.gz
"""
import argparse
import itertools
from typing import Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank.data import instances as instances_lib
from repair_rank.syntax import tokens as tokens_lib


def is_minimal(query: Sequence[str], truth: Sequence[str]) -> bool:
  """Whether no proper, non-empty subset of the query -> truth token edits is valid."""
  # rapidfuzz applies edit operations to strings only: one character per token.
  alphabet = {t: chr(0x100 + i) for i, t in enumerate(sorted(set(query) | set(truth)))}
  back = {c: t for t, c in alphabet.items()}
  source = "".join(alphabet[t] for t in query)
  target = "".join(alphabet[t] for t in truth)
  ops = Levenshtein.editops(source, target)
  for size in range(1, len(ops)):
    for dropped in itertools.combinations(range(len(ops)), len(ops) - size):
      subset = ops.copy()
      for i in reversed(dropped):
        del subset[i]
      if tokens_lib.is_valid([back[c] for c in subset.apply(source, target)]):
        return False
  return True


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("instances", nargs="+", help="ranking instances (JSONL[.gz])")
  parser.add_argument("--distance", type=int, default=3)
  args = parser.parse_args(argv)
  print(f"| instances, distance {args.distance} | fixes | minimal | recall, minimal "
        "| recall, not minimal | recall, all |")
  print("|---|---:|---:|---:|---:|---:|")
  for path in args.instances:
    rows = [(is_minimal(inst.query, inst.truth), inst.truth in inst.candidates)
            for inst in instances_lib.read(path) if inst.distance == args.distance]
    minimal = [found for kind, found in rows if kind]
    extra = [found for kind, found in rows if not kind]
    share = lambda xs: f"{sum(xs) / len(xs):.3f} ({sum(xs)}/{len(xs)})" if xs else "-"
    print(f"| {path} | {len(rows)} | {len(minimal)} | {share(minimal)} | {share(extra)} "
          f"| {share([found for _, found in rows])} |")


if __name__ == "__main__":
  main()
