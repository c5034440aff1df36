"""The top-k repairs of a broken Python file, edits highlighted (the repair job's library).

The file is lexed (`tokens.lex`), candidates generated (`candidates.generate`)
and scored (the configured scorer, or a running endpoint), and each of the best
`top_k` is printed as readable Python: the candidate is laid out by
`tokens.render(pretty=True)`, and every token the repair kept from the file gets
its original text back (names, numbers, strings), found by aligning the
candidate to the file's tokens with Levenshtein opcodes. Inserted tokens show
as `[+tok]` and deleted ones as `[-tok]`, or in colour on a terminal; inserted
names, numbers and strings appear as the placeholders x, 1 and 's'. Characters
the lexer skips because they are in no Python token (`×`, curly quotes, `$`)
are in no repair either: they show as deletions and the listing names them.

Each repair carries its confidence, the calibrated probability that it is the
human's fix (`repair_rank.ranking.confidence`; None when the scorer has no
calibration). With `min_confidence` > 0 the command abstains when the best
repair's confidence is below it: it says so instead of listing repairs.
"""
import ast
import dataclasses
import pathlib
import re
import sys
from typing import Optional, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from repair_rank.generator import search
from repair_rank.ranking import confidence as confidence_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.syntax import regions
from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT
STYLES = ("plain", "markers", "ansi")
_ANSI_INSERT, _ANSI_DELETE, _ANSI_RESET = "\x1b[1;32m", "\x1b[9;31m", "\x1b[0m"


class RepairError(ValueError):
  """Bad input to the repair command (missing file, not UTF-8, ...)."""


# --- Source text of each token ------------------------------------------------
# `tokens.lex_lexemes` gives each token's text and position; layout tokens
# (NEWLINE, INDENT, DEDENT) have no text of their own.


@dataclasses.dataclass(frozen=True)
class ScannedToken:
  """A non-layout token with its source text and 0-based character offset."""
  token: str
  text: str
  offset: int


def scan(source: str) -> list[ScannedToken]:
  """The non-layout tokens of `source` with their texts and character offsets."""
  text = source.replace("\r\n", "\n").replace("\r", "\n")
  line_starts = [0]
  for line in text.split("\n"):
    line_starts.append(line_starts[-1] + len(line) + 1)
  return [ScannedToken(lexeme.token, lexeme.text, line_starts[lexeme.line - 1] + lexeme.column)
          for lexeme in tokens_lib.lex_lexemes(text) if lexeme.token not in LAYOUT]


def token_texts(source: str, tokens: Optional[Sequence[str]] = None
                ) -> tuple[list[Optional[str]], list[int]]:
  """(source text, 1-based line) of each token of `lex(source)`.

  The text is None for layout tokens and wherever the re-scan disagrees with
  `lex`; a layout token gets the line of the token before it.
  """
  tokens = tokens_lib.lex(source) if tokens is None else list(tokens)
  scanned = scan(source)
  normalized = source.replace("\r\n", "\n").replace("\r", "\n")
  positions = [i for i, tok in enumerate(tokens) if tok not in LAYOUT]
  texts: list[Optional[str]] = [None] * len(tokens)
  offsets: list[Optional[int]] = [None] * len(tokens)
  kinds = [tokens[i] for i in positions]
  scanned_kinds = [s.token for s in scanned]
  if kinds == scanned_kinds:
    pairs = zip(positions, scanned)
  else:
    pairs = []
    for op in Levenshtein.opcodes(kinds, scanned_kinds):
      if op.tag == "equal":
        pairs += zip(positions[op.src_start:op.src_end], scanned[op.dest_start:op.dest_end])
  for i, token in pairs:
    texts[i], offsets[i] = token.text, token.offset
  lines, line = [], 1
  for offset in offsets:
    if offset is not None:
      line = normalized.count("\n", 0, offset) + 1
    lines.append(line)
  return texts, lines


@dataclasses.dataclass(frozen=True)
class Dropped:
  """Characters of the source in no token (outside Python's grammar): `text` on 1-based
  `line`, just before token `before` of `lex(source)` (len(tokens) at the end)."""
  before: int
  line: int
  text: str


_COMMENT_OR_CONTINUATION = re.compile(r"#[^\n]*|\\(?=\n|$)")


