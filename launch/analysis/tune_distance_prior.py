"""Chooses the weight of a Markov prior on valid instances.

  python launch/analysis/tune_distance_prior.py --instances workdir/instances/valid.jsonl
  python launch/analysis/tune_distance_prior.py --instances V --baseline markov_channel \
      --lambdas 0.5 1 1.5 1.75 2 2.5 3

markov_distance: λ in log P − λ·distance; markov_channel: w in
log P + w·(edit channel log-probability). Prints MRR and P@1 (ranking view,
shuffled, pessimistic ties) for each value, and the best by MRR. Run it on
valid, never on test.
"""
import argparse

from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.ranking import registry
from repair_rank.data import instances as instances_lib


# The keyword option of each prior's factory that --lambdas sets.
_WEIGHT_OPTION = {"markov_distance": "lam", "markov_channel": "weight"}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--instances", required=True, help="valid ranking instances")
  parser.add_argument("--lambdas", type=float, nargs="+",
                      default=[0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0])
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--baseline", default="markov_distance",
                      choices=sorted(_WEIGHT_OPTION), help="the prior to tune")
  args = parser.parse_args()
  instances = instances_lib.read(args.instances)
  print(f"{len(instances)} instances from {args.instances}")
  print(f"{'lambda':>7} {'MRR':>7} {'P@1':>7} {'P@10':>7}")
  best = None
  for lam in args.lambdas:
    prior = registry.get(args.baseline, **{_WEIGHT_OPTION[args.baseline]: lam})
    results = evaluate.rank_instances(instances, prior,
                                      seed=args.seed, progress=False)
    summary = metrics.summarize(r.rank for r in results)
    print(f"{lam:7.2f} {summary['mrr']:7.3f} {summary['p@1']:7.3f} {summary['p@10']:7.3f}")
    if best is None or summary["mrr"] > best[1]:
      best = (lam, summary["mrr"])
  print(f"best {_WEIGHT_OPTION[args.baseline]} by valid MRR: {best[0]}")


if __name__ == "__main__":
  main()
