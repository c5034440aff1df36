"""The first syntax error of a source and its best repairs, as data (the page, POST
/repair.json and the editor server).
"""
import bisect
import dataclasses
import time
from typing import Optional, Sequence

from repair_rank.generator import search
from repair_rank.ranking import evaluate
from repair_rank.repair import file_ranking
from repair_rank.repair import in_file
from repair_rank.repair import indentation
from repair_rank.repair import line_edits
from repair_rank.repair import local_ngrams
from repair_rank.repair import name_evidence
from repair_rank.repair import ranked
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank.repair import text_edits
from repair_rank.repair import text_repairs
from repair_rank.repair import two_step
from repair_rank.repair import windows
from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT
# Candidates of a file's window checked in the file at most (each one compile of its context).
MAX_FILE_CHECKS = 400
# The share of the time budget the generator may spend on a file's window.
FILE_SEARCH_SHARE = 0.25
# Seconds the blamed line's text edits (`two_step`) may take at most.
TWO_STEP_SECONDS = 1.0
FILE_RANKING = file_ranking.FileRanking.load()


# One repair as text (kept here under its old name for the front ends).
Fix = text_repairs.Fix


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
  errors: the errors found after this one once the top repair of each before is made
    (`diagnose`'s `max_errors`), lines as in the source given.
  """
  status: str
  message: str
  line: Optional[int] = None
  column: Optional[int] = None
  fixes: tuple[Fix, ...] = ()
  errors: tuple["Diagnosis", ...] = ()


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


@dataclasses.dataclass(frozen=True)
class FileCandidates:
  """The repairs of a file's first error that compile in the file, unranked."""
  window: windows.Window
  checked: list[in_file.Checked]
  dropped: list[source_text.Dropped]


def file_candidates(text: str, lexemes: Sequence[tokens_lib.Lexeme],
                    logical: Sequence[windows.LogicalLine], error: windows.FileError, *,
                    window_tokens: int, max_distance: int, k: int,
                    time_budget: Optional[float],
                    max_expansions: Optional[int]) -> FileCandidates:
  """The repairs of a file's first error, each judged in the file (`in_file`): the
  generator's candidates for a window around the error, the one-token edits where
  Python blames it, and the blamed line's text edits (`two_step`), kept when the file
  around the window compiles with them."""
  lines = text.split("\n")
  started = time.monotonic()
  back = in_file.reach_back(error.message, lines, logical, error.line)
  window = windows.error_window(lexemes, logical, len(lines), error.line,
                                max_tokens=window_tokens, reach_back=back)
  center = windows.line_at(logical, error.line)
  statement_lines = range(logical[max(center - back, 0)].line, error.line + 1)
  # Characters in no token stay in minimal edits (the lexer skips them), so the fix
  # would not parse: such a window is laid out afresh, which drops them, and says so.
  dropped = [dataclasses.replace(d, line=window.first_line + d.line)
             for d in source_text.dropped_characters(
                 "\n".join(lines[window.first_line:window.end_line]))]
  found = None if dropped else _window_lexemes(lexemes, window)
  window_lexemes = None if found is None else found[1]
  candidates = [(c, 1) for c in in_file.blamed_edits(window, error.line, error.message,
                                                     statement_lines)]
  checker = in_file.FileChecker(text, lexemes, window, window_lexemes)
  layouts = []
  if indentation.is_indentation_error(error.message):
    layouts = indentation.search(checker, lines, lexemes, logical, error.line,
                                 deadline=time.monotonic() + TWO_STEP_SECONDS)
  share = 0.0
  if not tokens_lib.is_valid(window.tokens):
    # The file's own evidence does much of the work: the search gets part of the budget,
    # but all of it for an indentation error no re-indentation repairs (the one-token
    # edits cannot move a block).
    share = 1.0 if "indent" in error.message and not layouts else FILE_SEARCH_SHARE
    budget = None if time_budget is None else share * time_budget
    candidates += [(c.tokens, c.distance) for c in search.generate_scored(
        window.tokens, max_distance=max_distance, k=k, time_budget=budget,
        max_expansions=max_expansions)]
  blamed_at = in_file.error_index(window, window_lexemes, error.line, error.column)
  ordered = in_file.check_order(window.tokens, error.message, blamed_at, candidates)
  deadline = None if time_budget is None else started + (1 + share) * time_budget
  # A layout that takes its line into or out of its block waits behind a preferred one
  # that keeps it there (`_keeping_meaning_first`).
  kept_in_place = any(layout.preferred and not layout.crosses for layout in layouts)
  checked = [in_file.Checked(layout.tokens, 1, layout.text, layout.edits, True,
                             abs(layout.first_line - error.line), preferred=layout.preferred,
                             description=in_file.describe_text_edits(text, layout.edits),
                             moves=kept_in_place and layout.crosses, layout=True)
             for layout in layouts]
  checked += in_file.check(checker, error.message, error.line, ordered,
                           limit=MAX_FILE_CHECKS, deadline=deadline)
  counts = line_edits.known_names(lexemes)
  if not dropped and not layouts:
    # The blamed line as text: glued names split, and two edits where one does not do.
    # Also when every such edit leaves a name the file never uses elsewhere on its line:
    # a glued name (`tupleUnion[str None]`) is a slip a one-token edit does not undo.
    two_steps = not any(c.distance == 1 and c.hinted
                        and name_evidence.unknown_names(text, c.edits, c.text, counts)[1] == 0
                        for c in checked)
    line_deadline = time.monotonic() + TWO_STEP_SECONDS
    for one in two_step.search(
        checker, error.line, error.column, error.message, counts,
        two_steps=two_steps, statement_lines=statement_lines,
        deadline=line_deadline if deadline is None else min(deadline, line_deadline)):
      checked.append(in_file.Checked(
          one.tokens, one.distance, one.text, one.edits, one.hinted,
          abs(one.first_line - error.line), split=one.split, query=one.query,
          description=in_file.describe_text_edits(text, one.edits)))
  # A repair the compiler rejects (`return` outside its def) is none where others compile.
  checked = in_file.keep_code(checker, checked)
  # The same program from two sources is one repair, or the two split its probability.
  checked = in_file.one_per_program(text, checked, counts,
                                    (window.first_line, window.end_line),
                                    local_ngrams.FileNgrams(lexemes))
  if layouts:
    relaid = {layout.first_line for layout in layouts}
    checked = [dataclasses.replace(c, moves=c.moves or (
        c.extra_lines > 0 and indentation.moves_other_lines(text, c.text, relaid)))
               for c in checked]
  return FileCandidates(window, checked, dropped)


def _keeping_meaning_first(ranked_list: Sequence[file_ranking.Ranked]
                           ) -> list[file_ranking.Ranked]:
  """`ranked_list` with every repair that moves other statements into or out of a block
  (`in_file.Checked.moves`) after the preferred layout, which keeps them in place; their
  confidence no higher than its (it is not offered where the layout is not)."""
  if not any(r.checked.preferred for r in ranked_list):
    return list(ranked_list)
  out, held, placed = [], [], False
  for r in ranked_list:
    if r.checked.moves and not placed and not r.checked.preferred:
      held.append(r)
      continue
    out.append(r)
    if r.checked.preferred:
      out += [dataclasses.replace(h, confidence=min(h.confidence, r.confidence))
              if h.confidence is not None and r.confidence is not None else h for h in held]
      placed = True
  return out


def file_fixes(text: str, lexemes: Sequence[tokens_lib.Lexeme],
                logical: Sequence[windows.LogicalLine], error: windows.FileError,
                score_fn: evaluate.ScoreFn, *, top_k: int, **options) -> list[Fix]:
  """The best repairs of a file's first error (`file_candidates`), ranked with Python's
  evidence (`file_ranking`)."""
  found = file_candidates(text, lexemes, logical, error, **options)
  window = found.window
  window_lines = [line + 1 for line in window.lines]
  fixes = []
  ranked_list = file_ranking.rank(found.checked, window.tokens, score_fn, FILE_RANKING)
  for ranked_one in _keeping_meaning_first(ranked_list):
    if len(fixes) == top_k:
      break
    c = ranked_one.checked
    repair = ranked.Repair(c.tokens, ranked_one.score, c.distance, ranked_one.confidence)
    fixes.append(Fix(repair, c.text, c.edits, "; ".join(filter(None, [
        source_text.describe_dropped(found.dropped),
        c.description or _at_text_lines(
            showing.describe_edits(window.tokens, window.texts, window_lines, c.tokens),
            text, c.edits)]))))
  return fixes


def _at_text_lines(description: str, text: str, edits: Sequence[text_edits.TextEdit]) -> str:
  """A token edits' description with each edit's line where its text edit lands.

  The tokens' lines can differ: an opener put before the first token of a line goes at
  the end of the line above when the bracket carries on there (`f(a)(` then `b,`).
  Kept as it is unless it names one edit per text edit.
  """
  parts = description.split("; ")
  if len(parts) != len(edits) or not all(p.startswith("line ") for p in parts):
    return description
  starts = source_text.line_starts(text)
  out = []
  for part, edit in zip(parts, sorted(edits, key=lambda e: e.start)):
    words = part.split(": ", 1)[1]
    out.append(f"line {bisect.bisect_right(starts, edit.start)}: {words}")
  return "; ".join(out)


def first_error_candidates(source: str, *, window_tokens: int = 120, max_distance: int = 3,
                           k: int = 1000,
                           time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
                           max_expansions: Optional[int] = None
                           ) -> Optional[tuple[windows.FileError, FileCandidates]]:
  """The first error of a file longer than a snippet and its unranked repairs (None when
  it parses, is a snippet, or Python names no line): what the files' ranking is fitted
  on (launch/analysis/fit_file_ranking.py)."""
  text = source_text.normalize_newlines(source)
  lexemes = tokens_lib.lex_lexemes(text)
  if len(lexemes) <= window_tokens:
    return None
  logical = windows.logical_lines(lexemes)
  error = windows.first_error(text.split("\n"), lexemes, logical)
  if error is None or error.line is None:
    return None
  return error, file_candidates(text, lexemes, logical, error, window_tokens=window_tokens,
                                max_distance=max_distance, k=k, time_budget=time_budget,
                                max_expansions=max_expansions)


def diagnose(source: str, score_fn: evaluate.ScoreFn, *, top_k: int = 5,
             max_distance: int = 3, k: int = 1000,
             time_budget: Optional[float] = search.DEFAULT_TIME_BUDGET,
             max_expansions: Optional[int] = None, window_tokens: int = 120,
             max_errors: int = 1) -> Diagnosis:
  """The first syntax error of `source` and its `top_k` best repairs, each as the whole
  repaired text and its edits; with `max_errors` > 1 also the errors after it (`errors`):
  the top repair is made and the source diagnosed again, up to `max_errors` in all.

  As `repair_source`: a snippet of at most `window_tokens` tokens is repaired
  whole, a longer file in a window around its first error (`windows`), so an
  editor can send whole files.
  """
  options = dict(top_k=top_k, max_distance=max_distance, k=k, time_budget=time_budget,
                 max_expansions=max_expansions, window_tokens=window_tokens)
  first = _diagnose_one(source, score_fn, **options)
  later: list[Diagnosis] = []
  shifts: list[list[tuple[int, int]]] = []  # per repair made: (line of an edit, lines it adds)
  current, last = source_text.normalize_newlines(source), first
  while last.status == "repaired" and 1 + len(later) < max_errors:
    fix = last.fixes[0]
    starts = source_text.line_starts(current)
    shifts.append([(bisect.bisect_right(starts, e.start) - 1,
                    e.text.count("\n") - current[e.start:e.end].count("\n")) for e in fix.edits])
    current = fix.text
    last = _diagnose_one(current, score_fn, **options)
    if last.status in ("parses", "no_tokens"):
      break
    line = last.line
    for made in reversed(shifts):  # back to the source's lines
      if line is not None:
        line -= sum(added for at, added in made if line > at)
    later.append(dataclasses.replace(last, line=line))
  return dataclasses.replace(first, errors=tuple(later)) if later else first


def _diagnose_one(source: str, score_fn: evaluate.ScoreFn, *, top_k: int, max_distance: int,
                  k: int, time_budget: Optional[float], max_expansions: Optional[int],
                  window_tokens: int) -> Diagnosis:
  """The first syntax error of `source` and its best repairs (`diagnose`)."""
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
  options = dict(top_k=top_k, max_distance=max_distance, k=k, time_budget=time_budget,
                 max_expansions=max_expansions)
  if len(query) <= window_tokens:
    fixes = text_repairs.snippet_fixes(text, score_fn, **options)
    if not fixes and tokens_lib.is_valid(query):
      return Diagnosis("in_token", f"{error.message} (inside a string or number literal, or a "
                       "character outside Python's grammar: no repair found)", **where)
  else:
    fixes = file_fixes(text, lexemes, logical, error, score_fn, top_k=top_k,
                        window_tokens=window_tokens, max_distance=max_distance, k=k,
                        time_budget=time_budget, max_expansions=max_expansions)
  if not fixes:
    return Diagnosis("no_repair", f"{error.message} (no repair within {max_distance} "
                     "token edits)", **where)
  return Diagnosis("repaired", error.message, fixes=tuple(fixes), **where)
