"""The repair command: the top-k repairs of a broken Python file, edits highlighted.

The file is lexed (`tokens.lex`), candidates generated (`candidates.generate`)
and scored (the configured scorer, or a running endpoint), and each of the best
`top_k` is printed as readable Python (`showing.show_repair`), with its
confidence. With `min_confidence` > 0 the command abstains when the best
repair's confidence is below it: it says so instead of listing repairs. A file
longer than a snippet is repaired error by error in windows (`windows`); an error
whose window parses on its own, and a slip of layout in a file of any length, are
repaired judged in the file (`diagnosis.file_fixes`, as /repair.json repairs them),
and so is every error of a file up to `IN_FILE_MAX_BYTES`.
"""
import ctypes
import dataclasses
import pathlib
import re
import sys
from typing import Optional, Sequence

from repair_rank.generator import search
from repair_rank.ranking import evaluate
from repair_rank.repair import diagnosis
from repair_rank.repair import indentation
from repair_rank.repair import ranked
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank.repair import text_repairs
from repair_rank.repair import windows
from repair_rank.syntax import parser
from repair_rank.syntax import tokens as tokens_lib


# Files up to this size are repaired as /repair.json repairs them (its max_source_bytes,
# configs/serve.py), every error judged in the file; longer ones, and a window cut
# inside a long line, by token edits of a window, whose time and memory stay bounded on
# 5 MB files and 1.5 MB lines (issue 23), except where those cannot see the error.
IN_FILE_MAX_BYTES = 256 << 10


class RepairError(ValueError):
  """Bad input to the repair command (missing file, undecodable text, ...)."""


# What the command's outcome was; the job turns each into its exit status (README).
REPAIRED = "repaired"      # repairs listed (or nothing to repair)
ABSTAINED = "abstained"    # the best repair's confidence is below min_confidence
NO_REPAIR = "no_repair"    # no repair found: the file stays broken


@dataclasses.dataclass(frozen=True)
class Outcome:
  """What the repair command prints, and how it ended (`REPAIRED`, `ABSTAINED`, `NO_REPAIR`)."""
  text: str
  status: str = REPAIRED

  @property
  def abstained(self) -> bool:
    return self.status == ABSTAINED


def read_source(path: str) -> str:
  """The text of a Python file ("-": standard input), decoded as Python decodes it (a BOM,
  a PEP 263 coding declaration, else UTF-8; `source_text.decode_source`); RepairError if
  it is missing or cannot be decoded."""
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
    return source_text.decode_source(data)
  except source_text.DecodeError as e:
    raise RepairError(f"{path}: {e}") from None


def _header(number: int, repair: ranked.Repair, edits: str) -> str:
  shown = "" if repair.confidence is None else f"  confidence {repair.confidence:.2f}"
  return f"#{number}{shown}  score {repair.score:.3f}  distance {repair.distance}  {edits}"


def format_fixes(text: str, fixes: Sequence[text_repairs.Fix], style: str,
                 ending: str = "\n") -> str:
  """The repairs of `text` as a numbered listing: each the file's own lines, comments and
  blank lines included, with its edits marked (`text_repairs.marked`), in its line ending."""
  blocks = []
  for number, fix in enumerate(fixes, start=1):
    shown = text_repairs.marked(text, text_repairs.shown_edits(text, fix), style).rstrip("\n")
    blocks.append(_header(number, fix.repair, fix.description) + "\n" + shown)
  return "\n\n".join(blocks).replace("\n", ending)


def repair_source(source: str, score_fn: evaluate.ScoreFn, **options) -> str:
  """The text the command prints for `source` (`repair_outcome`'s text)."""
  return repair_outcome(source, score_fn, **options).text


def _error_line(text: str, name: str) -> Optional[str]:
  """Python's error for `text`, naming the file `name`; None when it parses."""
  try:
    parser.parse(text, name)
  except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
    return f"{type(e).__name__}: {e}"
  return None


