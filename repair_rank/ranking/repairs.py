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
import dataclasses
import pathlib
import re
import sys
from typing import Any, Optional, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from repair_rank.generator import search
from repair_rank.ranking import confidence as confidence_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.syntax import parser
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


def normalize_newlines(source: str) -> str:
  """`source` with \\r\\n and \\r line breaks as \\n (the offsets every edit uses)."""
  return source.replace("\r\n", "\n").replace("\r", "\n")


def _line_starts(text: str) -> list[int]:
  """The offset at which each line of `text` starts (one more: the end plus one)."""
  starts = [0]
  for line in text.split("\n"):
    starts.append(starts[-1] + len(line) + 1)
  return starts


def scan(source: str) -> list[ScannedToken]:
  """The non-layout tokens of `source` with their texts and character offsets."""
  text = normalize_newlines(source)
  line_starts = _line_starts(text)
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
  normalized = normalize_newlines(source)
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
  text = normalize_newlines(source)
  line_starts = _line_starts(text)
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
      if not kept and style != "plain":  # the rendered text already breaks the line
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


# How a token without source text reads in an edit's description: layout as words,
# an inserted name, number or string as the placeholder the repaired text shows.
_LAYOUT_WORDS = {tokens_lib.NEWLINE: "a line break", tokens_lib.INDENT: "an indent",
                 tokens_lib.DEDENT: "a dedent"}


def _word(token: str, text: Optional[str]) -> str:
  if text is not None:
    return repr(text)
  if token in _LAYOUT_WORDS:
    return _LAYOUT_WORDS[token]
  return repr(tokens_lib.PLACEHOLDERS.get(token, token))


