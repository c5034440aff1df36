"""The first syntax error of a source and its best repairs, as data (the page, POST
/repair.json and the editor server).
"""
import dataclasses
from typing import Optional, Sequence

from repair_rank.generator import search
from repair_rank.ranking import evaluate
from repair_rank.repair import ranked
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank.repair import text_edits
from repair_rank.repair import windows
from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT


@dataclasses.dataclass(frozen=True)
class Fix:
  """One repair of a source as text.

  text: the whole repaired source (newlines normalised to \n).
  edits: the edits of the source that give it (`text_edits.TextEdit`s, ascending,
    non-overlapping).
  description: the edits in words, lines as in the source ("line 2: insert ')'").
  """
  repair: ranked.Repair
  text: str
  edits: tuple[text_edits.TextEdit, ...]
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


def _window_lexemes(lexemes: Sequence[tokens_lib.Lexeme], window: windows.Window
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
                window: windows.Window, candidate: Sequence[str], minimal: bool = True) -> str:
  """The whole file with the window repaired to `candidate`: minimal edits where they
  lex right (and `minimal`), else the window's lines laid out afresh (`windows.splice`)."""
  found = _window_lexemes(lexemes, window) if minimal else None
  if found is not None:
    start, window_lexemes = found
    edits = text_edits.minimal_edits(text, window_lexemes, candidate)
    if edits is not None:
      repaired = text_edits.apply_edits(text, edits)
      core = text_edits.strip_layout_end(candidate)
      if tokens_lib.lex(repaired)[start:start + len(core)] == core:
        return repaired
  shown = showing.show_repair(window.tokens, window.texts, candidate, "plain")
  return "\n".join(windows.splice(lines, window, shown))


def diagnose(source: str, score_fn: evaluate.ScoreFn, *, top_k: int = 5,
             max_distance: int = 3, k: int = 1000,
             time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
             max_expansions: Optional[int] = None, window_tokens: int = 120) -> Diagnosis:
  """The first syntax error of `source` and its `top_k` best repairs, each as the whole
  repaired text and its edits.

  As `repair_source`: a snippet of at most `window_tokens` tokens is repaired
  whole, a longer file in a window around its first error (`windows`), so an
  editor can send whole files. Python reports one error at a time; once a fix is
  applied, the next call finds the next error.
  """
  text = source_text.normalize_newlines(source)
  lexemes = tokens_lib.lex_lexemes(text)
  if not lexemes:
    return Diagnosis("no_tokens", "nothing to repair: the source has no tokens")
  lines = text.split("\n")
  logical = windows.logical_lines(lexemes)
  error = windows.first_error(lines, lexemes, logical)
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
    texts, token_lines = source_text.token_texts(text, query)
    dropped = source_text.describe_dropped(source_text.dropped_characters(text))
    fixes = []
    for repair in ranked.rank_repairs(query, score_fn, **options):
      if len(fixes) == top_k:
        break
      edits = tuple(text_edits.repair_edits(text, repair.tokens))
      description = "; ".join(filter(None, [
          dropped, showing.describe_edits(query, texts, token_lines, repair.tokens)]))
      repaired = text_edits.apply_edits(text, edits)
      if all(fix.text != repaired for fix in fixes):
        fixes.append(Fix(repair, repaired, edits, description))
  else:
    window = windows.error_window(lexemes, logical, len(lines), error.line,
                                  max_tokens=window_tokens)
    if tokens_lib.is_valid(window.tokens):
      return Diagnosis("stuck", f"{error.message} (lines {window.first_line + 1}-"
                       f"{window.end_line} parse on their own: the error depends on code "
                       "around them)", **where)
    window_lines = [line + 1 for line in window.lines]
    # Characters in no token stay in minimal edits (the lexer skips them), so the fix
    # would not parse: such a window is laid out afresh, which drops them, and says so.
    dropped = [dataclasses.replace(d, line=window.first_line + d.line)
               for d in source_text.dropped_characters("\n".join(lines[window.first_line:window.end_line]))]
    fixes = []
    for repair in ranked.rank_repairs(window.tokens, score_fn, **options):
      if len(fixes) == top_k:
        break
      repaired = _window_fix(text, lines, lexemes, window, repair.tokens, minimal=not dropped)
      if any(fix.text == repaired for fix in fixes):
        continue
      fixes.append(Fix(repair, repaired, (text_edits.diff_edit(text, repaired),), "; ".join(filter(None, [
          source_text.describe_dropped(dropped),
          showing.describe_edits(window.tokens, window.texts, window_lines, repair.tokens)]))))
  if not fixes:
    return Diagnosis("no_repair", f"{error.message} (no repair within {max_distance} "
                     "token edits)", **where)
  return Diagnosis("repaired", error.message, fixes=tuple(fixes), **where)
