"""How far the prior trusts train more than unseen code, with and without cross-fitting.

  .venv/bin/python launch/analysis/crossfit_gap.py \
      --train data/instances/train_ranker.jsonl.gz --valid data/instances/valid_ranker.jsonl.gz

Per split: the truth's per-token n-gram perplexity (with </s>) and the noisy-channel
prior's P@1 among each instance's candidates (truth inserted where missing,
pessimistic ties), once with the parts stored in the instances (train:
cross-fitted, each fold scored by models fitted without it) and once with the
bundled models, which were fitted on all of train and so have seen every train fix.
"""
import argparse

import numpy as np

from repair_rank.data import instances as instances_lib
from repair_rank.generator import edit_stats
from repair_rank.generator import ngram
from repair_rank.ranking import learned_prior
from repair_rank.ranking import metrics


def figures(instances, parts_of):
  """(truth per-token perplexity, channel prior P@1) with parts from `parts_of(inst)`."""
  nats, tokens, hits = 0.0, 0, []
  for inst in instances:
    candidates, parts = parts_of(inst)
    nats -= parts[-1][0]
    tokens += len(inst.truth) + 1
    scores = learned_prior.prior_score(np.asarray(parts), edit_stats.CHANNEL_WEIGHT)
    hits.append(metrics.rank_of_truth(scores, len(candidates) - 1) == 0)
  return float(np.exp(nats / tokens)), float(np.mean(hits))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--train", required=True)
  parser.add_argument("--valid", required=True)
  args = parser.parse_args()
  model, stats = ngram.load_default(), edit_stats.load_default()

  def stored(inst):
    others = [(c, p) for c, p in zip(inst.candidates, inst.parts) if c != inst.truth]
    return ([c for c, _ in others] + [inst.truth],
            [p for _, p in others] + [inst.truth_parts])

  def bundled(inst):
    candidates = [c for c in inst.candidates if c != inst.truth] + [inst.truth]
    return candidates, learned_prior.parts_of(inst.query, candidates, model, stats).tolist()

  print("| split | parts | instances | truth perplexity per token | channel prior P@1 |")
  print("|---|---|---:|---:|---:|")
  for split, path in (("train", args.train), ("valid", args.valid)):
    instances = instances_lib.read(path)
    rows = [("stored (train: cross-fitted)", stored)]
    if split == "train":
      rows.append(("bundled models (fitted on all of train)", bundled))
    for name, parts_of in rows:
      perplexity, p_at_1 = figures(instances, parts_of)
      print(f"| {split} | {name} | {len(instances)} | {perplexity:.3f} | {p_at_1:.3f} |",
            flush=True)


if __name__ == "__main__":
  main()
