"""Ranking instances (query, true repair, generator's candidates) and their two file formats.

JSONL (one object per line; token sequences as space-separated tokens):
  {"id": str, "query": str, "truth": str, "candidates": [str, ...], "distance": int,
   "parts": [[log_prob, channel], ...], "truth_parts": [log_prob, channel]}
The last two are optional: the first stage's prior, split into its parts (the
n-gram log-probability and the channel's summed edit log rates), per candidate
and for the truth, as the build computed them (cross-fitted on train, see
repair_rank.data.crossfit); without them, rankers compute the parts from the
bundled models.

The prototype's text format: blocks separated by a blank line; in each block
the charified query line, then the charified true-repair line, then the
charified candidate lines (best first). The prototype also listed the truth
among the candidates wherever the generator had found it, and so do we. Text
files carry no ids or distances: on reading, ids are "<file stem>-<block>"
(0-based) and the distance is recomputed as token Levenshtein query -> truth.
"""
import dataclasses
import functools
import pathlib
from typing import Iterable, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank.syntax import tokens
from repair_rank.data import jsonl
from repair_rank.data.jsonl import DataError

Tokens = tuple[str, ...]
FORMATS = ("jsonl", "text")


@dataclasses.dataclass(frozen=True)
class RankingInstance:
  """One broken query, its human repair and the generator's candidates, best first.

  `candidates` may or may not contain `truth`; `distance` is the token edit
  distance query -> truth.
  """
  id: str
  query: Tokens
  truth: Tokens
  candidates: tuple[Tokens, ...]
  distance: int
  # Optional (log_prob, channel) of each candidate and of the truth (see the module doc).
  parts: tuple[tuple[float, float], ...] | None = None
  truth_parts: tuple[float, float] | None = None

  @property
  def length(self) -> int:
    """Number of tokens in the query (the length buckets are over this)."""
    return len(self.query)

  @functools.cached_property
  def generated_rank(self) -> int | None:
    """Index of the truth among the candidates, or None if the generator missed it."""
    try:
      return self.candidates.index(self.truth)
    except ValueError:
      return None


def token_distance(a: Sequence[str], b: Sequence[str]) -> int:
  """Token-level Levenshtein distance."""
  return Levenshtein.distance(list(a), list(b))


# --- JSONL --------------------------------------------------------------------

_REQUIRED = {"id": str, "query": str, "truth": str, "candidates": list, "distance": int}
_PART_DIGITS = 4  # Decimals kept of stored prior parts (nats).


def read_jsonl(path: str | pathlib.Path) -> list[RankingInstance]:
  """Reads and validates ranking instances; anything malformed raises DataError at file:line."""
  out = []
  seen_ids: dict[str, int] = {}
  for number, record in jsonl.read_jsonl(path, required=_REQUIRED):
    where = f"{path}:{number}"
    distance = record["distance"]
    if isinstance(distance, bool) or distance < 0:
      raise DataError(f"{where}: field 'distance' must be a non-negative integer, got {distance!r}")
    if record["id"] in seen_ids:
      raise DataError(f"{where}: duplicate id {record['id']!r} "
                      f"(first on line {seen_ids[record['id']]})")
    seen_ids[record["id"]] = number
    query = _parse_tokens(record["query"], f"{where}: field 'query'")
    truth = _parse_tokens(record["truth"], f"{where}: field 'truth'")
    candidates = []
    for i, candidate in enumerate(record["candidates"]):
      field = f"{where}: field 'candidates'[{i}]"
      if not isinstance(candidate, str):
        raise DataError(f"{field} has type {type(candidate).__name__}, expected str")
      candidates.append(_parse_tokens(candidate, field))
    _check_distinct(candidates, where)
    parts, truth_parts = _parse_parts(record, len(candidates), where)
    out.append(RankingInstance(id=record["id"], query=query, truth=truth,
                               candidates=tuple(candidates), distance=distance,
                               parts=parts, truth_parts=truth_parts))
  if out and not any(inst.truth for inst in out):
    # One empty truth can be real (a fix that deletes everything); all of them is a broken
    # export, which used to train silently on nothing.
    raise DataError(f"{path}: every one of its {len(out)} instances has an empty truth "
                    "(\"truth\": \"\"); is it the right file?")
  return out


