"""Time and peak RSS of the repair command on broken files of a given size.

  nice -n 15 prlimit --as=4000000000 .venv/bin/python \
      launch/benchmarks/benchmark_repair_file.py 5000000 1

The file is repair_rank/repair/command.py repeated to SIZE bytes, with ERRORS
statements broken (a ')' dropped), spread evenly; scored with markov_channel.
Run one size per process: peak RSS is the process's.
"""
import resource
import sys
import time

from repair_rank.ranking import registry
from repair_rank.repair import command
from repair_rank.syntax import tokens


def broken_file(size: int, errors: int) -> str:
  unit = open("repair_rank/repair/command.py", encoding="utf-8").read()
  unit = unit[unit.index("\nimport ") + 1:]  # a cut docstring would be one unterminated STRING
  source = (unit * (size // len(unit) + 1))[:size]
  lines = source[:source.rfind("\n") + 1].split("\n")
  targets = [i for i, line in enumerate(lines) if line.rstrip().endswith(")")]
  for j in range(errors):
    i = targets[(j + 1) * len(targets) // (errors + 1)]
    lines[i] = lines[i].rstrip()[:-1]
  return "\n".join(lines)


def main(size: int, errors: int) -> None:
  source = broken_file(size, errors)
  score = registry.get("markov_channel")
  start = time.monotonic()
  tokens.lex(source)
  lex_s = time.monotonic() - start
  start = time.monotonic()
  out = command.repair_source(source, score, top_k=3, max_distance=3, time_budget=1.0)
  seconds = time.monotonic() - start
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  verdict = "parses" if out.rstrip().endswith("the whole file parses.") else "does not parse"
  print(f"{len(source)} bytes, {errors} errors: repair {seconds:.2f} s (lex alone {lex_s:.2f} s), "
        f"peak RSS {rss:.0f} MB, with the repairs the file {verdict}")


if __name__ == "__main__":
  main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)
