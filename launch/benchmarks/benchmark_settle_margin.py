"""What the search's settle margin costs and saves (issue 22): recall of the human fix
among the generated candidates and time per snippet, on 60 valid pairs (seed 0), at a
0.9 s budget, for each margin given (nats; "none" searches the whole budget).

  .venv/bin/python launch/benchmarks/benchmark_settle_margin.py none 12 16 20
"""
import dataclasses
import sys
import time

import numpy as np

from repair_rank import paths
from repair_rank.data import stackoverflow
from repair_rank.generator import search


def main() -> None:
  pairs = stackoverflow.read_pairs(paths.split_path("valid"))
  pick = np.random.default_rng(0).choice(len(pairs), 60, replace=False)
  for arg in sys.argv[1:] or ["none", "12"]:
    margin = None if arg == "none" else float(arg)
    config = dataclasses.replace(search.DEFAULT_SEARCH, settle_margin=margin)
    hits, times = 0, []
    for i in pick:
      broken, fixed = pairs[i]["broken"].split(), tuple(pairs[i]["fixed"].split())
      start = time.monotonic()
      found = search.generate_scored(broken, max_distance=3, time_budget=0.9, search=config)
      times.append(time.monotonic() - start)
      hits += fixed in [c.tokens for c in found]
    print(f"margin {arg}: recall {hits / len(pick):.3f}, median {np.median(times):.2f} s, "
          f"mean {np.mean(times):.2f} s per snippet")


if __name__ == "__main__":
  main()
