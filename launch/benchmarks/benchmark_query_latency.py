"""In-process scoring time over real test queries, each with its own candidate list.

  PYTHONPATH=. .venv/bin/python launch/benchmarks/benchmark_query_latency.py \
      data/scorers/k32_s19 repair_rank/assets/scorer_default

benchmark_serve.py times 1000 candidates of one median-length query; the cost of whole
pairs grows with a query's length, so this takes every `--every`-th test query and prints
the p50 / p90 / max over queries of each one's median of `--repeats` calls.
"""
import argparse
import time

import numpy as np

from repair_rank import scorer
from repair_rank.data import instances as instances_lib


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("bundles", nargs="+", help="scorer bundle directories")
  parser.add_argument("--instances", default="data/instances/test.jsonl.gz")
  parser.add_argument("--every", type=int, default=15, help="take every N-th query")
  parser.add_argument("--repeats", type=int, default=3, help="timed calls per query")
  args = parser.parse_args(argv)
  if args.every < 1 or args.repeats < 1:
    parser.error(f"--every {args.every} and --repeats {args.repeats} must each be at least 1")
  picked = instances_lib.read(args.instances)[::args.every]
  for path in args.bundles:
    model = scorer.load(path)
    model.warmup()
    per_query = []
    for instance in picked:
      query, candidates = list(instance.query), [list(c) for c in instance.candidates]
      times = []
      for _ in range(args.repeats):
        start = time.perf_counter()
        model.score(query, candidates)
        times.append(time.perf_counter() - start)
      per_query.append(1000 * float(np.median(times)))
    sizes = [len(instance.candidates) for instance in picked]
    print(f"{path}: {len(picked)} queries, median {int(np.median(sizes))} candidates: "
          f"p50 {np.percentile(per_query, 50):.1f} ms, p90 {np.percentile(per_query, 90):.1f} ms, "
          f"max {max(per_query):.1f} ms")


if __name__ == "__main__":
  main()
