"""Repairs of a file's blamed line as text, one edit or two (issue 20).

Two slips on one line (`foo(a, b` with its `)` and `:` dropped) need two
edits, and the second is only visible once the first is made: Python blames
the first slip; with it repaired, the file fails further on, at the second.
So the search here is Python's own: each one-token edit of the blamed line
(and the line before), and each split of a glued name (`line_edits`), is made
in the file and its context compiled (`in_file.FileChecker`):
* it compiles: a one-edit repair;
* it fails further on than before, or it splits a glued name: a first step; for the
  first of them and
  those whose new error lies furthest on, the one-token edits (and splits) of the line that
  error is on are tried after it, and each pair after which the context
  compiles is a two-edit repair.
Where the message owes a closer ("'(' was never closed" blames the opener's line,
"does not match" the line where the wrong closer stands), the closer put in on the
next lines is a first step too (a few, after the others), and after a first step that
leaves an opener unclosed above it, a second step on the lines between.
Edits of the kind Python's message hints come first, then the nearest the
blamed column; the number of compiles and a deadline bound it all.
A repair that splits a glued name carries the window's tokens with the name typed
apart (`Found.query`), which the scorer reads it against (`file_ranking.scores`).
"""
import dataclasses
import time
from typing import Optional, Sequence

from repair_rank.repair import in_file
from repair_rank.repair import line_edits
from repair_rank.repair import text_edits
from repair_rank.syntax import tokens as tokens_lib

CLOSERS, OPENERS = tokens_lib.CLOSERS, tokens_lib.OPENERS
OWED_LINES = 6  # lines after the blamed one where an owed closer is tried
OWED_FIRSTS = 3  # of those, the first steps kept


@dataclasses.dataclass(frozen=True)
class Found:
  """A repair of the file made of `distance` line edits; `first_line` is where the first
  edit is; `hinted`: the first edit is of the kind Python's message names."""
  tokens: tuple[str, ...]
  text: str
  edits: tuple[text_edits.TextEdit, ...]
  distance: int
  first_line: int
  hinted: bool
  split: bool = False
  query: Optional[tuple[str, ...]] = None  # `in_file.Checked.query`


def hinted(message: str, variant: line_edits.Variant) -> bool:
  """Whether the edit is of the kind Python's message names (as `in_file.hinted`)."""
  if "never closed" in message:
    return variant.inserted in CLOSERS
  if "expected ':'" in message:
    return variant.inserted == ":"
  if "expected '('" in message:  # `def f:`
    return variant.inserted == "("
  if "forgot a comma" in message:
    return variant.inserted == ","
  missing = in_file.MISMATCH.search(message)
  if missing and variant.inserted == in_file.CLOSER_OF[missing.group(1)]:
    return True  # the mismatched opener's closer, put in
  if "unmatched" in message or "does not match" in message:
    return variant.deleted in CLOSERS or variant.inserted in OPENERS
  return False


def _closer_owed(message: str) -> str:
  """The closer a "'(' was never closed" or "does not match opening parenthesis '('"
  message says was dropped somewhere after the line it blames."""
  missing = in_file.MISMATCH.search(message)
  if missing:
    return in_file.CLOSER_OF[missing.group(1)]
  if message.endswith("was never closed") and message[1:2] in in_file.CLOSER_OF:
    return in_file.CLOSER_OF[message[1:2]]
  return ""


def variants(checker: in_file.FileChecker, lines: list[str], line: int,
             column: Optional[int], message: str, counts: dict[str, int]
             ) -> list[line_edits.Variant]:
  """The one-token edits and name splits of `lines[line]`: hinted first, then nearest."""
  if not checker.window.first_line <= line < checker.window.end_line:
    return []
  text = lines[line]
  found = line_edits.one_token(text, line, column) + line_edits.splits(text, line, counts, column)
  key = lambda v: (not hinted(message, v), column is not None and abs(v.column - column))
  return sorted(found, key=key)


def _owed_closers(checker: in_file.FileChecker, lines: list[str], closer: str, start: int,
                  stop: int) -> list[line_edits.Variant]:
  """`closer` put in at each token boundary of the window's lines `start` to `stop`."""
  return [v for line in range(max(start, checker.window.first_line),
                              min(stop, checker.window.end_line))
          for v in line_edits.one_token(lines[line], line, inserts=(closer,)) if v.inserted]