def describe_edits(query: Sequence[str], query_texts: Sequence[Optional[str]],
                   query_lines: Sequence[int], candidate: Sequence[str]) -> str:
  """The edits as words, e.g. "line 1: replace '}' with ')'"."""
  def where(i: int) -> str:
    if not query_lines:
      return "line 1"
    return f"line {query_lines[min(max(i, 0), len(query_lines) - 1)]}"

  def words(start: int, end: int, sequence, texts=None) -> str:
    return " ".join(_word(sequence[i], texts[i] if texts else None)
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


def checked_min_confidence(value: Any) -> float:
  """`value` as a threshold on confidences; ValueError unless it is in [0, 1]."""
  threshold = float(value)
  if not 0.0 <= threshold <= 1.0:
    raise ValueError(f"config.min_confidence must be in [0, 1], got {value}")
  return threshold


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
    parser.parse(source)
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
  lines = normalize_newlines(source).split("\n")
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


# --- Repairs as text edits (the page and the editor server) -----------------------
# A repair is a token sequence; an editor wants the user's own text back with the
# fewest characters changed. `_text_edits` aligns the candidate to the source's
# lexemes (Levenshtein opcodes, as `show_repair` does) and edits only where the
# tokens differ: deleted tokens are cut, inserted ones written in (names,
# numbers and strings as the placeholders x, 1 and 's'), a line whose block
# level changed is re-indented with the file's own indentation. The result is
# lexed again and must give exactly the candidate; where it does not (a rare
# layout edit), the repaired region is laid out afresh as `show_repair` does.


@dataclasses.dataclass(frozen=True)
class TextEdit:
  """Characters [start, end) of the (newline-normalised) source become `text`."""
  start: int
  end: int
  text: str


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
  """`text` with non-overlapping `edits` applied (an insertion before a deletion at one offset)."""
  out, cursor = [], 0
  for edit in sorted(edits, key=lambda e: (e.start, e.end)):
    out += [text[cursor:edit.start], edit.text]
    cursor = max(cursor, edit.end)
  out.append(text[cursor:])
  return "".join(out)


def _first_on_line(tokens: Sequence[str], i: int, start: int = 0) -> bool:
  """Whether token i (not layout) begins a logical line: only INDENT/DEDENT since a NEWLINE."""
  j = i - 1
  while j >= start and tokens[j] in (tokens_lib.INDENT, tokens_lib.DEDENT):
    j -= 1
  return j < start or tokens[j] == tokens_lib.NEWLINE


def _levels(tokens: Sequence[str]) -> list[int]:
  """The block level (INDENTs minus DEDENTs) before each token."""
  out, level = [], 0
  for tok in tokens:
    out.append(level)
    level += (tok == tokens_lib.INDENT) - (tok == tokens_lib.DEDENT)
  return out


class _Layout:
  """Where each lexeme of a stretch of `text` is, and the file's indentation per block level."""

  def __init__(self, text: str, lexemes: Sequence[tokens_lib.Lexeme]):
    self.text = text
    self.query = [lexeme.token for lexeme in lexemes]
    line_starts = _line_starts(text)
    self.starts, self.ends, anchor = [], [], None
    for lexeme in lexemes:  # a layout token sits at the end of the token before it
      if lexeme.token in LAYOUT:
        position = anchor if anchor is not None else (
            line_starts[lexeme.line - 1] if lexeme.line - 1 < len(line_starts) else len(text))
        self.starts.append(position)
        self.ends.append(position)
      else:
        start = line_starts[lexeme.line - 1] + lexeme.column
        self.starts.append(start)
        self.ends.append(start + len(lexeme.text))
        anchor = self.ends[-1]
    self.line_start = [line_starts[lexeme.line - 1] for lexeme in lexemes]
    self.visible = [i for i, tok in enumerate(self.query) if tok not in LAYOUT]
    self.levels = _levels(self.query)
    self.indents: dict[int, str] = {}  # block level -> the file's indentation of it
    for i in self.visible:
      if _first_on_line(self.query, i):
        self.indents.setdefault(self.levels[i], text[self.line_start[i]:self.starts[i]])
    first, second = self.indents.get(0), self.indents.get(1)
    self.unit = (second[len(first):] if first is not None and second is not None
                 and second.startswith(first) and len(second) > len(first)
                 else tokens_lib.INDENT_UNIT)

  def indent(self, level: int) -> str:
    """The indentation of block `level`: the file's own, or one more unit per level."""
    if level in self.indents:
      return self.indents[level]
    known = max((k for k in self.indents if k <= level), default=0)
    first = self.visible[0]
    return (self.indents.get(known, self.text[self.line_start[first]:self.starts[first]])
            + self.unit * (level - known))

  def left_end(self, i: int) -> int:
    """End of the last non-layout token before index i (the first token's start if none)."""
    j = i - 1
    while j >= 0 and self.query[j] in LAYOUT:
      j -= 1
    return self.ends[j] if j >= 0 else self.starts[self.visible[0]]

  def next_start(self, i: int) -> Optional[int]:
    """Start of the first non-layout token at or after index i (None at the end)."""
    j = i
    while j < len(self.query) and self.query[j] in LAYOUT:
      j += 1
    return self.starts[j] if j < len(self.query) else None


def _deletions(layout: _Layout, op) -> Optional[list[TextEdit]]:
  """Edits cutting the query tokens of a Levenshtein opcode; None for a line join that
  would swallow a comment or a line continuation."""
  text, query, edits = layout.text, layout.query, []
  for i in range(op.src_start, op.src_end):
    if query[i] == tokens_lib.NEWLINE:  # join the next line onto this one
      after, gap_start = layout.next_start(i + 1), layout.left_end(i)
      if after is None:
        continue  # the last line break: the file may keep it (`_same_tokens`)
      if "#" in text[gap_start:after] or "\\" in text[gap_start:after]:
        return None
      edits.append(TextEdit(gap_start, after, " "))
    elif query[i] not in LAYOUT:
      end = layout.ends[i]
      start = layout.starts[i]
      if op.tag == "delete" and (start == 0 or text[start - 1] in " \t\n"):
        while end < len(text) and text[end] in " \t":
          end += 1  # no double space where a token was
      edits.append(TextEdit(start, end, ""))
  return edits


def _inserted_text(layout: _Layout, op, candidate: Sequence[str],
                   candidate_levels: Sequence[int]) -> str:
  """The candidate tokens of an opcode as text: placeholders, readable spacing, and line
  breaks indented as the file indents that block (one the file already has is left out)."""
  run = candidate[op.dest_start:op.dest_end]
  pieces, previous = [], None
  for offset, tok in enumerate(run):
    if tok == tokens_lib.NEWLINE:
      j = op.dest_start + offset + 1
      while j < len(candidate) and candidate[j] in LAYOUT:
        j += 1
      pieces.append("\n" + (layout.indent(candidate_levels[j]) if j < len(candidate) else ""))
      previous = None
    elif tok not in LAYOUT:
      if previous is not None and tokens_lib.spaced(previous, tok):
        pieces.append(" ")
      pieces.append(tokens_lib.PLAIN_TEXT[tok])
      previous = tok
  text = layout.text
  if (pieces and pieces[-1].startswith("\n") and not text[layout.left_end(op.src_start):].strip()
      and all(t in LAYOUT for t in candidate[op.dest_end:])):
    pieces.pop()  # the file's own last line break ends the repaired last line
  elif pieces and pieces[-1].startswith("\n") and run[-1] == tokens_lib.NEWLINE:
    gap = text[layout.left_end(op.src_start):layout.next_start(op.src_end) or len(text)]
    if "\n" in gap and not gap.strip():
      pieces.pop()  # a line break is already there (inside the unclosed brackets)
  return "".join(pieces)


def _insertion(layout: _Layout, op, candidate: Sequence[str],
               candidate_levels: Sequence[int]) -> Optional[TextEdit]:
  """The edit writing in the candidate tokens of an opcode, placed and spaced as a
  person would: `for x in items`, `print('hi')`, `(a + x)`."""
  run = candidate[op.dest_start:op.dest_end]
  inserted = _inserted_text(layout, op, candidate, candidate_levels)
  shown = [t for t in run if t not in LAYOUT]
  if not inserted:
    return None
  text, query = layout.text, layout.query
  left = next((t for t in reversed(candidate[:op.dest_start]) if t not in LAYOUT), None)
  right = next((t for t in candidate[op.dest_end:] if t not in LAYOUT), None)
  replaced = [k for k in range(op.src_start, op.src_end) if query[k] not in LAYOUT]
  position = layout.starts[replaced[0]] if replaced else layout.left_end(op.src_start)
  # A line break goes right before the next token, the spaces before it gone; so does
  # an opening bracket, glued to the token before where readable Python glues it.
  breaks = run[-1] == tokens_lib.NEWLINE
  end = position
  if breaks or (shown and shown[-1] in tokens_lib.OPENERS):
    while end < len(text) and text[end] in " \t":
      end += 1
  glued = not breaks and end > position and left is not None and not tokens_lib.spaced(
      left, shown[0])
  if end > position and not breaks and not glued:
    position = end
  elif (op.tag == "insert" and not breaks and shown and left is not None
        and tokens_lib.spaced(left, shown[0])):
    while position < len(text) and text[position] in " \t":
      position += 1  # after the spaces that are there: a + x), for x in items
    end = position
  # A space where readable Python has one; in place of deleted tokens, only where
  # words would run together (the replaced tokens' spacing stays).
  replacing = op.tag == "replace"
  if shown and left is not None and not inserted.startswith("\n") and position > 0 and (
      text[position - 1] not in " \t\n") and (
          _word_joins(text[position - 1], inserted[0]) if replacing
          else tokens_lib.spaced(left, shown[0])):
    inserted = " " + inserted
  after = layout.ends[op.src_end - 1] if replacing and query[op.src_end - 1] not in LAYOUT else end
  if (shown and right is not None and not breaks and after < len(text)
      and text[after] not in " \t\n" and (
          _word_joins(inserted[-1], text[after]) if replacing
          else tokens_lib.spaced(shown[-1], right))):
    inserted += " "
  return TextEdit(position, end if breaks or glued else position, inserted)


def _text_edits(text: str, lexemes: Sequence[tokens_lib.Lexeme], candidate: Sequence[str]
                ) -> Optional[list[TextEdit]]:
  """Minimal edits turning the lexemes' stretch of `text` into `candidate`; None where
  a layout edit has no obvious textual form (the caller lays the region out afresh)."""
  layout = _Layout(text, lexemes)
  if not layout.visible:
    return None
  query, candidate = layout.query, list(candidate)
  candidate_levels = _levels(candidate)
  edits: list[TextEdit] = []
  for op in Levenshtein.opcodes(query, candidate):
    if op.tag == "equal":
      for i, j in zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end)):
        # A kept line whose block level changed: re-indent it.
        if (query[i] not in LAYOUT and _first_on_line(query, i) and _first_on_line(candidate, j)
            and layout.levels[i] != candidate_levels[j]):
          edits.append(TextEdit(layout.line_start[i], layout.starts[i],
                                layout.indent(candidate_levels[j])))
      continue
    deletions = _deletions(layout, op)
    if deletions is None:
      return None
    edits += deletions
    if any(tok not in (tokens_lib.INDENT, tokens_lib.DEDENT)
           for tok in candidate[op.dest_start:op.dest_end]):
      insertion = _insertion(layout, op, candidate, candidate_levels)
      if insertion is not None:
        edits.append(insertion)
  return edits