def repair_outcome(source: str, score_fn: evaluate.ScoreFn, *, top_k: int = 5,
                   style: str = "markers", max_distance: int = 3, k: int = 1000,
                   time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
                   max_expansions: Optional[int] = None, window_tokens: int = 120,
                   max_errors: int = 10, min_confidence: float = 0.0,
                   name: str = "<unknown>") -> Outcome:
  """What the command prints for `source` (the file `name`), and how it ended.

  A source of at most `window_tokens` tokens (a snippet) is repaired whole
  (`text_repairs.snippet_fixes`: one repair per program, the file's own lines
  shown); a longer one error by error in windows of about that many tokens
  (`repair_file`), so that time and memory stay bounded. Below
  `min_confidence` (the best repair's confidence) it abstains. The listing keeps
  the file's line endings.
  """
  if top_k < 1:
    raise ValueError(f"top_k must be at least 1, got {top_k}")
  ending = source_text.line_ending(source)
  text = source_text.normalize_newlines(source)
  lexemes = tokens_lib.lex_lexemes(text)
  if not lexemes:
    return Outcome("Nothing to repair: the file has no tokens.")
  options = dict(top_k=top_k, max_distance=max_distance, k=k, time_budget=time_budget,
                 max_expansions=max_expansions)
  error = None if len(lexemes) > window_tokens else _error_line(text, name)
  # A slip of layout is repaired as text in the file (`indentation`): the file path.
  if len(lexemes) > window_tokens or (error is not None and error.startswith(
      ("IndentationError", "TabError"))):  # the file path's first round uses these lexemes
    return _repair_file(text, score_fn, style=style, window_tokens=window_tokens,
                        max_errors=max_errors, min_confidence=min_confidence,
                        lexemes=lexemes, **options)
  query = [lexeme.token for lexeme in lexemes]
  del lexemes
  if error is None:
    return Outcome("The file already parses; nothing to repair.")
  fixes = text_repairs.snippet_fixes(text, score_fn, **options)
  if not fixes:
    if tokens_lib.is_valid(query):
      return Outcome(f"{error}\nThe error is inside a token (a string or number literal, "
                     "or a character outside Python's grammar), and no repair of its "
                     "characters parses.", NO_REPAIR)
    return Outcome(f"{error}\nNo repair within {max_distance} token edits.", NO_REPAIR)
  if ranked.abstains([fixes[0].repair], min_confidence):
    return Outcome(f"{error}\n{ranked.abstain_message(fixes[0].repair, min_confidence)}",
                   ABSTAINED)
  return Outcome(f"{error}\n\n{format_fixes(text, fixes, style, ending)}")


# --- Whole files ----------------------------------------------------------------


def _edited_lines(text: str, fix: text_repairs.Fix, style: str) -> str:
  """The lines of `text` that `fix`'s edits touch, its edits marked (`text_repairs.marked`)."""
  edits = text_repairs.shown_edits(text, fix)
  if not edits:
    return ""
  start = text.rfind("\n", 0, min(e.start for e in edits)) + 1
  end = text.find("\n", max(e.end for e in edits))
  end = len(text) if end < 0 else end
  local = [dataclasses.replace(e, start=e.start - start, end=e.end - start) for e in edits]
  return text_repairs.marked(text[start:end], local, style).rstrip("\n")


def _renumbered(description: str, offset: int, original_line) -> str:
  """A fix's description ("line 3: insert ')'") with its lines as in the original file
  (the fix was made on the file from line `offset` on, after earlier repairs)."""
  def original(match: re.Match) -> str:
    return f"line {original_line(offset + int(match.group(1)) - 1) + 1}"

  return re.sub(r"\bline (\d+)", original, description)


def _return_freed_memory() -> None:
  """Hands the heap the scorer freed back to the system (glibc keeps it otherwise), so
  the next round's parse of a long line adds to less (1.5 MB line: 0.69 -> 0.66 GB)."""
  try:
    ctypes.CDLL(None).malloc_trim(0)
  except (OSError, AttributeError):  # not glibc
    pass


