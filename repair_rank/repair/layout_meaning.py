"""Whether a repair's layout changes what the code does (issue 22, item 2).

In a file that mixes tabs and spaces the lexer's reading of the indentation is
a guess, and repairs that add INDENT/DEDENT tokens all parse; but the user's own
indentation still says which lines belong together: two lines indented by the
same characters are at the same block level, and a line whose indentation
extends another's is inside it. A repair that puts `\\treturn 2` into the block
of an `if` indented by the same `\\t` moves a statement into a block: it changes
the meaning. `changes_meaning` finds such repairs; the ranking puts them below
every repair that keeps the meaning (`keep_meaning_first`). The same reading holds in any
file for a repair that breaks a line into a block: `if a == 1 print(a)` made
`if a == 1:` + an indented `print(a)` must not take the next line, `b = 2`, in with it
(`text_repairs.snippet_fixes`).
"""
from typing import Callable, Sequence, TypeVar

from rapidfuzz.distance import Levenshtein

from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT
T = TypeVar("T")


def _indentation(line: str) -> str:
  return line[:len(line) - len(line.lstrip(" \t\f"))]


def mixes_tabs_and_spaces(text: str) -> bool:
  """Whether the indentation of `text`'s lines uses both tabs and spaces."""
  used = set("".join(_indentation(line) for line in text.split("\n") if line.strip()))
  return "\t" in used and " " in used


def _levels(tokens: Sequence[str]) -> list[int]:
  out, level = [], 0
  for tok in tokens:
    out.append(level)
    level += (tok == tokens_lib.INDENT) - (tok == tokens_lib.DEDENT)
  return out


def _starts_line(tokens: Sequence[str], i: int) -> bool:
  j = i - 1
  while j >= 0 and tokens[j] in (tokens_lib.INDENT, tokens_lib.DEDENT):
    j -= 1
  return j < 0 or tokens[j] == tokens_lib.NEWLINE


def changes_meaning(text: str, lexemes: Sequence[tokens_lib.Lexeme],
                    candidate: Sequence[str]) -> bool:
  """Whether `candidate` (a repair of the lexemes of `text`) puts a statement at a block
  level its indentation contradicts: the same indentation as the last comparable line
  before it (equal, or one a prefix of the other) at another level, a longer one not
  deeper, a shorter one not shallower."""
  lines = text.split("\n")
  query = [lexeme.token for lexeme in lexemes]
  levels = _levels(candidate)
  kept: list[tuple[str, int]] = []  # (indentation, level in the candidate) per statement line
  for op in Levenshtein.opcodes(query, list(candidate)):
    if op.tag != "equal":
      continue
    for i, j in zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end)):
      lexeme = lexemes[i]
      if (lexeme.token in LAYOUT or not _starts_line(query, i)
          or not _starts_line(candidate, j) or lexeme.line > len(lines)):
        continue
      indentation = _indentation(lines[lexeme.line - 1])
      if len(indentation) == lexeme.column:  # the first token of its physical line
        kept.append((indentation, levels[j]))
  for k, (indentation, level) in enumerate(kept):
    for before, before_level in reversed(kept[:k]):
      if indentation == before:
        if level != before_level:
          return True
        break
      if indentation.startswith(before):
        if level <= before_level:
          return True
        break
      if before.startswith(indentation):
        if level >= before_level:
          return True
        break
  return False


def keep_meaning_first(items: Sequence[T], changes: Sequence[bool],
                       demote: Callable[[T], T] = lambda item: item) -> list[T]:
  """`items` (best first) with those whose `changes` is True moved below the rest, each
  part in its order and each moved one passed through `demote` (say, to cap its
  confidence): a repair that changes meaning is never above one that keeps it."""
  return ([item for item, changed in zip(items, changes) if not changed]
          + [demote(item) for item, changed in zip(items, changes) if changed])