def dropped_characters(source: str) -> list[Dropped]:
  """Each run of characters `tokens.lex` skipped: not whitespace, a comment or a line
  continuation, yet in no token, so no repair can keep them."""
  text = source.replace("\r\n", "\n").replace("\r", "\n")
  line_starts = [0]
  for line in text.split("\n"):
    line_starts.append(line_starts[-1] + len(line) + 1)
  out, previous_end = [], 0

  def runs_in(start: int, end: int, before: int) -> None:
    gap = _COMMENT_OR_CONTINUATION.sub(lambda m: " " * len(m.group()), text[start:end])
    for match in re.finditer(r"\S+", gap):
      line = text.count("\n", 0, start + match.start()) + 1
      out.append(Dropped(before, line, match.group()))

  lexemes = tokens_lib.lex_lexemes(text)
  for index, lexeme in enumerate(lexemes):
    if lexeme.token in LAYOUT:
      continue
    start = line_starts[lexeme.line - 1] + lexeme.column
    runs_in(previous_end, start, index)
    previous_end = start + len(lexeme.text)
  runs_in(previous_end, len(text), len(lexemes))
  return out


def describe_dropped(dropped: Sequence[Dropped]) -> str:
  """E.g. "line 1: drop '×' (U+00D7; not Python)"."""
  def name(text: str) -> str:
    codes = ", ".join(f"U+{ord(c):04X}" for c in text if not c.isascii())
    return f"{text!r} ({codes + '; ' if codes else ''}not Python)"
  return "; ".join(f"line {d.line}: drop {name(d.text)}" for d in dropped)


# --- Showing a repair ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Repair:
  """One scored repair of the file's tokens."""
  tokens: tuple[str, ...]
  score: float
  distance: int
  # The probability that this is the human's fix (calibrated; None: the scorer has none).
  confidence: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Outcome:
  """What the repair command prints, and whether it abstained (confidence too low)."""
  text: str
  abstained: bool = False


def _show(token: str, text: Optional[str]) -> str:
  return text if text is not None else token


def _mark(text: str, inserted: bool, style: str) -> str:
  if style == "ansi":
    return f"{_ANSI_INSERT if inserted else _ANSI_DELETE}{text}{_ANSI_RESET}"
  if style == "markers":
    return f"[{'+' if inserted else '-'}{text}]"
  return text if inserted else ""


def show_repair(query: Sequence[str], query_texts: Sequence[Optional[str]],
                candidate: Sequence[str], style: str = "markers",
                dropped: Sequence[Dropped] = ()) -> str:
  """The candidate as Python text with the file's names and literals, edits marked.

  `style`: "plain" (the repaired text only), "markers" ([+tok] / [-tok]) or
  "ansi" (green insertions, red struck-through deletions). `dropped`: the
  characters in no token (`dropped_characters`), shown as deletions where they were.
  """
  if style not in STYLES:
    raise ValueError(f"style must be one of {STYLES}, got {style!r}")
  candidate = list(candidate)
  try:
    rendered = tokens_lib.render(candidate, pretty=True)
  except ValueError:  # not a layout the lexer emits: fall back to one token per word
    rendered = " ".join(tokens_lib.PLAIN_TEXT.get(t, t) for t in candidate if t not in LAYOUT)
  spans = scan(rendered)
  visible = [j for j, tok in enumerate(candidate) if tok not in LAYOUT]
  if [s.token for s in spans] != [candidate[j] for j in visible]:
    return rendered  # should not happen: render and scan disagree
  span_of = dict(zip(visible, spans))

  source_of: dict[int, int] = {}   # candidate index -> kept query index
  deleted_before: dict[int, list[int]] = {}  # candidate index -> deleted query indices
  for op in Levenshtein.opcodes(list(query), candidate):
    if op.tag == "equal":
      source_of.update(zip(range(op.dest_start, op.dest_end), range(op.src_start, op.src_end)))
    if op.tag in ("delete", "replace"):
      deleted_before.setdefault(op.dest_start, []).extend(range(op.src_start, op.src_end))

  dropped_before: dict[int, list[str]] = {}  # query index -> dropped texts just before it
  for run in dropped:
    dropped_before.setdefault(run.before, []).append(_mark(run.text, False, style))

  def deletions(j: int) -> list[str]:
    out = []
    for i in deleted_before.get(j, []):
      out += dropped_before.get(i, []) + [_mark(_show(query[i], query_texts[i]), False, style)]
    return out

  out, cursor, pending = [], 0, []
  for j, tok in enumerate(candidate):
    pending += deletions(j)
    kept = j in source_of
    if tok in LAYOUT:
      if not kept:
        pending.append(_mark(tok, True, style))
      continue
    if kept:
      pending += dropped_before.get(source_of[j], [])
    span = span_of[j]
    gap = rendered[cursor:span.offset]
    marks = "".join(m for m in pending if m)
    if marks and not gap and kept:
      marks += " "
    out += [marks, gap]
    pending = []
    text = query_texts[source_of[j]] if kept and query_texts[source_of[j]] is not None else span.text
    out.append(text if kept else _mark(text, True, style))
    cursor = span.offset + len(span.text)
  pending += deletions(len(candidate)) + dropped_before.get(len(query), [])
  out.append("".join(pending))
  out.append(rendered[cursor:])
  return "".join(out)


