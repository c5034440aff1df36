"""Where Python's parser fails on a token sequence, as a token index.

`tokens.is_valid` answers yes or no; a repair search also wants to know
*where* a sequence breaks, to put its edits there. `error_index` renders
exactly as `tokens.render` does (so "no error" is the same verdict as
`tokens.is_valid`), compiles, and maps the `SyntaxError`'s line and column
back to the index of the token there. Layout the data's lexer never emits
(a `tokens.LayoutError`) fails at the offending layout token.
"""
import ast
import dataclasses
from typing import Optional, Sequence

from repair_rank import tokens as tokens_lib

_LAYOUT = frozenset((tokens_lib.NEWLINE, tokens_lib.INDENT, tokens_lib.DEDENT))
_OPENERS, _CLOSERS = frozenset("([{"), frozenset(")]}")
_TEXT = {tok: tokens_lib.PLACEHOLDERS.get(tok, tok) for tok in tokens_lib.ALL_TOKENS}
_UNIT = tokens_lib.INDENT_UNIT


@dataclasses.dataclass(frozen=True)
class ParseError:
  """Why and where a token sequence is not valid.

  index: the token the parser (or the layout rule) stopped at, in 0..len;
    len(tokens) means the end of the input.
  end_index: the last token of the span Python blamed (== index if none).
  message: Python's message, or "layout" for a layout rule.
  """
  index: int
  end_index: int
  message: str

  @property
  def unclosed(self) -> bool:
    """An opening bracket that is never closed (Python blames the opener)."""
    return self.message.endswith("was never closed")


def _layout_error(tokens: Sequence[str]) -> Optional[int]:
  """Index of the first layout token the data's lexer would never emit."""
  level = depth = 0
  previous = tokens_lib.NEWLINE
  for position, tok in enumerate(tokens):
    if tok in _LAYOUT:
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
  """`tokens.render` text (no layout checks) and, per line, (column, token index)."""
  lines: list[str] = []
  starts: list[list[tuple[int, int]]] = []
  line: list[str] = []
  columns: list[tuple[int, int]] = []
  level = 0
  width = 0
  for position, tok in enumerate(tokens):
    if tok == tokens_lib.NEWLINE:
      indent = _UNIT * level
      lines.append(indent + " ".join(line))
      columns.append((len(indent) + width, position))
      starts.append(columns)
      line, columns, width = [], [], 0
    elif tok == tokens_lib.INDENT:
      level += 1
      columns.append((-1, position))
    elif tok == tokens_lib.DEDENT:
      level -= 1
      columns.append((-1, position))
    else:
      text = _TEXT[tok]
      if line:
        width += 1
      columns.append((width, position))
      line.append(text)
      width += len(text)
  if line or columns:
    indent = _UNIT * level
    lines.append(indent + " ".join(line))
    # Columns were counted without the indent of this line; fix them up.
    starts.append(columns)
  text = "\n".join(lines)
  if tokens and tokens[-1] == tokens_lib.NEWLINE:
    text += "\n"
  # Shift token columns by their line's indentation (known only at line end).
  shifted = []
  for number, cols in enumerate(starts):
    indent = len(lines[number]) - len(lines[number].lstrip(" ")) if number < len(lines) else 0
    shifted.append([(c if c < 0 else c + indent, i) for c, i in cols])
  return text, shifted


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


def parse_error(tokens: Sequence[str]) -> Optional[ParseError]:
  """None if `tokens` is valid (same verdict as `tokens.is_valid`), else where it fails.

  Tokens must be in the alphabet (checked by the caller).
  """
  layout = _layout_error(tokens)
  if layout is not None:
    return ParseError(layout, layout, "layout")
  # A DEDENT at a line's start comes before that line's first token, which
  # is what Python blames; columns are only resolved for real tokens.
  text, lines = _render_lines(tokens)
  try:
    compile(text, "<candidate>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
  except SyntaxError as e:
    n = len(tokens)
    index = _index_at(lines, n, e.lineno, e.offset)
    end = index
    if e.end_lineno is not None and e.end_offset:
      end = max(index, _index_at(lines, n, e.end_lineno, e.end_offset - 1))
    return ParseError(index, end, e.msg)
  except (ValueError, MemoryError, RecursionError) as e:
    return ParseError(len(tokens), len(tokens), str(e))
  return None


def is_valid_fast(tokens: Sequence[str]) -> bool:
  """`tokens.is_valid` without building the error location."""
  return tokens_lib.is_valid(tokens)