def _after(error: tuple[int, int, str], line: int, column: Optional[int],
           variant: line_edits.Variant) -> bool:
  """Whether the new error lies past the old one (the edit got the parser further)."""
  shift = 0
  if variant.line == line and column is not None and variant.column <= column:
    shift = len(variant.inserted) - len(variant.deleted)
  return (error[0], error[1]) > (line, (column or 0) + shift)


def _opens(message: str, variant: line_edits.Variant, error: tuple[int, int, str]) -> bool:
  """Whether `variant` puts in an opener that is a first step wherever the parser then
  stops: the new complaint is that it was never closed (`raise E"msg"` made
  `raise E("msg"` owes its `)`; `def f:` made `def f(:`), or the opener is of the kind
  Python's message hints and the complaint changed (`a b = f'?')` made `f('?')` stops
  at the comma dropped before it)."""
  if variant.inserted not in OPENERS or error[2] == message:
    return False
  return error[2] == f"'{variant.inserted}' was never closed" or hinted(message, variant)


def _cuts_split(first: line_edits.Variant, second: line_edits.Variant) -> bool:
  """Whether `second` deletes a half of the name `first` split: `CheckpointManagerOptions`
  made `CheckpointManager(` cuts a name short, no slip a person makes, however well the
  rest of the file knows `CheckpointManager(`."""
  if not first.split or not second.deleted or second.line != first.line:
    return False
  right_half = second.column == first.column + len(first.inserted)
  left_half = second.column + len(second.deleted) == first.column
  return right_half or left_half


def _unknown_glued(line_text: str, column: int, counts: dict[str, int]) -> bool:
  """Whether the name of `line_text` that a split at `column` cuts in two names is one
  the rest of the file never uses (`counts`: `line_edits.known_names` of the file) and
  not one this line defines (`def area_3(`: used nowhere else, and no slip)."""
  lexemes = line_edits.lexemes_of(line_text)
  for i, x in enumerate(lexemes):
    if x.token == tokens_lib.NAME and x.column < column < x.column + len(x.text):
      break
  else:
    return False
  defined = i > 0 and lexemes[i - 1].text in ("def", "class")
  if defined or not x.text[column - x.column:].isidentifier():
    return False
  on_line = line_edits.known_names(lexemes).get(x.text, 0)
  return not line_edits.is_known(x.text, {x.text: counts.get(x.text, 0) - on_line})


def _unglued(checker: in_file.FileChecker, line_text: str, variant: line_edits.Variant
              ) -> Optional[tuple[str, ...]]:
  """The window's tokens with the name a split cuts in two typed apart (`nameother`
  as `name other`), as the author wrote the line before the slip glued it; None for an
  edit that splits no name. `line_text`: the line as it was before `variant`."""
  if not variant.split:
    return None
  cut = line_text[:variant.column] + " " + line_text[variant.column:]
  made = checker.with_lines({variant.line: cut})
  return None if made is None else made[0]