def _word_joins(left: str, right: str) -> bool:
  """Whether two characters side by side would run into one token (x in y, 1 if)."""
  return (left.isalnum() or left == "_") and (right.isalnum() or right in "_'\"")


def _strip_layout_end(tokens: Sequence[str]) -> list[str]:
  out = list(tokens)
  while out and out[-1] in LAYOUT:
    out.pop()
  return out


def _same_tokens(text: str, candidate: Sequence[str]) -> bool:
  """Whether `text` lexes to `candidate`, up to the layout tokens at its very end
  (a last line break present or not), and parses."""
  if _strip_layout_end(tokens_lib.lex(text)) != _strip_layout_end(candidate):
    return False
  try:
    parser.parse(text)
  except (SyntaxError, ValueError, MemoryError, RecursionError):
    return False
  return True


def repair_edits(source: str, candidate: Sequence[str]) -> list[TextEdit]:
  """Edits of `normalize_newlines(source)` that turn its tokens into `candidate`.

  The fewest characters change, names, literals, comments and layout kept
  (`_text_edits`); where no such edit lexes to exactly `candidate`, one edit
  replaces the whole text with the repair laid out afresh (`show_repair`).
  """
  text = normalize_newlines(source)
  edits = _text_edits(text, tokens_lib.lex_lexemes(text), candidate)
  if edits is not None and _same_tokens(apply_edits(text, edits), candidate):
    return edits
  query = tokens_lib.lex(text)
  texts, _ = token_texts(text, query)
  return [diff_edit(text, show_repair(query, texts, candidate, "plain"))]


