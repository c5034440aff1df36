"""Where Python's parser fails on a token sequence, as a token index.

`tokens.is_valid` answers yes or no; a repair search also wants to know
*where* a sequence breaks, to put its edits there. `error_index` renders
exactly as `tokens.render` does (so "no error" is the same verdict as
`tokens.is_valid`), compiles, and maps the `SyntaxError`'s line and column
back to the index of the token there. Layout the data's lexer never emits
(a `tokens.LayoutError`) fails at the offending layout token.
"""
import dataclasses
from typing import Optional, Sequence

from repair_rank.syntax import parser
from repair_rank.syntax import tokens as tokens_lib

_OPENERS, _CLOSERS = frozenset(tokens_lib.OPENERS), frozenset(tokens_lib.CLOSERS)
_UNIT = tokens_lib.INDENT_UNIT


@dataclasses.dataclass(frozen=True)
class ParseError:
  """Why and where a token sequence is not valid.

  index: the token the parser (or the layout rule) stopped at, in 0..len;
    len(tokens) means the end of the input.
  end_index: the last token of the span Python blamed (== index if none).
  message: Python's message, or "layout" for a layout rule.
  last_read: where known, the last token Python's parser read before it gave
    up, so that no edit after it can make the sequence valid; else None.
  """
  index: int
  end_index: int
  message: str
  last_read: Optional[int] = None

  @property
  def unclosed(self) -> bool:
    """An opening bracket that is never closed (Python blames the opener)."""
    return self.message.endswith("was never closed")


def _layout_error(tokens: Sequence[str]) -> Optional[int]:
  """Index of the first layout token the data's lexer would never emit."""
  level = depth = 0
  previous = tokens_lib.NEWLINE
  for position, tok in enumerate(tokens):
    if tok in tokens_lib.LAYOUT:
      if depth > 0:
        return position
      if tok == tokens_lib.INDENT:
        if previous != tokens_lib.NEWLINE or position == 0:
          return position
        level += 1
      elif tok == tokens_lib.DEDENT:
        if previous not in (tokens_lib.NEWLINE, tokens_lib.DEDENT) or position == 0 or not level:
          return position
        level -= 1
    elif tok in _OPENERS:
      depth += 1
    elif tok in _CLOSERS:
      depth -= 1
    previous = tok
  return None


def _render_lines(tokens: Sequence[str]) -> tuple[str, list[list[tuple[int, int]]]]:
  """`tokens.render` text (no layout checks) and, per line, (column, token index).

  Columns are 0-based; layout tokens get column -1 except NEWLINE, which sits
  just past its line's last character.
  """
  lines: list[str] = []
  spans: list[list[tuple[int, int]]] = []
  line: list[str] = []
  columns: list[tuple[int, int]] = []
  level = width = 0
  for position, tok in enumerate(tokens):
    if tok == tokens_lib.NEWLINE:
      indent = len(_UNIT) * level
      lines.append(_UNIT * level + " ".join(line))
      columns.append((width, position))
      spans.append([(c if c < 0 else c + indent, i) for c, i in columns])
      line, columns, width = [], [], 0
    elif tok == tokens_lib.INDENT:
      level += 1
      columns.append((-1, position))
    elif tok == tokens_lib.DEDENT:
      level -= 1
      columns.append((-1, position))
    else:
      if line:
        width += 1
      columns.append((width, position))
      line.append(tokens_lib.PLAIN_TEXT[tok])
      width += len(tokens_lib.PLAIN_TEXT[tok])
  if line or columns:
    indent = len(_UNIT) * level
    if line:
      lines.append(_UNIT * level + " ".join(line))
    spans.append([(c if c < 0 else c + indent, i) for c, i in columns])
  text = "\n".join(lines)
  if tokens and tokens[-1] == tokens_lib.NEWLINE:
    text += "\n"
  return text, spans


def _index_at(lines: list[list[tuple[int, int]]], n: int, lineno: Optional[int],
              offset: Optional[int]) -> int:
  """The token at a 1-based (line, column) of the rendered text."""
  if lineno is None or lineno < 1 or lineno > len(lines):
    return n
  cols = lines[lineno - 1]
  if not cols:
    return n
  column = (offset or 1) - 1
  best = None
  for col, index in cols:
    if col < 0:
      continue
    if col <= column:
      best = index
    else:
      break
  if best is None:
    best = next((i for c, i in cols if c >= 0), cols[0][1])
  return best


def _last_read(lines: list[list[tuple[int, int]]], error: SyntaxError) -> Optional[int]:
  """The token CPython's parser stopped at, when a generic error names it exactly.

  CPython parses lazily: its first pass stops at the first token no rule
  accepts, and a plain "invalid syntax" (no better message from its second
  pass) is reported at the last token that pass read. Tokens after it were
  never read, so no edit there can change the verdict. Trusted only when the
  reported column is the start of one of our tokens (not, say, the end of
  the input); the neighbour validity check in `repair_rank.generator.neighbours` relies on it and
  launch/analysis/check_neighbour_validity.py verifies it against full parses.
  """
  if error.msg != "invalid syntax" or error.lineno is None or error.offset is None:
    return None
  if not 1 <= error.lineno <= len(lines):
    return None
  column = error.offset - 1
  return next((index for col, index in lines[error.lineno - 1] if col == column), None)


def parse_error(tokens: Sequence[str]) -> Optional[ParseError]:
  """None if `tokens` is valid (the verdict of `tokens.is_valid`), else where it fails.

  The text compiled is `tokens.render`'s, so the verdict is the same by
  construction; `_render_lines` only locates the error. Tokens must be in the
  alphabet (checked by the caller).
  """
  try:
    text = tokens_lib.render(tokens)
  except tokens_lib.LayoutError:
    layout = _layout_error(tokens)
    layout = len(tokens) if layout is None else layout
    return ParseError(layout, layout, "layout")
  try:
    parser.parse(text, "<candidate>")
  except SyntaxError as e:
    n = len(tokens)
    _, lines = _render_lines(tokens)
    index = _index_at(lines, n, e.lineno, e.offset)
    end = index
    if e.end_lineno is not None and e.end_offset:
      end = max(index, _index_at(lines, n, e.end_lineno, e.end_offset - 1))
    return ParseError(index, end, e.msg, _last_read(lines, e))
  except (ValueError, MemoryError, RecursionError) as e:
    return ParseError(len(tokens), len(tokens), str(e))
  return None
