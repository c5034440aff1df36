"""Averages the params of scorer bundles finetuned from one start into one bundle (a soup).

  python launch/analysis/average_scorers.py --out workdir/soup \
      repair_rank/assets/scorer_default workdir/ft_k32_h32_seed1/scorer_bundle [--weights 0.5 0.5]

Two finetunes continued from the same scorer with other data orders land near each other
in weight space; their average often ranks like the two scores' average (an ensemble)
at one scorer's serving cost. Every bundle must share the model config, the first stage
and its settings; the first bundle's are kept. The output has no confidence: fit it on
valid (`launch/analysis/fit_confidence.py --bundle OUT --write`) before it is served.
"""
import argparse

import jax
import numpy as np

from repair_rank.ranking import scorer as scorer_lib


def average(scorers: list[scorer_lib.Scorer], weights: list[float]) -> scorer_lib.Scorer:
  """The first scorer with every param the weighted mean of theirs (weights sum to 1)."""
  first = scorers[0]
  for other in scorers[1:]:
    if other.model_config != first.model_config:
      raise ValueError("the bundles' model configs differ: their params cannot be averaged")
    if (other.prior, other.prior_weight, other.prefilter_k) != (
        first.prior, first.prior_weight, first.prefilter_k):
      raise ValueError("the bundles' first stages or settings differ")
  trees = [jax.device_get(s.params) for s in scorers]
  mean = jax.tree_util.tree_map(
      lambda *leaves: sum(w * np.asarray(x, np.float32) for w, x in zip(weights, leaves)
                          ).astype(np.asarray(leaves[0]).dtype), *trees)
  return scorer_lib.Scorer(
      first.model_config, mean, length_buckets=first.length_buckets,
      batch_buckets=first.batch_buckets, prefilter_k=first.prefilter_k,
      prefilter_lambda=first.prefilter_lambda,
      prefilter_per_distance=first.prefilter_per_distance, prior_weight=first.prior_weight,
      prior=first.prior, prior_options=first.prior_options)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("bundles", nargs="+", help="scorer bundles finetuned from one start")
  parser.add_argument("--weights", type=float, nargs="+", help="one per bundle (default equal)")
  parser.add_argument("--out", required=True, help="where the averaged bundle is written")
  args = parser.parse_args()
  weights = args.weights or [1.0] * len(args.bundles)
  if len(weights) != len(args.bundles):
    parser.error(f"{len(weights)} weights for {len(args.bundles)} bundles")
  total = sum(weights)
  if min(weights) < 0 or total <= 0:
    parser.error(f"--weights {weights}: none negative, their sum positive")
  weights = [w / total for w in weights]
  scorers = [scorer_lib.load_bundle(path, calibrating=True) for path in args.bundles]
  path = average(scorers, weights).save(args.out)
  print(f"{len(scorers)} bundles averaged (weights {', '.join(f'{w:.3f}' for w in weights)}) "
        f"into {path}")


if __name__ == "__main__":
  main()
