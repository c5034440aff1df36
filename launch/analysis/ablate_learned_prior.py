"""Valid rows of the learned first stage: feature groups dropped, lists, negatives, balance.

  .venv/bin/python launch/analysis/ablate_learned_prior.py \
      --train data/instances/train_ranker.jsonl.gz --valid data/instances/valid_ranker.jsonl.gz

Each row is `ranking.learned_prior.fit` with one setting changed, ranked on the
valid instances through `ranking.evaluate` (seed 0, pessimistic ties), beside
the channel prior on the same instances: MRR and P@1, the same reweighted to
test's mix of distances and lengths (what selection uses), P@1 by distance.
"""
import argparse

import numpy as np

from repair_rank.data import instances as instances_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import learned_prior
from repair_rank.ranking import metrics

GROUPS = {
    "edit counts": ("insertions", "deletions", "substitutions"),
    "per-token log_prob": ("log_prob_per_token",),
    "ranks": ("log_rank", "log_rank_in_distance"),
    "list features": ("deep_x_log_distance1_count", "deep_x_best1_gap", "near_x_best2_gap"),
    "error placement": ("log_gap_to_error", "log_edit_spread", "edits_after_error"),
}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--train", required=True)
  parser.add_argument("--valid", required=True)
  args = parser.parse_args()
  train = [inst for inst in instances_lib.read(args.train) if inst.distance <= 3]
  valid = instances_lib.read(args.valid)
  mix = evaluate.test_mix()
  distances = np.array([inst.distance for inst in train])
  by_distance = {}
  for (distance, _), share in mix.items():
    by_distance[distance] = by_distance.get(distance, 0.0) + share
  balance = np.array([by_distance[d] / np.mean(distances == d) for d in distances])

  # The valid parts are the bundled models' (valid is never in their training data).
  table: dict = {}
  for inst in valid:
    known = table.setdefault(inst.query, {})
    known.update(zip(inst.candidates, inst.parts))
    known[inst.truth] = inst.truth_parts

  def row(name, prior):
    def score(query, candidates):
      parts = np.array([table[tuple(query)][tuple(c)] for c in candidates])
      return prior.score_list(query, candidates, parts)
    results = evaluate.rank_instances(valid, score, seed=0, progress=False)
    report = metrics.report(results)
    balanced = metrics.balanced_summary(results, mix)
    cells = [report["all"]["mrr"], report["all"]["p@1"], balanced["mrr"], balanced["p@1"]]
    cells += [report[f"d={d}"]["p@1"] for d in (1, 2, 3)]
    print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", flush=True)

  print(f"{len(train)} train, {len(valid)} valid instances\n")
  print("| learned prior (valid) | MRR | P@1 | test-mix MRR | test-mix P@1 | P@1 d1 | d2 | d3 |")
  print("|---|---:|---:|---:|---:|---:|---:|---:|")
  row("channel prior alone (w = 1.75)", learned_prior.LearnedPrior.plain(1.75, 64))
  row("learned, all features, list 64", learned_prior.fit(train)[0])
  for group, names in GROUPS.items():
    row(f"without {group}", learned_prior.fit(train, drop=names)[0])
  row("list 16", learned_prior.fit(train, list_size=16)[0])
  row("list 128", learned_prior.fit(train, list_size=128)[0])
  row("+ 8 random negatives from beyond the list", learned_prior.fit(train, random_negatives=8)[0])
  row("loss weighted to test's distance mix", learned_prior.fit(train, query_weights=balance)[0])
  row("tau 0.5", learned_prior.fit(train, tau=0.5)[0])


if __name__ == "__main__":
  main()
