"""How often is the top repair of a real StackOverflow snippet, as the text a person gets, the
human's fix? The page, POST /repair.json and the editor server on each pair's own source.

  python launch/benchmarks/benchmark_snippet_repairs.py                  # valid, the bundled model
  python launch/benchmarks/benchmark_snippet_repairs.py --split test     # once, after choosing on valid
  python launch/benchmarks/benchmark_snippet_repairs.py --out /tmp/snippets.json

The ranking metrics (BENCHMARKS "Ranking") score token lists; this sends each pair's
`broken_src` (pairs with source text, token edit distance <= 3) through
`diagnosis.diagnose`, the path the front ends take, and reads its repairs as text: a repair
is right when its text lexes to the human fix's tokens (trailing layout aside). The search
runs to a fixed number of expansions (`--max_expansions`), not seconds, so two runs on any
machine see the same candidates. Prints top-1 / top-5, the share answered at confidence
>= 0.5 and how often those answers are right, overall and by distance.
"""
import argparse
import json
import time

import numpy as np
import tqdm

from repair_rank import paths
from repair_rank.data import stackoverflow
from repair_rank.ranking import evaluate
from repair_rank.ranking import registry
from repair_rank.repair import diagnosis
from repair_rank.repair import text_edits
from repair_rank.syntax import tokens as tokens_lib


def judge(pair: dict, score_fn, *, top_k: int, max_expansions: int) -> dict:
  """One pair's outcome: the rank of the human fix among the repaired texts (None: absent),
  the top repair's confidence and the seconds taken."""
  truth = text_edits.strip_layout_end(pair["fixed"].split())
  start = time.perf_counter()
  found = diagnosis.diagnose(pair["broken_src"], score_fn, top_k=top_k, time_budget=None,
                             max_expansions=max_expansions)
  seconds = time.perf_counter() - start
  rank = next((i for i, fix in enumerate(found.fixes)
               if text_edits.strip_layout_end(tokens_lib.lex(fix.text)) == truth), None)
  confidence = found.fixes[0].repair.confidence if found.fixes else None
  return {"id": pair["id"], "distance": pair["distance"], "status": found.status, "rank": rank,
          "confidence": confidence, "seconds": seconds,
          "top": found.fixes[0].text if found.fixes else None}


def summary(rows: list[dict], threshold: float) -> dict:
  if not rows:
    return {"n": 0}
  answered = [r for r in rows if r["confidence"] is not None and r["confidence"] >= threshold]
  return {"n": len(rows),
          "top1": float(np.mean([r["rank"] == 0 for r in rows])),
          "top5": float(np.mean([r["rank"] is not None and r["rank"] < 5 for r in rows])),
          "answered": len(answered) / len(rows),
          "right_when_answered": (float(np.mean([r["rank"] == 0 for r in answered]))
                                  if answered else None),
          "median_s": float(np.median([r["seconds"] for r in rows]))}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--split", default="valid")
  parser.add_argument("--scorer", default="model")
  parser.add_argument("--model_path", default="", help="a scorer bundle; '' = bundled")
  parser.add_argument("--max_expansions", type=int, default=1000,
                      help="the search's budget per snippet (load-independent)")
  parser.add_argument("--top_k", type=int, default=5)
  parser.add_argument("--min_confidence", type=float, default=0.5)
  parser.add_argument("--limit", type=int, default=0, help="first N pairs only (0 = all)")
  parser.add_argument("--out", default="", help="per-pair rows and the summary as JSON")
  args = parser.parse_args()
  pairs = [p for p in stackoverflow.read_pairs(paths.split_path(args.split))
           if p["broken_src"] and p["distance"] <= 3]
  if args.limit:
    pairs = pairs[:args.limit]
  score_fn = evaluate.as_score_fn(registry.load(args.scorer, model_path=args.model_path))
  rows = [judge(p, score_fn, top_k=args.top_k, max_expansions=args.max_expansions)
          for p in tqdm.tqdm(pairs, desc="snippets", unit="snippet")]
  table = {"all": summary(rows, args.min_confidence)}
  for d in (1, 2, 3):
    table[f"d={d}"] = summary([r for r in rows if r["distance"] == d], args.min_confidence)
  print(f"{args.split}, {len(rows)} snippets, max_expansions {args.max_expansions}")
  print(f"{'rows':<6} {'n':>4} {'top-1':>6} {'top-5':>6} {'answers':>8} {'right':>6} {'median s':>9}")
  for name, s in table.items():
    if not s["n"]:
      continue
    right = "-" if s["right_when_answered"] is None else f"{s['right_when_answered']:.3f}"
    print(f"{name:<6} {s['n']:>4} {s['top1']:>6.3f} {s['top5']:>6.3f} {s['answered']:>8.1%} "
          f"{right:>6} {s['median_s']:>9.2f}")
  if args.out:
    with open(args.out, "w", encoding="utf-8") as f:
      json.dump({"args": vars(args), "summary": table, "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main()
