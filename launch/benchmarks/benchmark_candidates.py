"""Recall and speed of repair_rank.candidates on a split, by edit distance.

For each (broken, fixed) pair, runs `candidates.generate_scored` and records
whether the human fix is among the top-k candidates (recall@k) and first in
the Markov order (P@1), and the seconds per snippet. Two worker processes by
default (this machine has two cores); times are per-snippet wall clock inside
a worker.

  .venv/bin/python launch/benchmarks/benchmark_candidates.py --split test --output /tmp/cand.json
  .venv/bin/python launch/benchmarks/benchmark_candidates.py --split valid --limit 50
"""
import argparse
import dataclasses
import json
import multiprocessing
import sys
import time
import typing

import numpy as np
import tqdm

from repair_rank import candidates
from repair_rank.generator import ngram
from repair_rank import paths

_SEARCH = candidates.DEFAULT_SEARCH


def _value_parser(field_type):
  """A command-line parser for a SearchConfig field: int, float, or Optional[float]
  ("none" for None, e.g. --settle_margin none)."""
  args = typing.get_args(field_type)
  if type(None) in args:
    inner = _value_parser(next(a for a in args if a is not type(None)))
    return lambda text: None if text.lower() == "none" else inner(text)
  return {"int": int, "float": float}.get(field_type, field_type)


def _parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--split", default="test", help="train, valid or test")
  parser.add_argument("--limit", type=int, default=None,
                      help="at most this many pairs per distance (quick runs)")
  parser.add_argument("--min_length", type=int, default=0,
                      help="only pairs whose broken side has at least this many tokens")
  parser.add_argument("--distances", type=int, nargs="+", default=[1, 2, 3],
                      help="edit distances of the pairs to run")
  parser.add_argument("--max_distance", type=int, default=3, help="search radius")
  parser.add_argument("--k", type=int, default=1000, help="candidates kept")
  parser.add_argument("--time_budget", type=float, default=candidates.DEFAULT_TIME_BUDGET,
                      help="seconds per snippet (<= 0: none)")
  parser.add_argument("--max_expansions", type=int, default=None,
                      help="partial repairs extended per snippet: a budget that does not "
                      "depend on the machine or its load (compare settings with it)")
  parser.add_argument("--workers", type=int, default=2, help="worker processes")
  parser.add_argument("--output", default=None, help="write the results here as JSON")
  for field in dataclasses.fields(candidates.SearchConfig):
    parser.add_argument(f"--{field.name}", type=_value_parser(field.type),
                        default=argparse.SUPPRESS, help=f"SearchConfig.{field.name} "
                        f"(default {getattr(_SEARCH, field.name)})")
  return parser.parse_args(argv)


_ARGS = None


def _init(args):
  global _ARGS
  _ARGS = args
  ngram.load_default()


def _run_one(row):
  args = _ARGS
  # Only the fields given on the command line (absent ones are not in `args`).
  overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(candidates.SearchConfig)
               if hasattr(args, f.name)}
  search = dataclasses.replace(_SEARCH, **overrides)
  broken, fixed = row["broken"].split(), tuple(row["fixed"].split())
  start = time.monotonic()
  found = candidates.generate_scored(
      broken, max_distance=args.max_distance, k=args.k,
      time_budget=args.time_budget if args.time_budget > 0 else None, search=search,
      max_expansions=args.max_expansions)
  seconds = time.monotonic() - start
  rank = next((i for i, c in enumerate(found) if c.tokens == fixed), None)
  return {"id": row["id"], "distance": row["distance"], "rank": rank,
          "num_candidates": len(found), "seconds": seconds}


def summarize(results):
  """Markdown table rows: recall@k, P@1, candidates and seconds by distance."""
  lines = ["| distance | pairs | recall@k | P@1 (Markov) | median candidates | "
           "median s | p90 s | max s |", "|---|---|---|---|---|---|---|---|"]
  summary = {}
  groups = sorted({r["distance"] for r in results})
  for d in groups + ["all"]:
    rs = [r for r in results if d == "all" or r["distance"] == d]
    secs = np.array([r["seconds"] for r in rs])
    row = {"pairs": len(rs),
           "recall": float(np.mean([r["rank"] is not None for r in rs])),
           "p_at_1": float(np.mean([r["rank"] == 0 for r in rs])),
           "median_candidates": float(np.median([r["num_candidates"] for r in rs])),
           "median_s": float(np.median(secs)), "p90_s": float(np.percentile(secs, 90)),
           "max_s": float(secs.max())}
    summary[str(d)] = row
    lines.append(f"| {d} | {row['pairs']} | {row['recall']:.3f} | {row['p_at_1']:.3f} | "
                 f"{row['median_candidates']:.0f} | {row['median_s']:.2f} | "
                 f"{row['p90_s']:.2f} | {row['max_s']:.2f} |")
  return "\n".join(lines), summary


def main(argv=None):
  args = _parse_args(argv)
  with open(paths.split_path(args.split)) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  selected = []
  for d in args.distances:
    pairs = [r for r in rows if r["distance"] == d and r["length"] >= args.min_length]
    selected.extend(pairs[:args.limit] if args.limit else pairs)
  start = time.monotonic()
  if args.workers > 1:
    with multiprocessing.Pool(args.workers, initializer=_init, initargs=(args,)) as pool:
      results = list(tqdm.tqdm(pool.imap(_run_one, selected, chunksize=1),
                               total=len(selected), desc=args.split))
  else:
    _init(args)
    results = [_run_one(r) for r in tqdm.tqdm(selected, desc=args.split)]
  table, summary = summarize(results)
  print(f"split={args.split} k={args.k} max_distance={args.max_distance} "
        f"time_budget={args.time_budget} max_expansions={args.max_expansions} "
        f"workers={args.workers} "
        f"wall={time.monotonic() - start:.0f}s")
  print(table)
  if args.output:
    with open(args.output, "w") as f:
      json.dump({"args": vars(args), "summary": summary, "results": results}, f, indent=1)


if __name__ == "__main__":
  main(sys.argv[1:])