def describe_edits(query: Sequence[str], query_texts: Sequence[Optional[str]],
                   query_lines: Sequence[int], candidate: Sequence[str]) -> str:
  """The edits as words, e.g. "line 1: replace '}' with ')'"."""
  def where(i: int) -> str:
    if not query_lines:
      return "line 1"
    return f"line {query_lines[min(max(i, 0), len(query_lines) - 1)]}"

  def words(start: int, end: int, sequence, texts=None) -> str:
    return " ".join(repr(_show(sequence[i], texts[i] if texts else None))
                    for i in range(start, end))

  edits = []
  for op in Levenshtein.opcodes(list(query), list(candidate)):
    if op.tag == "insert":
      edits.append(f"{where(op.src_start - 1)}: insert "
                   f"{words(op.dest_start, op.dest_end, candidate)}")
    elif op.tag == "delete":
      edits.append(f"{where(op.src_start)}: delete "
                   f"{words(op.src_start, op.src_end, query, query_texts)}")
    elif op.tag == "replace":
      edits.append(f"{where(op.src_start)}: replace "
                   f"{words(op.src_start, op.src_end, query, query_texts)} with "
                   f"{words(op.dest_start, op.dest_end, candidate)}")
  return "; ".join(edits)


# --- The command --------------------------------------------------------------


def read_source(path: str) -> str:
  """The text of a UTF-8 Python file ("-": standard input); RepairError if it is missing
  or not UTF-8."""
  if not path:
    raise RepairError("no file given: pass --config.file=broken.py (or - for stdin)")
  if path == "-":
    data = sys.stdin.buffer.read()
    path = "<stdin>"
  else:
    file = pathlib.Path(path)
    if not file.exists():
      raise RepairError(f"{path}: no such file")
    if not file.is_file():
      raise RepairError(f"{path}: not a regular file")
    data = file.read_bytes()
  try:
    return data.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    raise RepairError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None


def rank_repairs(query: Sequence[str], score_fn: evaluate.ScoreFn, *, top_k: int,
                 max_distance: int = 3, k: int = 1000,
                 time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
                 max_expansions: Optional[int] = None) -> list[Repair]:
  """The `top_k` best repairs of `query` under `score_fn`, best first, each with its
  confidence when the scorer has a calibration (`confidence.score_with_confidence`)."""
  found = search.generate_scored(query, max_distance=max_distance, k=k,
                                 time_budget=time_budget, max_expansions=max_expansions)
  if not found:
    return []
  scores, confidences = confidence_lib.score_with_confidence(
      score_fn, list(query), [list(c.tokens) for c in found])
  order = metrics.best_first(scores)[:top_k]
  return [Repair(found[i].tokens, float(scores[i]), found[i].distance,
                 None if confidences is None else float(confidences[i])) for i in order]


def _header(number: int, repair: Repair, edits: str) -> str:
  shown = "" if repair.confidence is None else f"  confidence {repair.confidence:.2f}"
  return f"#{number}{shown}  score {repair.score:.3f}  distance {repair.distance}  {edits}"


