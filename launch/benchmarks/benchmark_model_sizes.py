"""Which transformer size can the CPU serve? Scoring latency of 1000 candidates per size.

  python launch/benchmarks/benchmark_model_sizes.py [--sizes small mid full] [--repeats 30]

Each size is the bundled scorer with its transformer swapped for one of that size
(random weights: latency does not depend on their values) behind the same first stage
(the learned prior's top `prefilter_k`, 16 as bundled), scoring the same median-length
test query and its 1000 candidates in-process. Prints p50 / p90 milliseconds per size;
the endpoint's budget (issue 21) is 1000 candidates in <= 100 ms p50 on 2 cores.
"""
import argparse
import time

import jax
import numpy as np

from repair_rank import scorer as scorer_api
from repair_rank.ranking import scorer as scorer_lib
from repair_rank.training import finetune

SIZES = {  # name -> (dim, heads, layers, mlp_dim); small is the bundled one
    "small": (128, 4, 3, 512),
    "small4": (128, 4, 4, 512),
    "wide": (192, 4, 3, 768),
    "mid": (256, 4, 4, 1024),
    "full": (512, 8, 4, 2048),
}


def _inputs():
  # The serving benchmark's query and pool (launch/ is not a package: imported by path).
  import importlib.util  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(
      "benchmark_serve", pathlib.Path(__file__).with_name("benchmark_serve.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.benchmark_inputs(1000)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", nargs="+", default=list(SIZES))
  parser.add_argument("--repeats", type=int, default=30)
  args = parser.parse_args()
  query, candidates, generated = _inputs()
  bundled = scorer_api.load()
  print(f"query {len(query)} tokens, {len(candidates)} candidates ({generated} generated); "
        f"first stage {bundled.prior}, transformer reranks its top {bundled.prefilter_k}; "
        f"{jax.device_count()} {jax.default_backend()} device(s)")
  print(f"{'size':<8} {'dim/heads/layers/mlp':<20} {'params':>10} {'p50 ms':>8} {'p90 ms':>8}")
  for name in args.sizes:
    dim, heads, layers, mlp = SIZES[name]
    config = bundled.model_config.replace(dim=dim, heads=heads, layers=layers, mlp_dim=mlp)
    params = finetune._initializer(config)(jax.random.PRNGKey(0))  # pylint: disable=protected-access
    sized = scorer_lib.Scorer(config, params, prefilter_k=bundled.prefilter_k,
                              prior_weight=bundled.prior_weight, prior=bundled.prior,
                              prior_options=bundled.prior_options)
    sized.score(query, candidates)  # compile
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      sized.score(query, candidates)
      times.append(time.perf_counter() - start)
    size = sum(np.size(x) for x in jax.tree.leaves(params))
    print(f"{name:<8} {f'{dim}/{heads}/{layers}/{mlp}':<20} {size:>10,} "
          f"{1e3 * np.percentile(times, 50):>8.1f} {1e3 * np.percentile(times, 90):>8.1f}",
          flush=True)


if __name__ == "__main__":
  main()