def _window_repairs(window: windows.Window, score_fn: evaluate.ScoreFn, style: str,
                    options: dict, original_line, file_lines: Sequence[str]
                    ) -> tuple[list[ranked.Repair], str]:
  """The ranked repairs of one window and their listing, line numbers as in the file."""
  repairs = ranked.rank_repairs(window.tokens, score_fn, **options)
  lines = [original_line(line) + 1 for line in window.lines]
  # Characters in no token, named in the header (the repair spliced back drops them).
  dropped = [dataclasses.replace(d, line=original_line(window.first_line + d.line - 1) + 1)
             for d in source_text.dropped_characters(windows.window_text(file_lines, window))]
  blocks = []
  for number, repair in enumerate(repairs, start=1):
    edits = "; ".join(filter(None, [
        source_text.describe_dropped(dropped),
        showing.describe_edits(window.tokens, window.texts, lines, repair.tokens)]))
    header = _header(number, repair, edits)
    shown = showing.show_repair(window.tokens, window.texts, repair.tokens, style).rstrip("\n")
    blocks.append(header + "\n" + shown)
  return repairs, "\n\n".join(blocks)


def _describe_error(error: windows.FileError, original_line) -> str:
  where = "" if error.line is None else f" at line {original_line(error.line) + 1}"
  return f"SyntaxError{where}: {error.message}"


def repair_file(source: str, score_fn: evaluate.ScoreFn, **options) -> str:
  """Repairs of a whole file, one syntax error after another (`_repair_file`'s text)."""
  return _repair_file(source, score_fn, **options).text


