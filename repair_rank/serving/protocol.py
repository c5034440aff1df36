"""The endpoint's request protocol: parsing `/rerank` and `/rerank.json` bodies, request limits.

  POST /rerank       text/plain: the first line is the query, each following line one
                     candidate, as space-separated tokens or charified (per line: a line
                     with whitespace, or a multi-character token name such as `NAME`, is
                     tokens; otherwise charified). Answer: the candidate lines as sent,
                     best first, text/plain.
  POST /rerank.json  JSON {"query": q, "candidates": [c, ...]}, each a line as above or a
                     list of tokens; a candidate may be empty ("" or []), as in-process
                     (the text protocol has no empty candidate line). Answer: {"scores": [...], "order": [...]}, `order`
                     being candidate indices best first.
  POST /repair.json  JSON {"source": "<Python that does not parse>", "top_k": 5}: the first
                     syntax error and the best repairs as text (`repair_answer`). A source
                     that is empty, already parses, is not a string or is over
                     `max_source_bytes` gets a 4xx.

Every bad request is a `RequestError` carrying its 4xx status and a one-line message.
"""
import dataclasses
import json
from typing import Any, Optional

import ml_collections

from repair_rank.repair import diagnosis as diagnosis_lib
from repair_rank.repair import ranked
from repair_rank.repair import source_text
from repair_rank.syntax import tokens as tokens_lib

# Longest token name ("continue", "nonlocal") plus a separator: a line longer than
# this many characters per allowed token is rejected before it is split.
_MAX_CHARS_PER_TOKEN = 10


@dataclasses.dataclass(frozen=True)
class Limits:
  """What one request may hold; beyond it the server answers 4xx."""
  max_body_bytes: int = 4 << 20
  max_candidates: int = 2000
  max_tokens_per_line: int = 1024
  request_timeout_s: float = 10.0
  idle_timeout_s: float = 10.0
  max_source_bytes: int = 256 << 10
  max_top_k: int = 20

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Limits":
    return cls(max_body_bytes=int(config.max_body_bytes),
               max_candidates=int(config.max_candidates),
               max_tokens_per_line=int(config.max_tokens_per_line),
               request_timeout_s=float(config.request_timeout_s),
               idle_timeout_s=float(config.get("idle_timeout_s", 10.0)),
               max_source_bytes=int(config.get("max_source_bytes", 256 << 10)),
               max_top_k=int(config.get("max_top_k", 20)))


class RequestError(Exception):
  """A bad request: answered with `status` (4xx) and `message`."""

  def __init__(self, status: int, message: str, headers: Optional[dict[str, str]] = None):
    super().__init__(message)
    self.status = status
    self.message = message
    self.headers = headers or {}


def parse_line(line: str, limits: Limits, where: str) -> list[str]:
  """The tokens of one protocol line (space-separated tokens, or charified)."""
  text = line.strip()
  if not text:
    raise RequestError(400, f"{where} is empty")
  if len(text) > _MAX_CHARS_PER_TOKEN * limits.max_tokens_per_line:
    raise RequestError(413, f"{where} has {len(text)} characters, over the limit of "
                       f"{limits.max_tokens_per_line} tokens (max_tokens_per_line)")
  as_tokens = (any(c.isspace() for c in text)
               or (len(text) > 1 and text in tokens_lib.TOKEN_TO_CHAR))
  try:
    if as_tokens:
      sequence = text.split()
      tokens_lib.check_tokens(sequence)
    else:
      sequence = tokens_lib.uncharify(text)
  except tokens_lib.UnknownTokenError as e:
    form = "space-separated tokens" if as_tokens else "charified (no spaces)"
    raise RequestError(400, f"{where}, read as {form}: {e}") from None
  if len(sequence) > limits.max_tokens_per_line:
    raise RequestError(413, f"{where} has {len(sequence)} tokens, over the limit of "
                       f"{limits.max_tokens_per_line} (max_tokens_per_line)")
  return sequence


def _check_count(n_candidates: int, limits: Limits) -> None:
  if n_candidates == 0:
    raise RequestError(400, "a query without candidates: send at least one candidate")
  if n_candidates > limits.max_candidates:
    raise RequestError(413, f"{n_candidates} candidates, over the limit of "
                       f"{limits.max_candidates} (max_candidates)")


def _decode(body: bytes) -> str:
  try:
    return body.decode("utf-8")
  except UnicodeDecodeError as e:
    raise RequestError(400, f"body is not UTF-8 (byte {e.start}: {e.reason})") from None


def parse_text_request(body: bytes, limits: Limits
                       ) -> tuple[list[str], list[list[str]], list[str]]:
  """(query tokens, candidate token lists, candidate lines as sent) of a /rerank body."""
  text = _decode(body)
  lines = [line.strip() for line in text.rstrip().split("\n")]
  if not lines[0]:
    raise RequestError(400, "empty body: expected a query line, then one candidate per line")
  _check_count(len(lines) - 1, limits)
  query = parse_line(lines[0], limits, "line 1 (the query)")
  candidates = [parse_line(line, limits, f"line {number}")
                for number, line in enumerate(lines[1:], start=2)]
  return query, candidates, lines[1:]


def _json_sequence(value: Any, limits: Limits, where: str, may_be_empty: bool = False
                   ) -> list[str]:
  if may_be_empty and value in ("", []):
    return []  # an empty candidate (delete everything), scored as in-process
  if isinstance(value, str):
    return parse_line(value, limits, where)
  if isinstance(value, list) and all(isinstance(t, str) for t in value):
    if not value:
      raise RequestError(400, f"{where} is empty")
    if len(value) > limits.max_tokens_per_line:
      raise RequestError(413, f"{where} has {len(value)} tokens, over the limit of "
                         f"{limits.max_tokens_per_line} (max_tokens_per_line)")
    try:
      tokens_lib.check_tokens(value)
    except tokens_lib.UnknownTokenError as e:
      raise RequestError(400, f"{where}: {e}") from None
    return list(value)
  raise RequestError(400, f"{where} must be a string or a list of token strings")


