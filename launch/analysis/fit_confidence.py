"""Fits the confidence calibration of a scorer bundle on valid; measures it on test once.

  # compare the variants on valid (5-fold cross-validation), fit the chosen one on all of
  # valid and write it into the bundle (repair_rank/assets/scorer_default by default):
  .venv/bin/python launch/analysis/fit_confidence.py --write
  # the test set, once, end to end: reliability diagram, ECE, risk-coverage table
  .venv/bin/python launch/analysis/fit_confidence.py --test T/test.jsonl --out docs/figures

Lists are scored in generator order, end to end: where the generator missed the
human's fix the top repair is wrong and the label is "none of these"
(`repair_rank.ranking.confidence`). Valid is reweighted to test's mix of
distances x lengths (`evaluate.test_mix`, the same reweighting model selection
uses) unless an unweighted --variant is chosen. `--scores_cache DIR` keeps each
file's scores, so a rerun (or the test pass after the fit) does not score again.
"""
import argparse
import hashlib
import json
import pathlib
import sys

import numpy as np

from repair_rank.data import instances as instances_lib
from repair_rank.ranking import confidence
from repair_rank.ranking import registry
from repair_rank.ranking import scorer as scorer_lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
VALID = ROOT / "data" / "instances" / "valid_ranker.jsonl.gz"
FOLDS = 5
# Thresholds whose coverage and P@1 are printed: configs/repair.py's min_confidence (0.5)
# was chosen from them on valid (BENCHMARKS.md, "Confidence (issue 14)").
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def scored_lists(path: str, bundle: str, cache: str) -> list[confidence.ScoredList]:
  """Each instance's scores in generator order under the bundle's scorer (cached by file)."""
  cache_file = None
  if cache:
    key = hashlib.sha256(f"{pathlib.Path(path).resolve()}|{pathlib.Path(bundle).resolve()}"
                         .encode()).hexdigest()[:16]
    cache_file = pathlib.Path(cache) / f"scores-{key}.json"
    if cache_file.exists():
      rows = json.loads(cache_file.read_text())
      return [confidence.ScoredList(np.array(r["scores"]), r["truth"], r["distance"],
                                    r["length"]) for r in rows]
  out = confidence.score_lists(instances_lib.read(path), registry.get("model", path=bundle),
                                progress=True)
  if cache_file is not None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps([{"scores": item.scores.tolist(), "truth": item.truth,
                                       "distance": item.distance, "length": item.length}
                                      for item in out]))
  return out


VARIANTS = {
    "list likelihood, unweighted": dict(weighted=False, objective="list", isotonic=False),
    "list likelihood, test mix": dict(weighted=True, objective="list", isotonic=False),
    "list likelihood + isotonic, test mix": dict(weighted=True, objective="list", isotonic=True),
    "top likelihood, unweighted": dict(weighted=False, objective="top", isotonic=False),
    "top likelihood, test mix": dict(weighted=True, objective="top", isotonic=False),
    "top likelihood + isotonic, test mix": dict(weighted=True, objective="top", isotonic=True),
}


def cross_validate(items, weights) -> dict[str, dict]:
  """Each variant fitted on 4/5 of valid, measured (test-mix weighted) on the held-out fifth."""
  folds = np.random.default_rng(0).permutation(len(items)) % FOLDS
  rows = {}
  for name, variant in VARIANTS.items():
    held_tops, held_hits, held_weights = [], [], []
    for fold in range(FOLDS):
      train = [i for i in range(len(items)) if folds[i] != fold]
      test = [i for i in range(len(items)) if folds[i] == fold]
      calibration = confidence.fit([items[i] for i in train],
                                   weights[train] if variant["weighted"] else None,
                                   objective=variant["objective"], isotonic=variant["isotonic"])
      held_tops += [calibration.top(items[i].scores) or 0.0 for i in test]
      held_hits += [confidence.top_is_truth(items[i]) for i in test]
      held_weights += [weights[i] for i in test]
    tops, hits, w = np.array(held_tops), np.array(held_hits), np.array(held_weights)
    rows[name] = {
        "ece (test mix)": confidence.expected_calibration_error(tops, hits, weights=w),
        "ece (valid mix)": confidence.expected_calibration_error(tops, hits),
        "log_loss (test mix)": float(-(w @ (hits * np.log(tops + 1e-12)
                                             + (1 - hits) * np.log(1 - tops + 1e-12))) / w.sum()),
        "mean confidence (test mix)": float(w @ tops / w.sum()),
        "p@1 (test mix)": float(w @ hits / w.sum()),
    }
  return rows