def search(checker: in_file.FileChecker, error_line: int, error_column: Optional[int],
           message: str, counts: dict[str, int], *, two_steps: bool = True,
           statement_lines: Sequence[int] = (),
           deadline: Optional[float] = None, max_checks: int = 600, max_firsts: int = 12,
           per_first: int = 40, found_per_first: int = 3) -> list[Found]:
  """The one- and (with `two_steps`) two-edit repairs of the blamed line and the line
  before that compile in the file, first steps in the order of `variants`; on the other
  `statement_lines` (where an unmatched closer's statement began), a glued name split
  by an opener."""
  lines = checker.lines
  checks = 0
  out: list[Found] = []
  seen: set[str] = set()

  def spent() -> bool:
    return checks >= max_checks or (deadline is not None and time.monotonic() > deadline)

  firsts = []
  lines_first = [(line, variants(checker, lines, line, error_column, message, counts))
                 for line in (error_line, error_line - 1)]
  for line in sorted(set(statement_lines) - {error_line, error_line - 1}, reverse=True):
    if checker.window.first_line <= line < checker.window.end_line:
      lines_first.append((line, line_edits.splits(lines[line], line, counts, only=OPENERS)))
  owed = _closer_owed(message)
  if owed and two_steps:
    # "'(' was never closed" blames the opener's line; its `)` may have been dropped on a
    # later line of the statement (`) -> T:` of a long def), beside a second slip.
    lines_first.append((None, _owed_closers(checker, lines, owed, error_line + 1,
                                            error_line + 1 + OWED_LINES)))
  owed_firsts = []
  for line, options in lines_first:
    for v in options:
      if spent():
        return out
      made = checker.with_lines({v.line: v.text})
      if made is None:
        continue
      tokens, text, edits = made
      checks += 1
      error = checker.context_error(text)
      if error is None:
        if text not in seen:
          seen.add(text)
          out.append(Found(tokens, text, edits, 1, v.line, hinted(message, v), v.split,
                           _unglued(checker, lines[v.line], v)))
      elif two_steps and line is None:
        if error[2] != message:  # got past the opener
          owed_firsts.append((v, error))
      elif two_steps and (v.split or _after(error, error_line, error_column, v)
                          or (owed and v.inserted == owed and error[2] != message)
                          or _opens(message, v, error)):
        # A glued name split apart is a first step wherever the parser then stops: the
        # second slip may lie before the first (`tupleUnion[str None]`: the comma). So is
        # an opener put in where it changes the complaint, though the parser stops at or
        # before it (`_opens`).
        firsts.append((v, error))
  # The first steps in order (hinted, nearest), and those that got the parser furthest:
  # a `)` anywhere in `f(a: int` gets it past the `(`, but only the one at the end
  # reaches the missing `:`.
  furthest = sorted(firsts, key=lambda f: (f[1][0], f[1][1]), reverse=True)
  chosen = firsts[:max_firsts] + [f for f in furthest[:max_firsts // 2]
                                  if f not in firsts[:max_firsts]]
  # Every glued name split too, however far down the order, and first where the rest of
  # the file never uses the glued name: the line before the blamed one comes after the
  # blamed line's many edits, and the budget with them (`intself.t * 1e9)` with `(` and
  # `,` dropped, blamed as an unexpected indent on the next line).
  splits = [f for f in firsts if f[0].split]
  glued = [f for f in splits if _unknown_glued(lines[f[0].line], f[0].column, counts)]
  firsts = glued + [f for f in chosen if f not in glued] + [
      f for f in splits if f not in glued and f not in chosen]
  # Then the owed closers on later lines that got the parser furthest; most of those
  # lines' closers are wrong, so they come last and few.
  firsts += sorted(owed_firsts, key=lambda f: (f[1][0], f[1][1]),
                   reverse=True)[:OWED_FIRSTS]
  for first, error in firsts:
    if not two_steps:
      break
    new_lines = {first.line: first.text}
    current = list(lines)
    current[first.line] = first.text
    kept = 0
    seconds = variants(checker, current, error[0], error[1], error[2], counts)[:per_first]
    if _closer_owed(error[2]) and error[0] < first.line:
      # The first step (a glued name split) left an opener unclosed above it: its closer
      # may be owed on any line from there to the first step's.
      seconds = _owed_closers(checker, current, _closer_owed(error[2]), error[0] + 1,
                              first.line + 1) + seconds
    for second in seconds:
      if spent():
        return out
      if _cuts_split(first, second):
        continue
      made = checker.with_lines({**new_lines, second.line: second.text})
      if made is None:
        continue
      tokens, text, edits = made
      checks += 1
      if text in seen or not checker.context_parses(text):
        continue
      seen.add(text)
      # The scorer reads a split against the line as typed before the glue (a second
      # step's split only where it is on another line than the first step).
      query = _unglued(checker, lines[first.line], first) or (
          _unglued(checker, lines[second.line], second) if second.line != first.line
          else None)
      out.append(Found(tokens, text, edits, 2, min(first.line, second.line),
                       hinted(message, first), first.split or second.split, query))
      kept += 1
      if kept == found_per_first:
        break
  return out