def _repair_file(source: str, score_fn: evaluate.ScoreFn, *, top_k: int = 5,
                 style: str = "markers", window_tokens: int = 120, max_errors: int = 10,
                 min_confidence: float = 0.0,
                 lexemes: Optional[Sequence[tokens_lib.Lexeme]] = None, **options) -> Outcome:
  """Repairs of a whole file, one syntax error after another.

  Each error is repaired inside a window of about `window_tokens` tokens
  around it (`windows.error_window`); the best repair is spliced back and the
  file parsed again, from the failing chunk on, for the next error, up to
  `max_errors`. Ends by saying whether the file parses with every best repair;
  stops, abstaining, at an error whose best repair is below `min_confidence`.
  Line numbers are the original file's. `lexemes`: the whole file's, if lexed already.
  """
  lines = source_text.normalize_newlines(source).split("\n")
  out, fixed = [], 0
  shifts: list[tuple[int, int]] = []  # (first line after a splice, lines it added)

  def original_line(line: int) -> int:
    return line - sum(added for after, added in shifts if line >= after)

  offset = 0  # lines before it are whole top-level statements that parse
  small = len(source.encode("utf-8", "surrogatepass")) <= IN_FILE_MAX_BYTES
  known = lexemes  # the first round's
  while True:
    rest = lines[offset:]
    # One chunk is parsed before it is lexed, and lexed only if it fails: a long
    # line's lexemes and tree are not held at once.
    lexemes, logical, known = known, None, None
    if len(rest) > windows.CHUNK_LINES:  # chunks start at top-level statements
      lexemes = lexemes or tokens_lib.lex_lexemes("\n".join(rest))
      logical = windows.logical_lines(lexemes)
    error = windows.first_error(rest, lexemes, logical)
    if error is None:
      if not out:
        return Outcome("The file already parses; nothing to repair.")
      out.append(f"With repair #1 of each of the {fixed} errors above, the whole file parses.")
      return Outcome("\n\n".join(out))
    error = dataclasses.replace(error, chunk_start=offset + error.chunk_start,
                                line=None if error.line is None else offset + error.line)
    out.append(_describe_error(error, original_line))
    if logical is None:
      lexemes = lexemes or tokens_lib.lex_lexemes("\n".join(rest))
      logical = windows.logical_lines(lexemes)
    if fixed == max_errors or error.line is None:
      reason = (f"stopped after {max_errors} errors (max_errors)" if error.line is not None
                else "the parser names no line to repair")
      out.append(f"The file still does not parse: {reason}.")
      return Outcome("\n\n".join(out), NO_REPAIR)
    window = windows.error_window(lexemes, logical, len(rest), error.line - offset,
                                  max_tokens=window_tokens,
                                  error_column=error.column).shifted(offset)
    in_file_fixes = None
    rest_text = "\n".join(rest)
    whole_lines = not window.first_column and window.end_column is None
    if ((small and whole_lines) or tokens_lib.is_valid(window.tokens)
        or indentation.is_indentation_error(error.message)):
      # Token edits of the window cannot see this error (the window parses alone) or
      # cannot re-lay a line: the repairs judged in the file, as /repair.json makes them.
      in_file_fixes = diagnosis.file_fixes(
          rest_text, lexemes, logical, dataclasses.replace(
              error, line=error.line - offset, chunk_start=error.chunk_start - offset),
          score_fn, top_k=top_k, window_tokens=window_tokens, **options)
    del lexemes, logical  # the next round lexes the repaired file
    span = (f"lines {original_line(window.first_line) + 1}-"
            f"{original_line(window.end_line - 1) + 1}")
    if window.first_column or window.end_column is not None:  # cut inside a long line
      span += (f" (from column {window.first_column + 1}"
               f"{'' if window.end_column is None else f' to {window.end_column}'})")
    if in_file_fixes:
      if ranked.abstains([in_file_fixes[0].repair], min_confidence):
        out.append(f"At line {original_line(error.line) + 1}: "
                   f"{ranked.abstain_message(in_file_fixes[0].repair, min_confidence)}")
        return Outcome("\n\n".join(out), ABSTAINED)
      out.append(f"Repairs at line {original_line(error.line) + 1}:\n\n" + "\n\n".join(
          _header(number, fix.repair, _renumbered(fix.description, offset, original_line))
          + "\n" + _edited_lines(rest_text, fix, style)
          for number, fix in enumerate(in_file_fixes, start=1)))
      best = in_file_fixes[0]
      new_rest = best.text.split("\n")
      added = len(new_rest) - len(rest)
      starts, ends = [e.start for e in best.edits] or [0], [e.end for e in best.edits] or [0]
      first_edited = offset + rest_text.count("\n", 0, min(starts))
      last_edited = offset + rest_text.count("\n", 0, max(ends))
      lines = lines[:offset] + new_rest
      if added:
        shifts.append((last_edited + 1 + added, added))
      fixed += 1
      # Parse again from the failing chunk, or from the top if the repair reached above it.
      offset = error.chunk_start if first_edited >= error.chunk_start else 0
      continue
    del rest, rest_text
    if tokens_lib.is_valid(window.tokens):
      out.append(f"{span} parse on their own: the error depends on code around them, "
                 "which token-level repairs of a window cannot see. Stopped here.")
      return Outcome("\n\n".join(out), NO_REPAIR)
    repairs, listing = _window_repairs(window, score_fn, style, {"top_k": top_k, **options},
                                       original_line, lines)
    _return_freed_memory()
    if ranked.abstains(repairs, min_confidence):
      out.append(f"At {span}: {ranked.abstain_message(repairs[0], min_confidence)}")
      return Outcome("\n\n".join(out), ABSTAINED)
    if not repairs:
      out.append(f"No repair of {span} within {options.get('max_distance', 3)} token edits. "
                 "Stopped here.")
      return Outcome("\n\n".join(out), NO_REPAIR)
    out.append(f"Repairs of {span}:\n\n{listing}")
    repaired = showing.show_repair(window.tokens, window.texts, repairs[0].tokens, "plain")
    before = len(lines)
    lines = windows.splice(lines, window, repaired)
    added = len(lines) - before
    shifts.append((window.end_line + added, added))
    fixed += 1
    # The chunk that failed starts at a top-level statement: parse again from it.
    offset = error.chunk_start if window.first_line >= error.chunk_start else 0
