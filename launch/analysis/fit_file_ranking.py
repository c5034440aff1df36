"""Fits how repairs of whole files are ranked and how sure they are (issue 20, item 3):
repair_rank/assets/file_ranking.json and repair_rank/assets/file_confidence.json.

  PYTHONPATH=. .venv/bin/python launch/analysis/fit_file_ranking.py \
      --cache /tmp/file_slips.jsonl --write

(the shipped assets: the defaults, 120 files per kind, 840 in all; about 25 minutes on
one core to build the cache.)

Slips (`repair_rank.data.file_slips`, every kind) are put into files of the
running interpreter's standard library (never the benchmark's third-party
packages: launch/benchmarks/benchmark_real_files.py), `--per_kind` files per kind,
seed `--seed`. For each broken file the candidates that compile in the file
(`diagnosis.first_error_candidates`) are scored by the scorer of
configs/serve.py and written with their in-file features (hinted kind, lines
from the blamed line, token edits, a name split, the preferred layout, lines
touched, names unknown to the file added and left, words lost, the file's n-grams it
creates; the broken text and each candidate's edits, to try a new feature on the
cache) and whether each gives the
original's AST, one JSON line per file (`--cache`; an existing cache is read
instead of rebuilt).

The weights maximise the likelihood of the right candidate under a softmax
of the combined score (`file_ranking.FileRanking.combined`, linear in them, so
with one right candidate a file the objective is convex and L-BFGS finds its optimum) over the
files whose list holds it, on even-numbered files; the calibration
(`confidence.fit`, the top-1 likelihood and an isotonic map) is fitted on the
odd-numbered files, and both halves' top-1 and answers are printed. `--folds 3`
also prints the top-1 of a three-fold fit, each file ranked by weights that never
saw it.
"""
import argparse
import json
import pathlib
import random
import sys
import sysconfig

import numpy as np
from scipy import optimize

from repair_rank.data import file_slips
from repair_rank.ranking import confidence as confidence_lib
from repair_rank.ranking import evaluate
from repair_rank.repair import diagnosis
from repair_rank.repair import file_ranking

ROOT = pathlib.Path(__file__).resolve().parents[2]
MIN_LINES, MAX_LINES = 40, 1500
# Parts of the standard library that are not ordinary code (tests hold broken files).
_SKIP = ("test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "__pycache__")


def stdlib_files(stdlib: pathlib.Path) -> list[pathlib.Path]:
  out = []
  for path in sorted(stdlib.rglob("*.py")):
    if any(part in _SKIP for part in path.relative_to(stdlib).parts):
      continue
    try:
      text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
      continue
    if MIN_LINES <= text.count("\n") <= MAX_LINES and file_slips.compiles(text):
      out.append(path)
  return out


def load_scorer(model_path: str = ""):
  """configs/serve.py's scorer; `model_path`: another scorer bundle for it."""
  sys.path.insert(0, str(ROOT / "launch" / "benchmarks"))
  import benchmark_real_files  # pylint: disable=import-outside-toplevel
  from repair_rank.ranking import registry  # pylint: disable=import-outside-toplevel
  config = benchmark_real_files.load_serve_config()
  if model_path:
    config.model_path = model_path
  return registry.from_config(config)


def build_rows(files, per_kind: int, seed: int, score_fn, time_budget: float,
               kinds=file_slips.KINDS) -> list[dict]:
  """One row per broken file: the candidates' scores, features and rightness. Each kind
  draws its files with its own seed, so caches built for parts of `kinds` (`--kinds`, one
  process each) joined in `file_slips.KINDS` order are the cache of one run."""
  rows = []
  for kind in kinds:
    rng = random.Random(f"{seed}-{kind}")
    order = list(files)
    rng.shuffle(order)
    taken = 0
    for path in order:
      if taken == per_kind:
        break
      slip = file_slips.put_slip(path.read_text(encoding="utf-8"), kind, rng)
      if slip is None:
        continue
      found = diagnosis.first_error_candidates(slip.broken, time_budget=time_budget)
      if found is None:
        continue
      taken += 1
      error, candidates = found
      checked = candidates.checked
      scores = file_ranking.scores(checked, candidates.window.tokens, score_fn)
      rows.append({"kind": kind, "file": path.name, "message": error.message,
                   "scores": [float(x) for x in scores],
                   "hinted": [bool(c.hinted) for c in checked],
                   "offset_lines": [int(c.offset_lines) for c in checked],
                   "distance": [int(c.distance) for c in checked],
                   "split": [bool(c.split) for c in checked],
                   "preferred": [bool(c.preferred) for c in checked],
                   "extra_lines": [int(c.extra_lines) for c in checked],
                   "unknown_names": [int(c.unknown_names) for c in checked],
                   "unknown_left": [int(c.unknown_left) for c in checked],
                   "words_lost": [int(c.words_lost) for c in checked],
                   "familiar": [int(c.familiar) for c in checked],
                   # The text and edits, so a new feature can be tried on the cache.
                   "broken": slip.broken,
                   "edits": [[[e.start, e.end, e.text] for e in c.edits] for c in checked],
                   "right": [file_slips.same_ast(c.text, slip.original) for c in checked]})
      print(f"{kind:12s} {path.name:30s} {len(checked):4d} candidates, "
            f"right among them: {any(rows[-1]['right'])}", flush=True)
  return rows


class _Row:
  """`in_file.Checked`-like views of a row's candidates for `FileRanking.combined`."""

  def __init__(self, row: dict):
    self.scores = np.asarray(row["scores"], np.float64)
    self.checked = [_Candidate(*fields) for fields in zip(
        row["hinted"], row["offset_lines"], row["distance"], row["split"],
        row.get("preferred", [False] * len(row["scores"])),
        row.get("extra_lines", [0] * len(row["scores"])),
        row.get("unknown_names", [0] * len(row["scores"])),
        row.get("unknown_left", [0] * len(row["scores"])),
        row.get("words_lost", [0] * len(row["scores"])),
        row.get("familiar", [0] * len(row["scores"])))]
    self.right = np.asarray(row["right"], bool)


class _Candidate:
  def __init__(self, hinted, offset_lines, distance, split, preferred, extra_lines,
               unknown_names, unknown_left, words_lost, familiar):
    self.hinted, self.offset_lines, self.distance = hinted, offset_lines, distance
    self.split, self.preferred, self.extra_lines = split, preferred, extra_lines
    self.unknown_names, self.unknown_left = unknown_names, unknown_left
    self.words_lost, self.familiar = words_lost, familiar


THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9)
WEIGHTS = ("hint_weight", "line_weight", "distance_weight", "split_weight", "preferred_weight",
           "extra_lines_weight", "unknown_names_weight", "unknown_left_weight",
           "words_lost_weight", "familiar_weight")


