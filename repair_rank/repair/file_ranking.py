"""How the repairs of a window of a file are ranked and how sure it is (issue 20, item 3).

The scorer ranks snippets; in a file there is more evidence. Each candidate
that compiles in the file (`in_file.Checked`) gets the scorer's score (a glued
name split apart read against the window with the name typed apart, `scores`) plus
`hint_weight` when its edit is of the kind Python's message names, minus
`line_weight` per line between the blamed line and its first edit (at most
three), minus `distance_weight` per token edit beyond the first, plus
`split_weight` for a glued name split apart (`line_edits`), plus
`preferred_weight` for the layout that keeps a line where it was (`indentation`),
minus `extra_lines_weight` per line the edits touch beyond the first (at most
three), minus `unknown_names_weight` per name the rest of the file never uses that
it adds (plus per one it removes), `unknown_left_weight` per such name left in the
lines it edits, and `words_lost_weight` per name, keyword, number
or string it deletes (`name_evidence`), plus `familiar_weight` per bigram or trigram
it creates that the rest of the file also holds (`local_ngrams`). Its confidence is a softmax over those scores with a "none of these"
option (`ranking.confidence.Calibration`), fitted on files of the standard
library with slips put in (`launch/analysis/fit_file_ranking.py`; never the
benchmark's packages), as the snippets' calibration is fitted on valid.

The weights ship as assets/file_ranking.json, the calibration as
assets/file_confidence.json (`Calibration`'s own format). They were
fitted with the bundled scorer: a scorer without a calibration of its own
(a baseline) gets no confidence for files either.
"""
import collections
import dataclasses
import json
import pathlib
from typing import Any, Optional, Sequence

import numpy as np

from repair_rank import paths
from repair_rank.ranking import confidence as confidence_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.repair import in_file

DEFAULT_PATH = paths.ASSETS_DIR / "file_ranking.json"
DEFAULT_CALIBRATION_PATH = paths.ASSETS_DIR / "file_confidence.json"
FORMAT = "repair_rank.file_ranking/1"
MAX_LINES = 3  # lines beyond this count no further against a candidate


@dataclasses.dataclass(frozen=True)
class FileRanking:
  hint_weight: float = 2.0  # added to a candidate of the hinted kind (score units)
  line_weight: float = 1.0  # taken per line between the blamed line and the first edit
  distance_weight: float = 0.0  # taken per token edit beyond the first
  split_weight: float = 1.0  # added to a glued name split (`line_edits.splits`)
  preferred_weight: float = 3.0  # added to the layout that keeps a line's place (`indentation`)
  extra_lines_weight: float = 0.0  # taken per line the edits touch beyond the first
  unknown_names_weight: float = 0.0  # taken per name unknown to the file it adds
  unknown_left_weight: float = 0.0  # taken per name unknown to the file it leaves
  words_lost_weight: float = 0.0  # taken per name, keyword, number or string it deletes
  familiar_weight: float = 0.0  # given per n-gram it creates that the file has elsewhere
  calibration: Optional[confidence_lib.Calibration] = None  # of the combined scores

  def to_json(self) -> dict[str, Any]:
    return {"format": FORMAT, "hint_weight": self.hint_weight, "line_weight": self.line_weight,
            "distance_weight": self.distance_weight, "split_weight": self.split_weight,
            "preferred_weight": self.preferred_weight,
            "extra_lines_weight": self.extra_lines_weight,
            "unknown_names_weight": self.unknown_names_weight,
            "unknown_left_weight": self.unknown_left_weight,
            "words_lost_weight": self.words_lost_weight,
            "familiar_weight": self.familiar_weight}

  def save(self, path: str | pathlib.Path,
           calibration_path: Optional[str | pathlib.Path] = None) -> None:
    pathlib.Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")
    if self.calibration is not None and calibration_path is not None:
      self.calibration.save(calibration_path)

  @classmethod
  def load(cls, path: str | pathlib.Path = DEFAULT_PATH,
           calibration_path: str | pathlib.Path = DEFAULT_CALIBRATION_PATH) -> "FileRanking":
    """The weights in `path` and the calibration in `calibration_path`; the defaults, and
    no calibration, for files that do not exist."""
    path, calibration_path = pathlib.Path(path), pathlib.Path(calibration_path)
    calibration = (confidence_lib.Calibration.load(calibration_path)
                   if calibration_path.exists() else None)
    if not path.exists():
      return cls(calibration=calibration)
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
      raise ValueError(f"{path}: field 'format' is {data.get('format')!r}, expected {FORMAT!r}")
    return cls(float(data["hint_weight"]), float(data["line_weight"]),
               float(data.get("distance_weight", 0.0)), float(data.get("split_weight", 0.0)),
               float(data.get("preferred_weight", 0.0)),
               float(data.get("extra_lines_weight", 0.0)),
               float(data.get("unknown_names_weight", 0.0)),
               float(data.get("unknown_left_weight", 0.0)),
               float(data.get("words_lost_weight", 0.0)),
               float(data.get("familiar_weight", 0.0)), calibration)

  def combined(self, scores: np.ndarray, checked: Sequence[in_file.Checked]) -> np.ndarray:
    hints = np.array([c.hinted for c in checked], np.float64)
    lines = np.array([min(c.offset_lines, MAX_LINES) for c in checked], np.float64)
    edits = np.array([max(c.distance - 1, 0) for c in checked], np.float64)
    splits = np.array([c.split for c in checked], np.float64)
    preferred = np.array([getattr(c, "preferred", False) for c in checked], np.float64)
    extra = np.array([min(getattr(c, "extra_lines", 0), MAX_LINES) for c in checked],
                     np.float64)
    unknown = np.array([getattr(c, "unknown_names", 0) for c in checked], np.float64)
    left = np.array([getattr(c, "unknown_left", 0) for c in checked], np.float64)
    lost = np.array([getattr(c, "words_lost", 0) for c in checked], np.float64)
    familiar = np.array([getattr(c, "familiar", 0) for c in checked], np.float64)
    return (scores + self.hint_weight * hints - self.line_weight * lines
            - self.distance_weight * edits + self.split_weight * splits
            + self.preferred_weight * preferred - self.extra_lines_weight * extra
            - self.unknown_names_weight * unknown - self.unknown_left_weight * left
            - self.words_lost_weight * lost + self.familiar_weight * familiar)