def reliability_figure(tops, hits, path: pathlib.Path, title: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  rows = confidence.reliability(tops, hits)
  figure, (top_axis, count_axis) = plt.subplots(
      2, 1, figsize=(4.2, 5.0), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
  top_axis.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfectly calibrated")
  centers = [(r["low"] + r["high"]) / 2 for r in rows]
  top_axis.bar(centers, [r["accuracy"] for r in rows], width=0.09, alpha=0.7,
               label="P@1 in the bin")
  top_axis.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", c="k",
                ms=3, lw=1, label="(mean confidence, P@1)")
  top_axis.set_ylabel("top repair is the human's fix")
  top_axis.set_title(title, fontsize=9)
  top_axis.legend(fontsize=7, loc="upper left")
  count_axis.bar(centers, [r["n"] for r in rows], width=0.09, color="grey")
  count_axis.set_ylabel("queries")
  count_axis.set_xlabel("confidence of the top repair (10 equal-width bins)")
  count_axis.set_xlim(0, 1)
  figure.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  figure.savefig(path, dpi=90)
  plt.close(figure)


def print_table(rows: dict[str, dict], first: str) -> None:
  columns = list(next(iter(rows.values())))
  print(f"| {first} | " + " | ".join(columns) + " |")
  print("|---|" + "---:|" * len(columns))
  for name, row in rows.items():
    print(f"| {name} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                                      for v in row.values()) + " |")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--bundle", default=str(scorer_lib.DEFAULT_BUNDLE))
  parser.add_argument("--valid", default=str(VALID))
  parser.add_argument("--variant", default=confidence.SHIPPED_VARIANT,
                      choices=list(VARIANTS))
  parser.add_argument("--write", action="store_true", help="write the fit into the bundle")
  parser.add_argument("--test", default="", help="measure the bundle's calibration on these")
  parser.add_argument("--out", default="docs/figures", help="where the test figure goes")
  parser.add_argument("--scores_cache", default="")
  args = parser.parse_args()

  if args.test:
    calibration = scorer_lib.load_bundle(args.bundle).calibration
    if calibration is None:
      sys.exit(f"{args.bundle} has no calibration: fit it first (--write)")
    items = scored_lists(args.test, args.bundle, args.scores_cache)
    tops = np.array([calibration.top(item.scores) or 0.0 for item in items])
    hits = np.array([confidence.top_is_truth(item) for item in items])
    print(f"test: {len(items)} queries, truth listed in "
          f"{sum(item.truth is not None for item in items)}, P@1 {hits.mean():.3f}, mean "
          f"confidence {tops.mean():.3f}, ECE {confidence.expected_calibration_error(tops, hits):.3f}"
          f" ({confidence.ECE_BINS} equal-width bins)")
    print("\nreliability (test):")
    print_table({f"{r['low']:.1f}-{r['high']:.1f}": {k: r[k] for k in ("n", "confidence",
                                                                         "accuracy")}
                 for r in confidence.reliability(tops, hits)}, "bin")
    print("\nrisk-coverage (test):")
    print_table({f"{r['coverage']:.0%}": {k: r[k] for k in ("n", "p@1", "min_confidence")}
                 for r in confidence.risk_coverage(tops, hits)}, "coverage")
    print("\nthresholds (test):")
    print_table({f"{t:.1f}": confidence.at_threshold(tops, hits, t) for t in THRESHOLDS},
                "min_confidence")
    figure = pathlib.Path(args.out) / "confidence_reliability_test.png"
    reliability_figure(tops, hits, figure,
                       f"test, end to end ({len(items)} queries): ECE "
                       f"{confidence.expected_calibration_error(tops, hits):.3f}")
    print(f"\n-> {figure}")
    return

  items = scored_lists(args.valid, args.bundle, args.scores_cache)
  weights = confidence.test_mix_weights(items)
  hits = np.array([confidence.top_is_truth(item) for item in items])
  print(f"valid: {len(items)} queries, truth listed in "
        f"{sum(item.truth is not None for item in items)}, P@1 {hits.mean():.3f} "
        f"(test mix {weights @ hits:.3f})")
  print(f"\n{FOLDS}-fold cross-validation on valid (held-out folds; 10 equal-width bins):")
  print_table(cross_validate(items, weights), "variant")
  fitted_on = {"instances": pathlib.Path(args.valid).name, "queries": len(items),
               "command": "launch/analysis/fit_confidence.py --write"}
  if args.variant == confidence.SHIPPED_VARIANT:  # what the finetune job fits, too
    calibration = confidence.fit_shipped(items, fitted_on=fitted_on)
  else:
    variant = VARIANTS[args.variant]
    calibration = confidence.fit(
        items, weights if variant["weighted"] else None, objective=variant["objective"],
        isotonic=variant["isotonic"], fitted_on={
            **fitted_on, "variant": args.variant,
            "weights": "test mix of distance x length" if variant["weighted"] else "none"})
  print(f"\nfitted on all of valid ({args.variant}): temperature {calibration.temperature:.4f}, "
        f"none logit {calibration.none_logit:.4f}")
  tops = np.array([calibration.top(item.scores) or 0.0 for item in items])
  print("\nthresholds on valid (in-sample; coverage and P@1 weighted to test's mix):")
  print_table({f"{t:.1f}": confidence.at_threshold(tops, hits, t, weights) for t in THRESHOLDS},
              "min_confidence")
  print("\nrisk-coverage on valid (in-sample, unweighted):")
  print_table({f"{r['coverage']:.0%}": {k: r[k] for k in ("n", "p@1", "min_confidence")}
               for r in confidence.risk_coverage(tops, hits)}, "coverage")
  if args.write:
    print(f"\n-> {scorer_lib.save_calibration(args.bundle, calibration)}")


if __name__ == "__main__":
  main()
