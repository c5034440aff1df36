"""Chooses λ of the markov_distance baseline (log P − λ·distance) on valid instances.

  python launch/tune_distance_prior.py --instances workdir/instances/valid.jsonl

Prints MRR and P@1 (ranking view, shuffled, pessimistic ties) for each λ, and
the best λ by MRR. Run it on valid, never on test.
"""
import argparse

from repair_rank import baselines
from repair_rank import evaluate
from repair_rank import metrics
from repair_rank.data import instances as instances_lib


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--instances", required=True, help="valid ranking instances")
  parser.add_argument("--lambdas", type=float, nargs="+",
                      default=[0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0])
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  instances = instances_lib.read(args.instances)
  print(f"{len(instances)} instances from {args.instances}")
  print(f"{'lambda':>7} {'MRR':>7} {'P@1':>7} {'P@10':>7}")
  best = None
  for lam in args.lambdas:
    results = evaluate.rank_instances(instances, baselines.get("markov_distance", lam=lam),
                                      seed=args.seed, progress=False)
    summary = metrics.summarize(r.rank for r in results)
    print(f"{lam:7.2f} {summary['mrr']:7.3f} {summary['p@1']:7.3f} {summary['p@10']:7.3f}")
    if best is None or summary["mrr"] > best[1]:
      best = (lam, summary["mrr"])
  print(f"best lambda by valid MRR: {best[0]}")


if __name__ == "__main__":
  main()