def _ranking(params) -> file_ranking.FileRanking:
  return file_ranking.FileRanking(*[float(p) for p in params])


def _features(row: _Row) -> np.ndarray:
  """Each candidate's combined score is its scorer score plus this matrix times the
  weights (`FileRanking.combined` is linear in them): one column per weight."""
  columns = []
  for i in range(len(WEIGHTS)):
    ranking = file_ranking.FileRanking(*np.eye(len(WEIGHTS))[i])
    columns.append(ranking.combined(row.scores, row.checked) - row.scores)
  return np.stack(columns, axis=1) if len(row.scores) else np.zeros((0, len(WEIGHTS)))


def _nll_and_grad(params, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]):
  """The mean negative log likelihood of the best right candidate under a softmax of
  the combined scores, an L2 term, and their gradient."""
  total, grad = 0.0, np.zeros_like(params)
  for scores, features, right in rows:
    combined = scores + features @ params
    best = combined.max()
    weights = np.exp(combined - best)
    probabilities = weights / weights.sum()
    truth = np.flatnonzero(right)[np.argmax(combined[right])]
    total += best + np.log(weights.sum()) - combined[truth]
    grad += probabilities @ features - features[truth]
  n = max(len(rows), 1)
  return (total / n + 1e-3 * float(np.sum(np.square(params))),
          grad / n + 2e-3 * params)


def top1(ranking: file_ranking.FileRanking, rows: list[_Row]) -> float:
  hits = [bool(r.right[int(np.argmax(ranking.combined(r.scores, r.checked)))])
          for r in rows if len(r.scores)]
  return sum(hits) / max(len(rows), 1)


def scored_lists(ranking, rows: list[_Row]) -> list[confidence_lib.ScoredList]:
  out = []
  for row in rows:
    combined = ranking.combined(row.scores, row.checked) if len(row.scores) else np.zeros(0)
    truth = int(np.flatnonzero(row.right)[0]) if row.right.any() else None
    if truth is not None and len(combined):  # the best right one stands for the fix
      right = np.flatnonzero(row.right)
      truth = int(right[np.argmax(combined[right])])
    out.append(confidence_lib.ScoredList(combined, truth))
  return out


def answers(calibration, lists, threshold: float = 0.5) -> tuple[float, float]:
  tops = [calibration.top(item.scores) if len(item.scores) else None for item in lists]
  answered = [i for i, t in enumerate(tops) if t is not None and t >= threshold]
  right = [confidence_lib.top_is_truth(lists[i]) for i in answered]
  return len(answered) / len(lists), (sum(right) / len(right) if right else float("nan"))