def diff_edit(old: str, new: str) -> TextEdit:
  """The one edit of `old` that gives `new`: all but their common prefix and suffix."""
  prefix = 0
  limit = min(len(old), len(new))
  while prefix < limit and old[prefix] == new[prefix]:
    prefix += 1
  suffix = 0
  while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
    suffix += 1
  return TextEdit(prefix, len(old) - suffix, new[prefix:len(new) - suffix])


def apply_repair(source: str, repair: "Repair | Sequence[str]") -> str:
  """The whole source with `repair` (a Repair of its tokens, or the tokens) applied, as
  text: the user's names, literals, comments and layout kept wherever the tokens are."""
  candidate = repair.tokens if isinstance(repair, Repair) else repair
  text = normalize_newlines(source)
  return apply_edits(text, repair_edits(text, candidate))


# --- The first error of a source and its repairs, as data -----------------------


def confidence_of(repair: Repair) -> Optional[float]:
  """The probability that `repair` is the human's fix, or None where the scorer gives none.

  The one place the page and the editor server read it; with no confidence
  every repair is offered.
  """
  value = getattr(repair, "confidence", None)
  return None if value is None else float(value)


def confident(repairs: Sequence[Repair], min_confidence: float) -> list[Repair]:
  """The repairs at or above `min_confidence` (all of them where none has a confidence)."""
  return [r for r in repairs
          if (confidence := confidence_of(r)) is None or confidence >= min_confidence]


@dataclasses.dataclass(frozen=True)
class Fix:
  """One repair of a source as text.

  text: the whole repaired source (newlines normalised to \n).
  edits: the edits of the source that give it (`TextEdit`s, ascending, non-overlapping).
  description: the edits in words, lines as in the source ("line 2: insert ')'").
  """
  repair: Repair
  text: str
  edits: tuple[TextEdit, ...]
  description: str


@dataclasses.dataclass(frozen=True)
class Diagnosis:
  """The first syntax error of a source and its best repairs.

  status: "repaired" (fixes found), "no_repair" (none within the distance),
    "parses", "no_tokens", "in_token" (the error is inside a literal, or a character
    outside Python: token edits cannot reach it) or "stuck" (Python names no line,
    or the window around the error parses on its own).
  message: Python's message for the error, or why there is nothing to repair.
  line, column: 0-based position of the error Python reports (None if it names none).
  fixes: best first.
  """
  status: str
  message: str
  line: Optional[int] = None
  column: Optional[int] = None
  fixes: tuple[Fix, ...] = ()


def _window_lexemes(lexemes: Sequence[tokens_lib.Lexeme], window: regions.Window
                    ) -> Optional[tuple[int, list[tokens_lib.Lexeme]]]:
  """(index of the window's first lexeme, a lexeme per window token); the DEDENTs or
  NEWLINE the window adds to close itself sit at the end of its last token."""
  start = next((k for k, x in enumerate(lexemes)
                if x.line - 1 == window.first_line and x.token not in LAYOUT), None)
  if start is None:
    return None
  picked = []
  for lexeme, tok in zip(lexemes[start:], window.tokens):
    if lexeme.token != tok:
      break
    picked.append(lexeme)
  added = window.tokens[len(picked):]
  if not picked or any(tok not in LAYOUT for tok in added):
    return None
  return start, picked + [tokens_lib.Lexeme(tok, "", picked[-1].line) for tok in added]