@dataclasses.dataclass(frozen=True)
class Ranked:
  checked: in_file.Checked
  score: float
  confidence: Optional[float]


def scores(checked: Sequence[in_file.Checked], window_tokens: Sequence[str],
           score_fn: evaluate.ScoreFn) -> np.ndarray:
  """The scorer's score of each candidate, read against the window's tokens or its own
  `query` (a glued name split apart: the window with the name typed apart), one call per
  query; every repair that changes only the layout (`in_file.Checked.layout`) gets the
  best such repair's.

  The scorer reads a re-indentation as INDENT, DEDENT and NEWLINE edits of the window,
  whose slipped line the lexer already read at one of the levels: it prefers the layout
  nearest that reading (on the standard library's slips, the wrong one of two equally
  near levels by 8-19 nats, or one that re-indents the next statements too), which says
  nothing of which level the author meant; the files' own evidence (the preferred layout,
  the lines touched) decides between them."""
  score = evaluate.as_score_fn(score_fn)
  by_query: dict[tuple[str, ...], list[int]] = collections.defaultdict(list)
  for i, c in enumerate(checked):
    by_query[tuple(window_tokens) if c.query is None else c.query].append(i)
  out = np.zeros(len(checked), np.float64)
  for query, indices in by_query.items():
    out[indices] = np.asarray(score(list(query), [list(checked[i].tokens) for i in indices]),
                              np.float64)
  layouts = [i for i, c in enumerate(checked) if c.layout]
  if layouts:
    out[layouts] = out[layouts].max()
  return out


def rank(checked: Sequence[in_file.Checked], window_tokens: Sequence[str],
         score_fn: evaluate.ScoreFn, ranking: FileRanking) -> list[Ranked]:
  """The checked candidates best first, with the combined score and confidence."""
  if not checked:
    return []
  combined = ranking.combined(scores(checked, window_tokens, score_fn), checked)
  own = confidence_lib.calibration_of(score_fn)
  # A scorer without a calibration gets none here either; with one, the files' own.
  calibration = None if own is None else ranking.calibration or own
  probabilities = None if calibration is None else calibration.probabilities(combined)
  return [Ranked(checked[i], float(combined[i]),
                 None if probabilities is None else float(probabilities[i]))
          for i in metrics.best_first(combined)]
