"""Latency of POST /repair.json (the page's route) and GET / on an endpoint in this process.

  python launch/benchmarks/benchmark_repair_route.py         # the bundled model, 20 snippets
  python launch/benchmarks/benchmark_repair_route.py --scorer=markov_distance --n=40

Sends the broken source of every other test pair (of those with source text, in file
order) to `/repair.json` with top_k 5, after the scorer's warm-up as `configs/serve.py`
does it, and prints the HTTP statuses and p50 / p90 / max seconds; then the mean time
of 20 `GET /`. The time is mostly the generator's (distance 1 exhaustively, 2-3 within
the 2 s budget) and one scoring call per snippet.
"""
import argparse
import json
import statistics
import time
import urllib.error
import urllib.request

from repair_rank import paths
from repair_rank.data import stackoverflow
from repair_rank.ranking import registry
from repair_rank.serving import server as server_lib


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--scorer", default="model")
  parser.add_argument("--n", type=int, default=20, help="snippets sent")
  args = parser.parse_args()
  scorer = registry.get(args.scorer)
  server_lib.warm_up(scorer)
  sources = [p["broken_src"] for p in stackoverflow.read_pairs(paths.split_path("test"))
             if p["broken_src"]][:2 * args.n:2]
  with server_lib.RerankServer(scorer).start() as server:
    seconds, statuses = [], {}
    for source in sources:
      request = urllib.request.Request(
          server.url + "/repair.json", data=json.dumps({"source": source, "top_k": 5}).encode(),
          headers={"Content-Type": "application/json"})
      start = time.perf_counter()
      try:
        with urllib.request.urlopen(request, timeout=60) as response:
          response.read()
          status = response.status
      except urllib.error.HTTPError as e:
        status = e.code
      seconds.append(time.perf_counter() - start)
      statuses[status] = statuses.get(status, 0) + 1
    seconds.sort()
    print(f"POST /repair.json, {len(seconds)} snippets, statuses {statuses}: p50 "
          f"{statistics.median(seconds):.2f} s, p90 {seconds[int(0.9 * len(seconds)) - 1]:.2f} s, "
          f"max {seconds[-1]:.2f} s")
    start = time.perf_counter()
    for _ in range(20):
      with urllib.request.urlopen(server.url + "/", timeout=10) as response:
        response.read()
    print(f"GET /: {(time.perf_counter() - start) / 20 * 1000:.1f} ms (mean of 20)")


if __name__ == "__main__":
  main()