def _parse_parts(record: dict, count: int, where: str):
  """The optional prior parts of a record, checked for shape."""
  if "parts" not in record:
    return None, None
  parts, truth_parts = record["parts"], record.get("truth_parts")
  pair = lambda v: isinstance(v, list) and len(v) == 2 and all(
      isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
  if not isinstance(parts, list) or len(parts) != count or not all(map(pair, parts)):
    raise DataError(f"{where}: field 'parts' must hold one [log_prob, channel] pair "
                    f"per candidate ({count})")
  if not pair(truth_parts):
    raise DataError(f"{where}: field 'truth_parts' must be a [log_prob, channel] pair "
                    "when 'parts' is given")
  return tuple(tuple(map(float, p)) for p in parts), tuple(map(float, truth_parts))


def write_jsonl(path: str | pathlib.Path, instances: Iterable[RankingInstance]) -> None:
  """Writes instances as JSONL (atomically)."""
  jsonl.write_jsonl(path, [_record(inst) for inst in instances])


def _record(inst: RankingInstance) -> dict:
  record = {
      "id": inst.id,
      "query": " ".join(inst.query),
      "truth": " ".join(inst.truth),
      "candidates": [" ".join(c) for c in inst.candidates],
      "distance": inst.distance,
  }
  if inst.parts is not None:
    record["parts"] = [[round(x, _PART_DIGITS) for x in p] for p in inst.parts]
    record["truth_parts"] = [round(x, _PART_DIGITS) for x in inst.truth_parts]
  return record


def _parse_tokens(text: str, where: str) -> Tokens:
  sequence = tuple(text.split())
  try:
    tokens.check_tokens(sequence)
  except tokens.UnknownTokenError as e:
    raise DataError(f"{where}: {e}") from None
  return sequence


def _check_distinct(candidates: Sequence[Tokens], where: str) -> None:
  # A duplicated candidate (the truth especially) would silently distort ranks.
  if len(set(candidates)) != len(candidates):
    seen = set()
    for i, candidate in enumerate(candidates):
      if candidate in seen:
        raise DataError(f"{where}: candidate {i} duplicates an earlier candidate")
      seen.add(candidate)


# --- The prototype's text format ---------------------------------------------


def write_text(path: str | pathlib.Path, instances: Iterable[RankingInstance]) -> None:
  """Writes the prototype's charified block format (ids and distances are not stored).

  Raises ValueError for an empty token sequence, which this format cannot hold
  (it would read back as a block separator).
  """
  blocks = []
  for inst in instances:
    sequences = [inst.query, inst.truth, *inst.candidates]
    if any(not s for s in sequences):
      raise ValueError(f"instance {inst.id!r}: empty token sequences cannot be written as text")
    blocks.append("\n".join(tokens.charify(s) for s in sequences))
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text("".join(block + "\n\n" for block in blocks), encoding="utf-8")
  tmp.replace(path)


def read_text(path: str | pathlib.Path) -> list[RankingInstance]:
  """Reads the prototype's text format; bad characters raise DataError at file:line."""
  path = pathlib.Path(path)
  out = []
  block: list[tuple[int, Tokens]] = []

  def finish():
    if len(block) < 2:
      raise DataError(f"{path}:{block[0][0]}: block has a query but no true-repair line")
    query, truth = block[0][1], block[1][1]
    candidates = [seq for _, seq in block[2:]]
    _check_distinct(candidates, f"{path}:{block[0][0]}")
    out.append(RankingInstance(
        id=f"{path.stem}-{len(out)}", query=query, truth=truth,
        candidates=tuple(candidates), distance=token_distance(query, truth)))
    block.clear()

  with jsonl.open_text(path, "r") as f:
    for number, line in enumerate(f, start=1):
      line = line.rstrip("\r\n")
      if not line.strip():
        if block:
          finish()
        continue
      try:
        block.append((number, tuple(tokens.uncharify(line))))
      except tokens.UnknownTokenError as e:
        raise DataError(f"{path}:{number}: {e}") from None
  if block:
    finish()
  return out


# --- Either format ------------------------------------------------------------


def infer_format(path: str | pathlib.Path) -> str:
  """'jsonl' for a .jsonl (or .jsonl.gz) file, else 'text'."""
  name = pathlib.Path(path).name
  return "jsonl" if name.endswith((".jsonl", ".jsonl.gz")) else "text"


def read(path: str | pathlib.Path,
         format: str | None = None) -> list[RankingInstance]:  # pylint: disable=redefined-builtin
  """Reads instances in `format` ('jsonl' or 'text'; None: from the file suffix)."""
  format = format or infer_format(path)
  if format == "jsonl":
    return read_jsonl(path)
  if format == "text":
    return read_text(path)
  raise ValueError(f"unknown instance format {format!r}; expected one of {FORMATS}")


def write(path: str | pathlib.Path, instances: Iterable[RankingInstance],
          format: str | None = None) -> None:  # pylint: disable=redefined-builtin
  """Writes instances in `format` ('jsonl' or 'text'; None: from the file suffix)."""
  format = format or infer_format(path)
  if format == "jsonl":
    write_jsonl(path, instances)
  elif format == "text":
    write_text(path, instances)
  else:
    raise ValueError(f"unknown instance format {format!r}; expected one of {FORMATS}")
