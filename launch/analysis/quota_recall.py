"""How often the list the transformer reranks holds the human fix, by distance, with and
without a per-distance quota behind the first stage (issue 21, item 5).

For each ranking instance: the learned first stage's list (the channel prior's top
`list_size`, ordered by the bundled learned prior or `--prior`, from the stored parts), then its top
k, and its top k plus `learned_prior.top_with_quota`'s best N of each distance. A fix the
generator missed counts as not held. Prints the share held and the mean list size.

  PYTHONPATH=. .venv/bin/python launch/analysis/quota_recall.py \
      --instances data/instances/valid_ranker.jsonl.gz --settings 16:0 32:0 16:4
"""
import argparse
import collections

import numpy as np

from repair_rank.data import instances as instances_lib
from repair_rank.ranking import learned_prior


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--instances", default="data/instances/valid_ranker.jsonl.gz")
  parser.add_argument("--settings", nargs="+", default=["16:0", "32:0", "16:4"],
                      help="K:N = the first stage's top K plus N of each distance")
  parser.add_argument("--prior", default="",
                      help="a learned prior's JSON (default: the bundled first stage)")
  args = parser.parse_args(argv)
  settings = [tuple(int(x) for x in s.split(":")) for s in args.settings]
  prior = (learned_prior.LearnedPrior.load(args.prior) if args.prior
           else learned_prior.load_default())
  held = collections.defaultdict(collections.Counter)
  sizes = collections.defaultdict(collections.Counter)
  count = collections.Counter()
  for inst in instances_lib.read(args.instances):
    d = min(inst.distance, 3)
    count[d] += 1
    listed, parts, truth = learned_prior.first_stage_list(inst, prior.list_size,
                                                          prior.channel_weight)
    order = np.argsort(-prior.score_parts(inst.query, listed, parts), kind="stable")
    distances = [instances_lib.token_distance(inst.query, c) for c in listed]
    generated = inst.truth in inst.candidates
    for k, n in settings:
      chosen = learned_prior.top_with_quota(order, distances, k, n)
      held[(k, n)][d] += generated and truth in chosen
      sizes[(k, n)][d] += len(chosen)
  print("| top K + N per distance | " + " | ".join(f"d{d} held (mean size)" for d in (1, 2, 3))
        + " |")
  print("|---|" + "---:|" * 3)
  for k, n in settings:
    cells = [f"{held[(k, n)][d] / count[d]:.3f} ({sizes[(k, n)][d] / count[d]:.1f})"
             for d in (1, 2, 3)]
    print(f"| {k} + {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
  main()
