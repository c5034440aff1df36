"""The design brief's cross-check: the n-gram order among valid distance-1 neighbours.

On the distance-1 pairs of valid, generates every valid distance-1 neighbour
of the broken snippet with `candidates.generate(max_distance=1)` (exhaustive),
and ranks the human fix among them by an order-6 Kneser-Ney model fitted on
train fixed, ties counted against the truth. Expected (the design brief's
independent figures, quoted in BENCHMARKS.md): random P@1 ~0.28 (mean of 1/n),
n-gram MRR ~0.80, P@1 ~0.70, median neighbours ~11 (p90 ~60, max ~160).

  .venv/bin/python launch/analysis/check_distance1.py
"""
import argparse
import json
import sys

import numpy as np

from repair_rank import candidates
from repair_rank.data import corpora
from repair_rank.generator import ngram
from repair_rank import paths


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--split", default="valid")
  parser.add_argument("--order", type=int, default=6)
  args = parser.parse_args(argv)
  model = ngram.NgramModel.fit(corpora.read_split("train"), args.order)
  with open(paths.split_path(args.split)) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  rows = [r for r in rows if r["distance"] == 1]
  sizes, ranks, random_p1, missing = [], [], [], 0
  for r in rows:
    broken, fixed = r["broken"].split(), r["fixed"].split()
    neighbours = candidates.generate(broken, max_distance=1, k=10**9, model=model)
    if fixed not in neighbours:
      missing += 1
      continue
    scores = model.log_probs(neighbours)
    truth = scores[neighbours.index(fixed)]
    ranks.append(int(np.sum(scores >= truth)))  # 1-based, ties against the truth.
    sizes.append(len(neighbours))
    random_p1.append(1.0 / len(neighbours))
  ranks = np.array(ranks)
  print(f"{args.split} distance-1 pairs: {len(rows)}, truth not a valid neighbour: {missing}")
  print(f"valid neighbours: median {np.median(sizes):.0f}, p90 {np.percentile(sizes, 90):.0f}, "
        f"max {max(sizes)}")
  print(f"random P@1 (exact expectation, mean 1/n): {np.mean(random_p1):.3f}")
  print(f"order-{args.order} n-gram: MRR {np.mean(1.0 / ranks):.3f}, "
        f"P@1 {np.mean(ranks == 1):.3f}")


if __name__ == "__main__":
  main(sys.argv[1:])
