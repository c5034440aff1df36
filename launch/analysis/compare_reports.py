"""Prints report JSONs (from the baselines job) side by side as Markdown tables.

  python launch/analysis/compare_reports.py workdir/baselines/baselines/*.json \
      [--rows all d=1 d=2 d=3]

One table per view (ranking instances, the subset the generator found, end to
end); a row per report and per breakdown row; MRR and P@1/10/100.
"""
import argparse
import json
import pathlib

VIEW_TITLES = {
    "ranking": "ranking instances (truth inserted where the generator missed it)",
    "ranking_generated": "where the generator found the truth itself",
    "end_to_end": "end to end (a generator miss is no hit at any k)",
}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("reports", nargs="+")
  parser.add_argument("--rows", nargs="+", default=["all", "d=1", "d=2", "d=3"])
  args = parser.parse_args()
  reports = [(pathlib.Path(p).stem, json.loads(pathlib.Path(p).read_text())) for p in args.reports]
  for view, title in VIEW_TITLES.items():
    print(f"\n### {title}\n")
    print("| scorer | rows | n | MRR | P@1 | P@10 | P@100 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in args.rows:
      for name, report in reports:
        cell = report["views"][view].get(row)
        if cell is None or cell["n"] == 0:
          continue
        print(f"| {name} | {row} | {cell['n']} | {cell['mrr']:.3f} | {cell['p@1']:.3f} | "
              f"{cell['p@10']:.3f} | {cell['p@100']:.3f} |")


if __name__ == "__main__":
  main()