def _window_fix(text: str, lines: Sequence[str], lexemes: Sequence[tokens_lib.Lexeme],
                window: regions.Window, candidate: Sequence[str], minimal: bool = True) -> str:
  """The whole file with the window repaired to `candidate`: minimal edits where they
  lex right (and `minimal`), else the window's lines laid out afresh (`regions.splice`)."""
  found = _window_lexemes(lexemes, window) if minimal else None
  if found is not None:
    start, window_lexemes = found
    edits = _text_edits(text, window_lexemes, candidate)
    if edits is not None:
      repaired = apply_edits(text, edits)
      core = _strip_layout_end(candidate)
      if tokens_lib.lex(repaired)[start:start + len(core)] == core:
        return repaired
  shown = show_repair(window.tokens, window.texts, candidate, "plain")
  return "\n".join(regions.splice(lines, window, shown))


def diagnose(source: str, score_fn: evaluate.ScoreFn, *, top_k: int = 5,
             max_distance: int = 3, k: int = 1000,
             time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
             max_expansions: Optional[int] = None, window_tokens: int = 120) -> Diagnosis:
  """The first syntax error of `source` and its `top_k` best repairs, each as the whole
  repaired text and its edits.

  As `repair_source`: a snippet of at most `window_tokens` tokens is repaired
  whole, a longer file in a window around its first error (`regions`), so an
  editor can send whole files. Python reports one error at a time; once a fix is
  applied, the next call finds the next error.
  """
  text = normalize_newlines(source)
  lexemes = tokens_lib.lex_lexemes(text)
  if not lexemes:
    return Diagnosis("no_tokens", "nothing to repair: the source has no tokens")
  lines = text.split("\n")
  logical = regions.logical_lines(lexemes)
  error = regions.first_error(lines, lexemes, logical)
  if error is None:
    return Diagnosis("parses", "the source already parses; nothing to repair")
  where = dict(line=error.line, column=error.column)
  if error.line is None:
    return Diagnosis("stuck", error.message, **where)
  query = [x.token for x in lexemes]
  # Twice as many: repairs that differ only in the layout at the very end give one text.
  options = dict(top_k=2 * top_k, max_distance=max_distance, k=k, time_budget=time_budget,
                 max_expansions=max_expansions)
  if len(query) <= window_tokens:
    if tokens_lib.is_valid(query):
      return Diagnosis("in_token", f"{error.message} (inside a string or number literal, or a "
                       "character outside Python's grammar: token edits cannot fix it)", **where)
    texts, token_lines = token_texts(text, query)
    dropped = describe_dropped(dropped_characters(text))
    fixes = []
    for repair in rank_repairs(query, score_fn, **options):
      if len(fixes) == top_k:
        break
      edits = tuple(repair_edits(text, repair.tokens))
      description = "; ".join(filter(None, [
          dropped, describe_edits(query, texts, token_lines, repair.tokens)]))
      repaired = apply_edits(text, edits)
      if all(fix.text != repaired for fix in fixes):
        fixes.append(Fix(repair, repaired, edits, description))
  else:
    window = regions.error_window(lexemes, logical, len(lines), error.line,
                                  max_tokens=window_tokens)
    if tokens_lib.is_valid(window.tokens):
      return Diagnosis("stuck", f"{error.message} (lines {window.first_line + 1}-"
                       f"{window.end_line} parse on their own: the error depends on code "
                       "around them)", **where)
    window_lines = [line + 1 for line in window.lines]
    # Characters in no token stay in minimal edits (the lexer skips them), so the fix
    # would not parse: such a window is laid out afresh, which drops them, and says so.
    dropped = [dataclasses.replace(d, line=window.first_line + d.line)
               for d in dropped_characters("\n".join(lines[window.first_line:window.end_line]))]
    fixes = []
    for repair in rank_repairs(window.tokens, score_fn, **options):
      if len(fixes) == top_k:
        break
      repaired = _window_fix(text, lines, lexemes, window, repair.tokens, minimal=not dropped)
      if any(fix.text == repaired for fix in fixes):
        continue
      fixes.append(Fix(repair, repaired, (diff_edit(text, repaired),), "; ".join(filter(None, [
          describe_dropped(dropped),
          describe_edits(window.tokens, window.texts, window_lines, repair.tokens)]))))
  if not fixes:
    return Diagnosis("no_repair", f"{error.message} (no repair within {max_distance} "
                     "token edits)", **where)
  return Diagnosis("repaired", error.message, fixes=tuple(fixes), **where)
