"""Chooses the scorer's prior, ensemble weight and first-stage size on valid; can write the bundle.

  python launch/analysis/tune_scorer.py --model workdir/finetune --instances <valid instances> \
      [--bundle repair_rank/assets/scorer_default --prior P --prior_weight W --prefilter_k K]

For each prior (a baseline name: the first stage), each prior_weight
(transformer score + w × prior score) and each prefilter_k (0 = score every
candidate), prints valid MRR / P@1 / P@10 (ranking view, shuffled, pessimistic
ties) and the mean seconds per query (the transformer's scores are cached
across settings, so only the first setting that needs a pair pays for it).
With --bundle, saves the model with the given settings as a scorer bundle,
or with --select the settings of the best valid MRR among those tried.
Valid only, never test.
"""
import argparse
import time

import numpy as np

from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.ranking import registry
from repair_rank.ranking import scorer as scorer_lib
from repair_rank.data import instances as instances_lib


def _cache_transformer_scores(model: scorer_lib.Scorer) -> None:
  """Memoises model.score_all per (query, candidate): settings differ only in the prior."""
  cache: dict = {}
  score_all = model.score_all

  def cached(query, candidates):
    query = tuple(query)
    missing = [c for c in dict.fromkeys(map(tuple, candidates)) if (query, c) not in cache]
    if missing:
      for c, value in zip(missing, score_all(query, missing)):
        cache[query, c] = value
    return np.array([cache[query, tuple(c)] for c in candidates], dtype=np.float32)

  model.score_all = cached


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", required=True, help="finetune workdir or scorer bundle")
  parser.add_argument("--instances", required=True, help="valid ranking instances")
  parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.25, 0.5, 1.0, 2.0])
  parser.add_argument("--prefilter_ks", type=int, nargs="+", default=[0])
  parser.add_argument("--priors", nargs="+", default=[scorer_lib.UNNAMED_PRIOR],
                      help="first-stage baselines to try")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--bundle", default="", help="write a bundle here with the settings below")
  parser.add_argument("--prior_weight", type=float, default=0.0)
  parser.add_argument("--prefilter_k", type=int, default=0)
  parser.add_argument("--prior", default=scorer_lib.UNNAMED_PRIOR)
  parser.add_argument("--select", action="store_true",
                      help="write --bundle with the best setting by valid MRR instead")
  args = parser.parse_args()
  model = registry.get("model", path=args.model)
  _cache_transformer_scores(model)
  instances = instances_lib.read(args.instances)
  print(f"{len(instances)} instances from {args.instances}")
  best = None  # (MRR, prior, k, weight)
  print(f"{'prior':>16} {'weight':>7} {'k':>5} {'MRR':>7} {'P@1':>7} {'P@10':>7} {'s/query':>8}")
  for prior in args.priors:
    for k in args.prefilter_ks:
      for weight in args.weights:
        model.prefilter_k, model.prior_weight = k, weight
        model.prior = prior
        start = time.perf_counter()
        results = evaluate.rank_instances(instances, model.score, seed=args.seed, progress=False)
        seconds = (time.perf_counter() - start) / len(instances)
        row = metrics.summarize(r.rank for r in results)
        print(f"{prior:>16} {weight:7.2f} {k:5d} {row['mrr']:7.3f} {row['p@1']:7.3f} "
              f"{row['p@10']:7.3f} {seconds:8.3f}", flush=True)
        if best is None or row["mrr"] > best[0]:
          best = (row["mrr"], prior, k, weight)
  if args.bundle:
    model.prefilter_k, model.prior_weight = args.prefilter_k, args.prior_weight
    model.prior = args.prior
    if args.select:
      _, model.prior, model.prefilter_k, model.prior_weight = best
      print(f"selected on valid: prior {model.prior}, weight {model.prior_weight}, "
            f"prefilter_k {model.prefilter_k} (MRR {best[0]:.3f})")
    print(f"bundle written to {model.save(args.bundle)}")


if __name__ == "__main__":
  main()
