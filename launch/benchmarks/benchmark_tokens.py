"""Lexer agreement with the data, and the validity oracle's speed and accuracy.

  python launch/benchmarks/benchmark_tokens.py

Prints, per split and side, how often `tokens.lex(source)` reproduces the
data's token sequence exactly (over pairs whose source text survives); how many
fixed / broken sequences `tokens.is_valid` accepts; its throughput in parses per
second; and how many fixed sequences survive `lex(render(t)) == t`.
"""
import json
import time

from repair_rank import paths
from repair_rank import tokens


def main():
  print(f"{'split':6} {'side':7} {'sources':>8} {'exact':>7} {'agreement':>10}")
  sequences = {"fixed": [], "broken": []}
  for split in ("train", "valid", "test"):
    with paths.split_path(split).open() as f:
      pairs = [json.loads(line) for line in f]
    for side in ("fixed", "broken"):
      sequences[side].extend(p[side].split() for p in pairs)
      with_source = [p for p in pairs if p[f"{side}_src"] is not None]
      exact = sum(tokens.lex(p[f"{side}_src"]) == p[side].split() for p in with_source)
      print(f"{split:6} {side:7} {len(with_source):8d} {exact:7d} {exact / len(with_source):10.4f}")
  print()
  for side, seqs in sequences.items():
    start = time.perf_counter()
    accepted = sum(tokens.is_valid(s) for s in seqs)
    seconds = time.perf_counter() - start
    mean_len = sum(map(len, seqs)) / len(seqs)
    print(f"is_valid {side:6}: {accepted}/{len(seqs)} accepted, "
          f"{len(seqs) / seconds:,.0f} parses/s (mean {mean_len:.1f} tokens)")
  round_trip = sum(tokens.lex(tokens.render(s)) == s for s in sequences["fixed"])
  print(f"lex(render(t)) == t on fixed: {round_trip}/{len(sequences['fixed'])}")


if __name__ == "__main__":
  main()