def _json_body(body: bytes, expected: str) -> Any:
  """The JSON value of a UTF-8 body; 400 naming the `expected` shape if there is none."""
  text = _decode(body)
  if not text.strip():
    raise RequestError(400, f"empty body: expected {expected}")
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    raise RequestError(400, f"body is not JSON: {e}") from None
  except RecursionError:
    raise RequestError(400, "body is JSON nested too deeply") from None
  except ValueError as e:  # e.g. an integer of more than 4300 digits
    raise RequestError(400, f"body is not usable JSON: {e}") from None


def parse_json_request(body: bytes, limits: Limits) -> tuple[list[str], list[list[str]]]:
  """(query tokens, candidate token lists) of a /rerank.json body."""
  request = _json_body(body, '{"query": ..., "candidates": [...]}')
  if not isinstance(request, dict) or "query" not in request or "candidates" not in request:
    raise RequestError(400, 'expected a JSON object {"query": ..., "candidates": [...]}')
  candidates = request["candidates"]
  if not isinstance(candidates, list):
    raise RequestError(400, "'candidates' must be a list")
  _check_count(len(candidates), limits)
  query = _json_sequence(request["query"], limits, "'query'")
  return query, [_json_sequence(c, limits, f"'candidates'[{i}]", may_be_empty=True)
                 for i, c in enumerate(candidates)]


def parse_repair_request(body: bytes, limits: Limits) -> tuple[str, int]:
  """(source, top_k) of a /repair.json body; top_k defaults to 5."""
  request = _json_body(body, '{"source": "...", "top_k": 5}')
  if not isinstance(request, dict) or "source" not in request:
    raise RequestError(400, 'expected a JSON object {"source": "...", "top_k": 5}')
  source, top_k = request["source"], request.get("top_k", 5)
  if not isinstance(source, str):
    raise RequestError(400, "'source' must be a string of Python source")
  if not source.strip():
    raise RequestError(400, "'source' is empty: paste the Python that does not parse")
  try:
    size = len(source.encode("utf-8"))
  except UnicodeEncodeError as e:  # JSON may spell a lone surrogate ("\ud800"): no text
    raise RequestError(400, f"'source' holds a lone surrogate ({source[e.start]!r} at "
                       f"character {e.start}), which is not text: send the source as "
                       "UTF-8 text") from None
  if size > limits.max_source_bytes:
    raise RequestError(413, f"'source' of {size} bytes is over the limit of "
                       f"{limits.max_source_bytes} (max_source_bytes)")
  if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= limits.max_top_k:
    raise RequestError(400, f"'top_k' must be an integer from 1 to {limits.max_top_k} (max_top_k)")
  return source, top_k


def repair_answer(diagnosis: diagnosis_lib.Diagnosis, source: str) -> dict[str, Any]:
  """The /repair.json answer for a `diagnosis.Diagnosis` of `source`.

  {"status", "message", "line", "column" (1-based; null where Python names none),
   "repairs": [{"text": the whole repaired source (in the source's line ending), "segments": [[kind, text], ...] the
   source with each edit marked (kind "keep", "delete" or "insert"), "edits":
   [{"start", "end", "text"}] (character offsets of the source, newlines as \\n),
   "description", "score", "distance", "confidence" (null where the scorer gives none)}],
   "errors": [{"status", "message", "line", "column", "description", "confidence"}]: the
   first error and each after it (`diagnosis.diagnose`'s max_errors)}
  """
  text = source_text.normalize_newlines(source)
  ending = source_text.line_ending(source)  # `text` comes back in the source's own
  repairs = []
  for fix in diagnosis.fixes:
    segments, cursor = [], 0
    for edit in sorted(fix.edits, key=lambda e: (e.start, e.end)):
      segments += [["keep", text[cursor:edit.start]],
                   ["delete", text[max(cursor, edit.start):edit.end]], ["insert", edit.text]]
      cursor = max(cursor, edit.end)
    segments.append(["keep", text[cursor:]])
    confidence = ranked.confidence_of(fix.repair)
    repairs.append({
        "text": fix.text.replace("\n", ending),
        "segments": [segment for segment in segments if segment[1]],
        "edits": [{"start": e.start, "end": e.end, "text": e.text} for e in fix.edits],
        "description": fix.description,
        "score": float(fix.repair.score),
        "distance": int(fix.repair.distance),
        "confidence": confidence})
  return {"status": diagnosis.status, "message": diagnosis.message,
          "line": None if diagnosis.line is None else diagnosis.line + 1,
          "column": None if diagnosis.column is None else diagnosis.column + 1,
          "repairs": repairs,
          # Every error found (the first, then each after the top repairs of those before;
          # the serve config's max_errors), lines as in the source.
          "errors": [_error_entry(d) for d in (diagnosis,) + tuple(diagnosis.errors)]}


def _error_entry(diagnosis: diagnosis_lib.Diagnosis) -> dict[str, Any]:
  top = diagnosis.fixes[0] if diagnosis.fixes else None
  return {"status": diagnosis.status, "message": diagnosis.message,
          "line": None if diagnosis.line is None else diagnosis.line + 1,
          "column": None if diagnosis.column is None else diagnosis.column + 1,
          "description": None if top is None else top.description,
          "confidence": None if top is None else ranked.confidence_of(top.repair)}
