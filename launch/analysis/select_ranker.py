"""Valid rows of trained scorers, for choosing the bundle: plain and reweighted to test's mix.

  .venv/bin/python launch/analysis/select_ranker.py --valid data/instances/valid_ranker.jsonl.gz \
      NAME=BUNDLE[+BUNDLE...][:PRIOR_JSON] ...

Each NAME=BUNDLE is a scorer bundle (or finetune workdir) ranked on the valid
instances through the same evaluation as every other number; `:PRIOR_JSON`
swaps in another learned first stage than the bundle's own. NAME=A+B+... ranks
the ensemble of several bundles behind the first one's first stage: their
transformer scores averaged, at the members' summed serving cost. Also prints the
bundled learned prior alone and the channel prior, on the same instances and
shuffles. MRR, P@1, the same reweighted to test's mix of distances and lengths
(`metrics.balanced_summary`, what selection uses), and P@1 by distance.
"""
import argparse
import pathlib
from typing import Sequence

from repair_rank.data import instances as instances_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.ranking import registry
from repair_rank.ranking import scorer as scorer_lib


def _first_stage(scorer: scorer_lib.Scorer) -> tuple:
  """What decides a scorer's first-stage list and weight; a learned prior by its file's
  bytes (each bundle carries its own copy)."""
  options = {k: pathlib.Path(v).read_bytes() if k == "path" and v else v
             for k, v in scorer.prior_options.items()}
  return (scorer.prior, options, scorer.prior_weight, scorer.prefilter_k,
          scorer.prefilter_per_distance)


def ensemble(scorers: Sequence[scorer_lib.Scorer]) -> scorer_lib.Scorer:
  """The first scorer with its transformer score the mean of every scorer's: each member's
  residual over the one first stage, which all must share with its settings."""
  first = scorers[0]
  if len(scorers) == 1:
    return first
  if any(_first_stage(other) != _first_stage(first) for other in scorers[1:]):
    raise ValueError("the bundles' first stages or settings differ")
  members = [s.score_all for s in scorers]
  first.score_all = lambda query, candidates: sum(
      member(query, candidates) for member in members) / len(members)
  return first


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--valid", required=True)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("scorers", nargs="*", metavar="NAME=BUNDLE[+BUNDLE...][:PRIOR_JSON]")
  args = parser.parse_args()
  valid = instances_lib.read(args.valid)
  mix = evaluate.test_mix()
  rows = [("channel prior", registry.get("markov_channel")),
          ("learned prior (bundled)", registry.get("learned_prior"))]
  for spec in args.scorers:
    name, target = spec.split("=", 1)
    paths, _, prior_path = target.partition(":")
    scorers = [registry.get("model", path=path, prior_path=prior_path)
               for path in paths.split("+")]
    rows.append((name, ensemble(scorers)))
  print("| scorer (valid) | MRR | P@1 | test-mix MRR | test-mix P@1 | P@1 d1 | d2 | d3 |")
  print("|---|---:|---:|---:|---:|---:|---:|---:|")
  for name, scorer in rows:
    results = evaluate.rank_instances(valid, scorer, seed=args.seed, progress=False)
    report = metrics.report(results)
    balanced = metrics.balanced_summary(results, mix)
    cells = [report["all"]["mrr"], report["all"]["p@1"], balanced["mrr"], balanced["p@1"]]
    cells += [report[f"d={d}"]["p@1"] for d in (1, 2, 3)]
    print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", flush=True)


if __name__ == "__main__":
  main()
