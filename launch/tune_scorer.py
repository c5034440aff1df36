"""Chooses the scorer's ensemble weight and first-stage size on valid; can write the bundle.

  python launch/tune_scorer.py --model workdir/finetune --instances <valid instances> \
      [--bundle repair_rank/assets/scorer_default --prior_weight W --prefilter_k K]

For each prior_weight (transformer score + w × markov_distance score) and each
prefilter_k (0 = score every candidate), prints valid MRR / P@1 / P@10 (ranking
view, shuffled, pessimistic ties) and the mean seconds per query. With --bundle,
saves the model with the given settings as a scorer bundle. Valid only, never test.
"""
import argparse
import time

from repair_rank import evaluate
from repair_rank import metrics
from repair_rank import scorer as scorer_lib
from repair_rank.data import instances as instances_lib


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", required=True, help="finetune workdir or scorer bundle")
  parser.add_argument("--instances", required=True, help="valid ranking instances")
  parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.25, 0.5, 1.0, 2.0])
  parser.add_argument("--prefilter_ks", type=int, nargs="+", default=[0])
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--bundle", default="", help="write a bundle here with the settings below")
  parser.add_argument("--prior_weight", type=float, default=0.0)
  parser.add_argument("--prefilter_k", type=int, default=0)
  args = parser.parse_args()
  model = scorer_lib.load(args.model)
  instances = instances_lib.read(args.instances)
  print(f"{len(instances)} instances from {args.instances}")
  print(f"{'weight':>7} {'k':>5} {'MRR':>7} {'P@1':>7} {'P@10':>7} {'s/query':>8}")
  for k in args.prefilter_ks:
    for weight in args.weights:
      model.prefilter_k, model.prior_weight = k, weight
      start = time.perf_counter()
      results = evaluate.rank_instances(instances, model.score, seed=args.seed, progress=False)
      seconds = (time.perf_counter() - start) / len(instances)
      row = metrics.summarize(r.rank for r in results)
      print(f"{weight:7.2f} {k:5d} {row['mrr']:7.3f} {row['p@1']:7.3f} {row['p@10']:7.3f} "
            f"{seconds:8.3f}", flush=True)
  if args.bundle:
    model.prefilter_k, model.prior_weight = args.prefilter_k, args.prior_weight
    print(f"bundle written to {model.save(args.bundle)}")


if __name__ == "__main__":
  main()
