"""Scoring latency: 10, 100, 1000 candidates through the HTTP endpoint and in-process.

  python launch/benchmarks/benchmark_serve.py                       # markov_distance baseline
  python launch/benchmarks/benchmark_serve.py --scorer=model [--model_path=CKPT]
  python launch/benchmarks/benchmark_serve.py --endpoint=http://127.0.0.1:8080   # a running server

For each size prints p50 / p99 milliseconds and candidates per second (at p50)
of: the scorer called in-process on the whole batch; the same through
`POST /rerank.json` of an endpoint (started in this process on a free port
unless --endpoint); and a one-candidate-at-a-time loop over the same scorer,
as the prototype's server did. The query is a test-split broken snippet of
about median length; its candidates are the generator's (padded with random
edits when the generator finds fewer than the largest size).
"""
import argparse
import json
import statistics
import time

import numpy as np

from repair_rank import candidates as candidates_lib
from repair_rank import paths
from repair_rank.ranking import evaluate
from repair_rank.ranking import registry
from repair_rank.serving import client as client_lib
from repair_rank.serving import server as server_lib
from repair_rank import tokens
from repair_rank.data import stackoverflow


def benchmark_inputs(n: int, seed: int = 0) -> tuple[list[str], list[list[str]], int]:
  """(query, n candidates, how many came from the generator) for a median-length test pair."""
  pairs = stackoverflow.read_pairs(paths.split_path("test"))
  median = statistics.median(p["length"] for p in pairs)
  pair = min(pairs, key=lambda p: (abs(p["length"] - median), p["id"]))
  query = pair["broken"].split()
  found = candidates_lib.generate(query, max_distance=2, k=n, time_budget=3.0)
  n_generated = len(found)
  rng = np.random.default_rng(seed)
  seen = {tuple(c) for c in found} | {tuple(query)}
  while len(found) < n:  # pad with random insertions / substitutions (1-3 edits)
    candidate = list(query)
    for _ in range(rng.integers(1, 4)):
      position = int(rng.integers(0, len(candidate)))
      token = tokens.ALL_TOKENS[int(rng.integers(len(tokens.ALL_TOKENS)))]
      if rng.random() < 0.5:
        candidate.insert(position, token)
      else:
        candidate[position] = token
    if tuple(candidate) not in seen:
      seen.add(tuple(candidate))
      found.append(candidate)
  return query, found, n_generated


def time_calls(fn, repeats: int) -> np.ndarray:
  """Wall seconds of `repeats` calls of fn()."""
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return np.asarray(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--scorer", default="markov_distance",
                      help='"model" or a baseline name (default markov_distance)')
  parser.add_argument("--model_path", default="", help="model checkpoint; '' = bundled")
  parser.add_argument("--endpoint", default="", help="URL of a running endpoint")
  parser.add_argument("--sizes", default="10,100,1000", help="candidate counts")
  parser.add_argument("--repeats", type=int, default=50, help="timed calls per size and path")
  parser.add_argument("--loop_repeats", type=int, default=3,
                      help="timed one-at-a-time loops per size (they are slow; 0 = skip)")
  parser.add_argument("--json_out", default="", help="also write the table here as JSON")
  args = parser.parse_args()
  sizes = [int(s) for s in args.sizes.split(",")]

  query, pool, n_generated = benchmark_inputs(max(sizes))
  print(f"query: {len(query)} tokens; candidates: {n_generated} from the "
        f"generator (distance <= 2), the rest random edits")

  scorer = registry.load(args.scorer, model_path=args.model_path)
  score_fn = evaluate.as_score_fn(scorer)
  print(f"scorer {args.scorer}: warm-up {server_lib.warm_up(scorer):.2f} s")
  server = None
  if args.endpoint:
    url = args.endpoint
  else:
    server = server_lib.RerankServer(scorer, name=args.scorer).start()
    url = server.url
  client = client_lib.HttpScoreFn(url)

  rows = []
  try:
    for n in sizes:
      candidates = pool[:n]
      paths_ = {
          "in-process batch": (lambda: score_fn(query, candidates), args.repeats),
          "HTTP /rerank.json": (lambda: client(query, candidates), args.repeats),
          "one at a time": (lambda: [score_fn(query, [c]) for c in candidates],
                            args.loop_repeats),
      }
      for name, (fn, repeats) in paths_.items():
        if repeats == 0:
          continue
        fn()  # untimed: first call at this size
        seconds = time_calls(fn, repeats)
        p50, p99 = np.percentile(seconds, 50), np.percentile(seconds, 99)
        rows.append({"candidates": n, "path": name, "repeats": repeats,
                     "p50_ms": 1e3 * p50, "p99_ms": 1e3 * p99,
                     "candidates_per_s": n / p50})
  finally:
    client.close()
    if server is not None:
      server.shutdown()

  print(f"\n{'candidates':>10}  {'path':<18} {'p50 ms':>9} {'p99 ms':>9} {'cand/s':>10}")
  for row in rows:
    print(f"{row['candidates']:>10}  {row['path']:<18} {row['p50_ms']:>9.2f} "
          f"{row['p99_ms']:>9.2f} {row['candidates_per_s']:>10,.0f}")
  if args.json_out:
    with open(args.json_out, "w", encoding="utf-8") as f:
      json.dump({"scorer": args.scorer, "endpoint": args.endpoint or "in-process",
                 "rows": rows}, f, indent=2)


if __name__ == "__main__":
  main()
