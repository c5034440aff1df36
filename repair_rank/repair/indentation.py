"""Layout repairs of IndentationError and TabError (issue 20, item 4).

"unexpected indent", "unindent does not match any outer indentation level",
"expected an indented block" and mixed tabs and spaces are slips of a line's
indentation; token edits of a window can only add or drop INDENT and DEDENT,
which often moves a statement into or out of a block. Here the blamed line
(or the line before it) is re-indented as text, to an indentation the file
already uses around it, in this order:
1. a block header's body (the header's indentation and the file's step), when the
   previous statement is one; the previous statement to that body's level, when it is
   a block's first line indented off the file's step and the blamed line is on it;
2. the previous statement's level, the next one's, and every level that encloses
   the line, nearest its own indentation first (a slip is a few columns; ties:
   the previous statement's, then the next one's);
3. the previous statement re-indented to the blamed line's.
The first layout that compiles in the file (to code: not a `return` taken out of its
def) is `preferred` (`file_ranking`
weighs it), and a repair that re-indents other lines too (`moves_other_lines`:
a token INDENT that takes the next statements into the block) is ranked after
the layouts: a statement is never moved into a block above a layout that keeps
it where it was. So is a layout that takes its own line into or out of the
block it sits in (`crosses_header`: `raise` dedented out of the `for` whose
first line was indented too deep) where the preferred layout does not. Indentation strings are copied from the lines they
come from, so a tab-and-space mix becomes the neighbours' own.
"""
import dataclasses
import difflib
import time
from typing import Optional, Sequence

from repair_rank.repair import in_file
from repair_rank.repair import text_edits
from repair_rank.repair import windows
from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT
_MESSAGES = ("unexpected indent", "unindent does not match", "expected an indented block",
             "inconsistent use of tabs", "unexpected unindent")


def is_indentation_error(message: str) -> bool:
  return message.startswith(_MESSAGES) or "indent" in message or "tabs" in message


@dataclasses.dataclass(frozen=True)
class Layout:
  """Lines re-indented: {0-based line: new text}; `preferred`: the first that compiles."""
  tokens: tuple[str, ...]
  text: str
  edits: tuple[text_edits.TextEdit, ...]
  first_line: int
  preferred: bool
  crosses: bool = False  # takes a line into or out of its block (`crosses_header`)


def _prefix(line: str) -> str:
  return line[:len(line) - len(line.lstrip(" \t"))]


def _width(prefix: str) -> int:
  return len(prefix.expandtabs(8))


def _is_header(lexemes: Sequence[tokens_lib.Lexeme], line: windows.LogicalLine) -> bool:
  """Whether the logical line ends with a colon (a block header)."""
  end = line.end - 1
  while end > line.start and lexemes[end].token in LAYOUT:
    end -= 1
  return lexemes[end].token == ":"


def space_unit(lines: Sequence[str]) -> int:
  """The file's indentation step in spaces: the commonest increase from one line to the
  next (2 in a file indented by two), 4 where no line is indented by spaces."""
  steps: dict[int, int] = {}
  last = None
  for line in lines:
    body = line.lstrip(" ")
    if not body.strip() or body.startswith("#") or "\t" in line[:len(line) - len(body)]:
      continue
    width = len(line) - len(body)
    if last is not None and width > last:
      steps[width - last] = steps.get(width - last, 0) + 1
    last = width
  return max(steps, key=lambda step: (steps[step], -step)) if steps else 4


