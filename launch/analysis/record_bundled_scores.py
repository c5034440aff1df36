"""Re-records tests/fixtures/bundled_scores.json after a new scorer is bundled.

  .venv/bin/python launch/analysis/record_bundled_scores.py

Keeps the fixture's queries and candidates and writes what the bundled model
(`repair_rank.scorer.load()`) now scores on them, float32 as float.hex(), so
tests/test_bundled_scores.py pins the new bundle to the last bit. Run it only
when the bundle is meant to change; any other change to its scores is a bug.
"""
import json
import pathlib
import subprocess

import numpy as np

from repair_rank import scorer

FIXTURE = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "bundled_scores.json"


def main():
  data = json.loads(FIXTURE.read_text())
  model = scorer.load()
  for case in data["cases"]:
    scores = np.asarray(model.score(case["query"].split(),
                                    [c.split() for c in case["candidates"]]), dtype=np.float32)
    case["scores_hex"] = [float(s).hex() for s in scores]
  commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=FIXTURE.parent, check=False).stdout.strip()
  data["note"] = ("repair_rank.scorer.load().score(query, candidates) of the bundled model, "
                  "float32 values as float.hex(); recorded by "
                  "launch/analysis/record_bundled_scores.py "
                  f"when the bundle changed (on top of {commit or 'an unknown commit'})")
  FIXTURE.write_text(json.dumps(data, indent=1) + "\n")
  print(f"{len(data['cases'])} cases -> {FIXTURE}")


if __name__ == "__main__":
  main()