def abstains(repairs: Sequence[Repair], min_confidence: float) -> bool:
  """Whether the best repair's confidence is below `min_confidence` (never without one)."""
  best = repairs[0].confidence if repairs else None
  return min_confidence > 0 and best is not None and best < min_confidence


def abstain_message(repair: Repair, min_confidence: float) -> str:
  return (f"Abstained: the best repair's confidence {repair.confidence:.2f} (the calibrated "
          f"chance that it is the human's fix) is below min_confidence {min_confidence:.2f}. "
          "Pass --config.min_confidence=0 (repair-rank repair --min_confidence 0) to see "
          "the repairs anyway.")


def format_repairs(source: str, repairs: Sequence[Repair], style: str) -> str:
  """All repairs of `source` as a numbered, human-readable listing."""
  query = tokens_lib.lex(source)
  texts, lines = token_texts(source, query)
  dropped = dropped_characters(source)
  blocks = []
  for number, repair in enumerate(repairs, start=1):
    edits = "; ".join(filter(None, [describe_dropped(dropped),
                                    describe_edits(query, texts, lines, repair.tokens)]))
    header = _header(number, repair, edits)
    shown = show_repair(query, texts, repair.tokens, style, dropped).rstrip("\n")
    blocks.append(header + "\n" + shown)
  return "\n\n".join(blocks)


def repair_source(source: str, score_fn: evaluate.ScoreFn, **options) -> str:
  """The text the command prints for `source` (`repair_outcome`'s text)."""
  return repair_outcome(source, score_fn, **options).text


def repair_outcome(source: str, score_fn: evaluate.ScoreFn, *, top_k: int = 5,
                   style: str = "markers", max_distance: int = 3, k: int = 1000,
                   time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
                   max_expansions: Optional[int] = None, window_tokens: int = 120,
                   max_errors: int = 10, min_confidence: float = 0.0) -> Outcome:
  """What the command prints for `source`, and whether it abstained.

  A source of at most `window_tokens` tokens (a snippet) is repaired whole; a
  longer one error by error in windows of about that many tokens
  (`repair_file`), so that time and memory stay bounded. Below
  `min_confidence` (the best repair's confidence) it abstains.
  """
  query = tokens_lib.lex(source)
  if not query:
    return Outcome("Nothing to repair: the file has no tokens.")
  options = dict(top_k=top_k, max_distance=max_distance, k=k, time_budget=time_budget,
                 max_expansions=max_expansions)
  if len(query) > window_tokens:
    del query  # the file path keeps its own lexemes
    return _repair_file(source, score_fn, style=style, window_tokens=window_tokens,
                        max_errors=max_errors, min_confidence=min_confidence, **options)
  try:
    ast.parse(source)
    return Outcome("The file already parses; nothing to repair.")
  except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
    error = f"{type(e).__name__}: {e}"
  if tokens_lib.is_valid(query):
    return Outcome(f"{error}\nThe error is inside a token (a string or number literal, or "
                   "a character outside Python's grammar), which token-level repairs cannot "
                   "fix.")
  repairs = rank_repairs(query, score_fn, **options)
  if not repairs:
    return Outcome(f"{error}\nNo repair within {max_distance} token edits.")
  if abstains(repairs, min_confidence):
    return Outcome(f"{error}\n{abstain_message(repairs[0], min_confidence)}", abstained=True)
  return Outcome(f"{error}\n\n{format_repairs(source, repairs, style)}")


# --- Whole files ----------------------------------------------------------------


def _window_repairs(window: regions.Window, score_fn: evaluate.ScoreFn, style: str,
                    options: dict, original_line, file_lines: Sequence[str]
                    ) -> tuple[list[Repair], str]:
  """The ranked repairs of one window and their listing, line numbers as in the file."""
  repairs = rank_repairs(window.tokens, score_fn, **options)
  lines = [original_line(line) + 1 for line in window.lines]
  # Characters in no token, named in the header (the repair spliced back drops them).
  dropped = [dataclasses.replace(d, line=original_line(window.first_line + d.line - 1) + 1)
             for d in dropped_characters(
                 "\n".join(file_lines[window.first_line:window.end_line]))]
  blocks = []
  for number, repair in enumerate(repairs, start=1):
    edits = "; ".join(filter(None, [
        describe_dropped(dropped),
        describe_edits(window.tokens, window.texts, lines, repair.tokens)]))
    header = _header(number, repair, edits)
    shown = show_repair(window.tokens, window.texts, repair.tokens, style).rstrip("\n")
    blocks.append(header + "\n" + shown)
  return repairs, "\n\n".join(blocks)