def cross_validated(rows: list[_Row], kinds: list[str], folds: int) -> tuple[float, dict]:
  """Top-1 with the weights fitted on the other folds (file i in fold i % folds), and the
  wrong tops by kind (the right repair among the candidates, not first): every file
  ranked once, by weights that never saw it."""
  x0 = np.array([getattr(file_ranking.FileRanking(), name) for name in WEIGHTS])
  hits, wrong = 0, {kind: 0 for kind in file_slips.KINDS}
  for fold in range(folds):
    fit = [(r.scores, _features(r), r.right) for i, r in enumerate(rows)
           if i % folds != fold and r.right.any()]
    result = optimize.minimize(_nll_and_grad, x0, args=(fit,), jac=True, method="L-BFGS-B")
    ranking = _ranking(result.x)
    for i in range(fold, len(rows), folds):
      row = rows[i]
      right = bool(len(row.scores)) and bool(
          row.right[int(np.argmax(ranking.combined(row.scores, row.checked)))])
      hits += right
      wrong[kinds[i]] += not right and bool(row.right.any())
  return hits / max(len(rows), 1), wrong


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--per_kind", type=int, default=120)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--time_budget", type=float, default=2.0)
  parser.add_argument("--cache", default="", help="JSONL of the scored candidates")
  parser.add_argument("--stdlib", default=sysconfig.get_paths()["stdlib"])
  parser.add_argument("--write", action="store_true", help="write the two assets")
  parser.add_argument("--model_path", default="",
                      help="score with this scorer bundle (a candidate) instead of the bundled one")
  parser.add_argument("--folds", type=int, default=0,
                      help="also print the top-1 of a k-fold fit (k >= 2) and its wrong "
                           "tops by kind")
  parser.add_argument("--kinds", default=",".join(file_slips.KINDS),
                      help="build the cache for these slip kinds only (comma-separated): "
                           "two processes, two caches, joined in this order by `cat`")
  args = parser.parse_args()
  kinds = tuple(k for k in file_slips.KINDS if k in args.kinds.split(","))
  unknown = set(args.kinds.split(",")) - set(file_slips.KINDS)
  if unknown or not kinds:
    parser.error(f"--kinds: unknown {sorted(unknown)}; known: {','.join(file_slips.KINDS)}")
  cache = pathlib.Path(args.cache) if args.cache else None
  if cache is not None and cache.exists():
    raw = [json.loads(line) for line in cache.read_text().splitlines() if line.strip()]
  else:
    files = stdlib_files(pathlib.Path(args.stdlib))
    print(f"{len(files)} standard library files in the pool", flush=True)
    raw = build_rows(files, args.per_kind, args.seed, load_scorer(args.model_path),
                     args.time_budget, kinds)
    if cache is not None:
      cache.write_text("".join(json.dumps(row) + "\n" for row in raw))
  rows = [_Row(row) for row in raw]
  if args.folds >= 2:
    accuracy, wrong = cross_validated(rows, [row["kind"] for row in raw], args.folds)
    print(f"{args.folds}-fold top-1 {accuracy:.4f}; wrong tops by kind: {wrong}")
  fit_rows = [r for i, r in enumerate(rows) if i % 2 == 0]
  held = [r for i, r in enumerate(rows) if i % 2 == 1]
  with_right = [r for r in fit_rows if r.right.any()]
  start = file_ranking.FileRanking()
  x0 = np.array([getattr(start, name) for name in WEIGHTS])
  prepared = [(r.scores, _features(r), r.right) for r in with_right]
  result = optimize.minimize(_nll_and_grad, x0, args=(prepared,), jac=True, method="L-BFGS-B")
  ranking = _ranking(result.x)
  print(f"\n{len(rows)} files ({len(fit_rows)} fit, {len(held)} held out); right among the "
        f"candidates: {sum(r.right.any() for r in rows) / len(rows):.2f}")
  print("weights:", json.dumps(ranking.to_json()))
  for name, part in (("fit", fit_rows), ("held out", held)):
    print(f"top-1 on {name}: defaults {top1(start, part):.3f}, fitted {top1(ranking, part):.3f}")
  lists = scored_lists(ranking, held)
  calibration = confidence_lib.fit(
      lists, objective="top", isotonic=True,
      fitted_on={"data": f"slips in standard library files (odd-numbered of {len(rows)}), "
                 f"seed {args.seed}, {args.per_kind} per kind",
                 "scores": "file_ranking.json's combined scores", "objective": "top",
                 "isotonic": True})
  fit_lists = scored_lists(ranking, fit_rows)
  for name, part in (("fit half (not used by the calibration)", fit_lists),
                     ("calibration half", lists)):
    share, right = answers(calibration, part)
    print(f"{name}: answers {share:.0%}, right when answered {right:.2f}")
  # What a stricter --min_confidence buys, on every file.
  every = fit_lists + lists
  for threshold in THRESHOLDS:
    share, right = answers(calibration, every, threshold)
    print(f"all files, min_confidence {threshold:.2f}: answers {share:.0%}, "
          f"right when answered {right:.3f}")
  if args.write:
    ranking.save(file_ranking.DEFAULT_PATH)
    calibration.save(file_ranking.DEFAULT_CALIBRATION_PATH)
    print(f"wrote {file_ranking.DEFAULT_PATH} and {file_ranking.DEFAULT_CALIBRATION_PATH}")


if __name__ == "__main__":
  main()
