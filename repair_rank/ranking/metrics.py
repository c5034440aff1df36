"""Ranking metrics: the truth's rank, MRR and P@k, broken down by distance and length.

Ties count against the truth (pessimistic), so a scorer that cannot tell the
candidates apart gains nothing from where the truth happens to sit in the list.
"""
import dataclasses
import json
import math
import pathlib
from typing import Any, Iterable, Sequence

import numpy as np

# P@k is reported for these k.
KS = (1, 10, 100)
# Width of the query-length buckets, in tokens.
LENGTH_BUCKET = 10


@dataclasses.dataclass(frozen=True)
class QueryResult:
  """Where the truth ranked for one ranking instance.

  Attributes:
    id: the instance id.
    distance: token edit distance query -> truth.
    length: number of tokens in the query.
    rank: 0-based rank of the truth, or None if it was not among the
      candidates (an end-to-end miss).
    generated: whether the candidate generator found the truth on its own.
    n_candidates: number of candidates the scorer ranked.
  """
  id: str
  distance: int
  length: int
  rank: int | None
  generated: bool
  n_candidates: int


def rank_of_truth(scores: Sequence[float] | np.ndarray, truth_index: int) -> int:
  """0-based rank of `scores[truth_index]`, counting ties against the truth.

  The rank is the number of other candidates whose score is >= the truth's, so
  if all scores tie the truth ranks last. A NaN score beats the truth (and a
  NaN truth loses to everything): a broken scorer must not look good.
  """
  scores = np.asarray(scores, dtype=np.float64)
  if scores.ndim != 1:
    raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
  if not 0 <= truth_index < len(scores):
    raise ValueError(f"truth_index {truth_index} out of range for {len(scores)} scores")
  truth = scores[truth_index]
  others = np.delete(scores, truth_index)
  if np.isnan(truth):
    return len(others)
  return int(np.count_nonzero((others >= truth) | np.isnan(others)))


def best_first(scores: np.ndarray) -> np.ndarray:
  """Candidate indices by decreasing score; ties keep input order, NaN last."""
  scores = np.asarray(scores, dtype=np.float64)
  keys = np.where(np.isnan(scores), np.inf, -scores)
  return np.argsort(keys, kind="stable")


def summarize(ranks: Iterable[int | None]) -> dict[str, Any]:
  """n, MRR and P@k over ranks; a None rank (a miss) scores 0 everywhere.

  With no ranks the metrics are None (JSON null) rather than NaN.
  """
  ranks = list(ranks)
  n = len(ranks)
  row: dict[str, Any] = {"n": n}
  if n == 0:
    row["mrr"] = None
    row.update({f"p@{k}": None for k in KS})
    return row
  row["mrr"] = sum(1.0 / (r + 1) for r in ranks if r is not None) / n
  for k in KS:
    row[f"p@{k}"] = sum(1 for r in ranks if r is not None and r < k) / n
  return row


def length_bucket(length: int) -> str:
  """The 10-token bucket label of a query length, e.g. 'len 10-19'."""
  low = (length // LENGTH_BUCKET) * LENGTH_BUCKET
  return f"len {low}-{low + LENGTH_BUCKET - 1}"


def report(results: Sequence[QueryResult]) -> dict[str, dict[str, Any]]:
  """Metric rows keyed 'all', 'd=1', 'd=2', ..., 'len 0-9', ... (JSON-serialisable).

  Rows appear only for distances and length buckets that occur, in numeric
  order; each row is `summarize` of its queries.
  """
  rows = {"all": summarize(r.rank for r in results)}
  for distance in sorted({r.distance for r in results}):
    rows[f"d={distance}"] = summarize(r.rank for r in results if r.distance == distance)
  for low in sorted({r.length // LENGTH_BUCKET for r in results}):
    rows[length_bucket(low * LENGTH_BUCKET)] = summarize(
        r.rank for r in results if r.length // LENGTH_BUCKET == low)
  return rows


Cell = tuple[int, int]  # (distance, length // LENGTH_BUCKET)


def cell(distance: int, length: int) -> Cell:
  """The (distance, length bucket) cell of a query, the unit of `composition`."""
  return distance, length // LENGTH_BUCKET


def composition(cells: Iterable[Cell]) -> dict[Cell, float]:
  """The share of each (distance, length bucket) cell among `cells`."""
  counts: dict[Cell, int] = {}
  for key in cells:
    counts[key] = counts.get(key, 0) + 1
  total = sum(counts.values())
  return {key: n / total for key, n in counts.items()}


def mix_weights(cells: Sequence[Cell], target: dict[Cell, float]) -> np.ndarray:
  """Per-item weights, target share / the item's cell's count (0 outside `target`): a set
  weighted so reads as if it had the target's mix of cells (not normalised)."""
  counts: dict[Cell, int] = {}
  for c in cells:
    counts[c] = counts.get(c, 0) + 1
  return np.array([target.get(c, 0.0) / counts[c] for c in cells], dtype=np.float64)


def balanced_summary(results: Sequence[QueryResult], target: dict[Cell, float]
                     ) -> dict[str, Any]:
  """MRR and P@k with queries reweighted to the `target` mix of cells.

  Each query weighs target share / its own cell's count, so a set whose mix of
  distances and lengths differs from the target's (valid: 54% distance 1;
  test: balanced) is scored as if it had the target's. Cells absent from
  `results` drop out and the remaining weights are renormalised.
  """
  weights = mix_weights([cell(r.distance, r.length) for r in results], target)
  row: dict[str, Any] = {"n": len(results)}
  if not len(results) or weights.sum() == 0:
    row.update({"mrr": None, **{f"p@{k}": None for k in KS}})
    return row
  weights = weights / weights.sum()
  reciprocal = np.array([0.0 if r.rank is None else 1.0 / (r.rank + 1) for r in results])
  row["mrr"] = float(weights @ reciprocal)
  for k in KS:
    row[f"p@{k}"] = float(weights @ np.array([r.rank is not None and r.rank < k
                                              for r in results], np.float64))
  return row


def format_table(rows: dict[str, dict[str, Any]], title: str | None = None) -> str:
  """A fixed-width text table of `report` rows: n, MRR, P@1, P@10, P@100."""
  columns = ["mrr"] + [f"p@{k}" for k in KS]
  label_width = max([len("subset")] + [len(label) for label in rows])
  header = f"{'subset':<{label_width}} {'n':>6} " + " ".join(f"{c.upper():>6}" for c in columns)
  lines = [title] if title else []
  lines += [header, "-" * len(header)]
  for label, row in rows.items():
    cells = " ".join(_cell(row[c]) for c in columns)
    lines.append(f"{label:<{label_width}} {row['n']:>6} {cells}")
  return "\n".join(lines)


def save_report(path: str | pathlib.Path, data: dict[str, Any]) -> None:
  """Writes a report (or a dict of reports) as indented JSON, creating parent dirs."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
  tmp.replace(path)


def _cell(value: float | None) -> str:
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return f"{'-':>6}"
  return f"{value:>6.3f}"