def _describe_error(error: regions.FileError, original_line) -> str:
  where = "" if error.line is None else f" at line {original_line(error.line) + 1}"
  return f"SyntaxError{where}: {error.message}"


def repair_file(source: str, score_fn: evaluate.ScoreFn, **options) -> str:
  """Repairs of a whole file, one syntax error after another (`_repair_file`'s text)."""
  return _repair_file(source, score_fn, **options).text


def _repair_file(source: str, score_fn: evaluate.ScoreFn, *, top_k: int = 5,
                 style: str = "markers", window_tokens: int = 120, max_errors: int = 10,
                 min_confidence: float = 0.0, **options) -> Outcome:
  """Repairs of a whole file, one syntax error after another.

  Each error is repaired inside a window of about `window_tokens` tokens
  around it (`regions.error_window`); the best repair is spliced back and the
  file parsed again, from the failing chunk on, for the next error, up to
  `max_errors`. Ends by saying whether the file parses with every best repair;
  stops, abstaining, at an error whose best repair is below `min_confidence`.
  Line numbers are the original file's.
  """
  lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
  out, fixed = [], 0
  shifts: list[tuple[int, int]] = []  # (first line after a splice, lines it added)

  def original_line(line: int) -> int:
    return line - sum(added for after, added in shifts if line >= after)

  offset = 0  # lines before it are whole top-level statements that parse
  while True:
    rest = lines[offset:]
    lexemes = tokens_lib.lex_lexemes("\n".join(rest))
    logical = regions.logical_lines(lexemes)
    error = regions.first_error(rest, lexemes, logical)
    if error is None:
      if not out:
        return Outcome("The file already parses; nothing to repair.")
      out.append(f"With repair #1 of each of the {fixed} errors above, the whole file parses.")
      return Outcome("\n\n".join(out))
    error = dataclasses.replace(error, chunk_start=offset + error.chunk_start,
                                line=None if error.line is None else offset + error.line)
    out.append(_describe_error(error, original_line))
    if fixed == max_errors or error.line is None:
      reason = (f"stopped after {max_errors} errors (max_errors)" if error.line is not None
                else "the parser names no line to repair")
      out.append(f"The file still does not parse: {reason}.")
      return Outcome("\n\n".join(out))
    window = regions.error_window(lexemes, logical, len(rest), error.line - offset,
                                  max_tokens=window_tokens).shifted(offset)
    del lexemes, logical, rest  # the next round lexes the repaired file
    span = (f"lines {original_line(window.first_line) + 1}-"
            f"{original_line(window.end_line - 1) + 1}")
    if tokens_lib.is_valid(window.tokens):
      out.append(f"{span} parse on their own: the error depends on code around them, "
                 "which token-level repairs of a window cannot see. Stopped here.")
      return Outcome("\n\n".join(out))
    repairs, listing = _window_repairs(window, score_fn, style, {"top_k": top_k, **options},
                                       original_line, lines)
    if abstains(repairs, min_confidence):
      out.append(f"At {span}: {abstain_message(repairs[0], min_confidence)}")
      return Outcome("\n\n".join(out), abstained=True)
    if not repairs:
      out.append(f"No repair of {span} within {options.get('max_distance', 3)} token edits. "
                 "Stopped here.")
      return Outcome("\n\n".join(out))
    out.append(f"Repairs of {span}:\n\n{listing}")
    repaired = show_repair(window.tokens, window.texts, repairs[0].tokens, "plain")
    before = len(lines)
    lines = regions.splice(lines, window, repaired)
    added = len(lines) - before
    shifts.append((window.end_line + added, added))
    fixed += 1
    # The chunk that failed starts at a top-level statement: parse again from it.
    offset = error.chunk_start if window.first_line >= error.chunk_start else 0