def targets(lines: Sequence[str], lexemes: Sequence[tokens_lib.Lexeme],
            logical: Sequence[windows.LogicalLine], error_line: int
            ) -> list[dict[int, str]]:
  """The re-indentations to try, in order (see the module docstring)."""
  center = windows.line_at(logical, error_line)
  blamed = logical[center].line
  if blamed >= len(lines):
    return []
  text = lines[blamed]
  body = text.lstrip(" \t")
  own = _prefix(text)
  out: list[dict[int, str]] = []

  def add(line: int, prefix: str) -> None:
    new = prefix + lines[line].lstrip(" \t")
    if new != lines[line] and {line: new} not in out:
      out.append({line: new})

  unit = "\t" if "\t" in own and " " not in own else " " * space_unit(lines)
  previous = logical[center - 1] if center > 0 else None
  if previous is not None and _is_header(lexemes, previous):
    add(blamed, _prefix(lines[previous.line]) + unit)
  before = logical[center - 2] if center > 1 else None
  if (previous is not None and before is not None and _is_header(lexemes, before)
      and _width(_prefix(lines[before.line]) + unit) == _width(own)):
    # The previous statement is off the file's grid (a block's first line indented too
    # deep) and the blamed one on it: the slip is the previous line.
    add(previous.line, _prefix(lines[before.line]) + unit)
  # The levels around the line: the previous statement's, the next one's, and each
  # earlier statement less indented than the last (the blocks that enclose it).
  levels = []
  if previous is not None:
    levels.append(_prefix(lines[previous.line]))
  if center + 1 < len(logical):
    levels.append(_prefix(lines[logical[center + 1].line]))
  width = None
  for line in reversed(logical[:center]):
    prefix = _prefix(lines[line.line])
    if width is None or _width(prefix) < width:
      levels.append(prefix)
      width = _width(prefix)
      if width == 0:
        break
  # Nearest the line's own indentation first (a slip is a few columns), then the
  # previous statement's, then the next one's (the order listed).
  order = sorted(range(len(levels)), key=lambda i: (abs(_width(levels[i]) - _width(own)), i))
  for i in order:
    add(blamed, levels[i])
  if previous is not None and not _is_header(lexemes, previous) and body:
    add(previous.line, own)
  return out


def crosses_header(lines: Sequence[str], lexemes: Sequence[tokens_lib.Lexeme],
                   logical: Sequence[windows.LogicalLine], new_lines: dict[int, str]) -> bool:
  """Whether re-indenting as `new_lines` takes a line into or out of the block it sits
  in: the nearest block header above it indented less than the line was or will be
  has the line on one side of its indentation before and on the other after."""
  for line, new in new_lines.items():
    old_width, new_width = _width(_prefix(lines[line])), _width(_prefix(new))
    for header in reversed(logical[:windows.line_at(logical, line)]):
      width = _width(_prefix(lines[header.line]))
      if header.line < line and width < max(old_width, new_width) and _is_header(lexemes,
                                                                                header):
        if (old_width > width) != (new_width > width):
          return True
        break
  return False


def search(checker: in_file.FileChecker, lines: Sequence[str],
           lexemes: Sequence[tokens_lib.Lexeme], logical: Sequence[windows.LogicalLine],
           error_line: int, *, deadline: Optional[float] = None) -> list[Layout]:
  """The re-indentations (`targets`) that compile in the file, in order."""
  out: list[Layout] = []
  for new_lines in targets(lines, lexemes, logical, error_line):
    if deadline is not None and time.monotonic() > deadline:
      break
    made = checker.relaid(new_lines)
    if made is None:
      continue
    tokens, text, edits = made
    if checker.context_parses(text):
      out.append(Layout(tokens, text, edits, min(new_lines), preferred=False,
                        crosses=crosses_header(lines, lexemes, logical, new_lines)))
  # Preferred: the first that compiles to code, not one that parses only (`return`
  # taken out of its def to the level of the next statement, as near as its own).
  first = next((i for i, layout in enumerate(out) if checker.is_code(layout.text)), 0)
  return [dataclasses.replace(layout, preferred=i == first) for i, layout in enumerate(out)]


def moves_other_lines(text: str, repaired: str, lines: set[int]) -> bool:
  """Whether `repaired` re-indents a line of `text` outside `lines` (the lines a layout
  repair re-indents): an INDENT that takes the next statements into a block changes
  what they do, where re-indenting the slipped line alone keeps them."""
  old, new = text.split("\n"), repaired.split("\n")
  if len(old) == len(new):
    pairs = enumerate(zip(old, new))
  else:  # a repair that breaks or joins lines: pair the lines whose text it kept
    same = 0  # the lines before its first change, which it cannot have moved
    while same < min(len(old), len(new)) and old[same] == new[same]:
      same += 1
    matcher = difflib.SequenceMatcher(None, [a.strip() for a in old[same:]],
                                      [b.strip() for b in new[same:]], autojunk=False)
    pairs = ((same + block.a + k, (old[same + block.a + k], new[same + block.b + k]))
             for block in matcher.get_matching_blocks() for k in range(block.size))
  return any(i not in lines and a != b and a.strip() == b.strip() and a.strip()
             for i, (a, b) in pairs)
