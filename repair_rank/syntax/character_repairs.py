"""Character-level repairs of slips inside a token, where token edits cannot reach.

An unterminated string (`print("hello)`), a stray backslash (`x = 1 \\ 2`) or a
curly quote pasted from a document are errors of the tokenizer: the lexer still
gives a token sequence, but no token edit turns the user's text into Python,
because the slip is in the characters of one token. `candidates` makes the few
character edits people need at the error CPython reports:

  unterminated string          the quote closed at the end of the line, or before
                               a closer, `,`, `:`, `;` or `#` after it; the opening
                               quote deleted
  unterminated triple quotes   the quotes closed at the end of the line or the file
  backslash not at a line end  deleted, or made `/`
  curly quotes                 the line's ‘ ’ “ ” made straight

Each candidate is the whole edited text and its edits; the caller lexes it and
ranks it with the token-level repairs (`repair.text_repairs`).
"""
import dataclasses
from typing import Optional

from repair_rank.syntax import parser

_STOPS = ")]},:;#"
_CURLY = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
_PREFIX = "rRbBuUfF"


@dataclasses.dataclass(frozen=True)
class CharEdit:
  """Characters [start, end) of the text become `text` (offsets into the \\n text)."""
  start: int
  end: int
  text: str


@dataclasses.dataclass(frozen=True)
class CharRepair:
  """One character-level repair: the whole edited text and the edits that give it."""
  text: str
  edits: tuple[CharEdit, ...]


def first_error(text: str) -> Optional[SyntaxError]:
  try:
    parser.parse(text)
  except SyntaxError as e:
    return e
  except (ValueError, MemoryError, RecursionError):
    return None
  return None


def in_token(message: str) -> bool:
  """Whether CPython's message names a slip inside a token (one `candidates` handles)."""
  return message.startswith(("unterminated string", "unterminated triple-quoted",
                             "unexpected character after line continuation", "invalid character"))


def _apply(text: str, edits: tuple[CharEdit, ...]) -> str:
  out, cursor = [], 0
  for edit in sorted(edits, key=lambda e: e.start):
    out += [text[cursor:edit.start], edit.text]
    cursor = edit.end
  return "".join(out + [text[cursor:]])


def _string_closings(line: str, line_start: int, column: int, triple: bool,
                     text_end: int) -> list[tuple[CharEdit, ...]]:
  """Closing quotes for the string starting at `column` (its prefix or quote)."""
  quote_at = column
  while quote_at < len(line) and line[quote_at] in _PREFIX:
    quote_at += 1
  if quote_at >= len(line) or line[quote_at] not in "'\"":
    return []
  quote = line[quote_at] * (3 if triple else 1)
  body = quote_at + len(quote)
  end = len(line.rstrip())
  positions = {end}
  if triple:
    return [(CharEdit(line_start + end, line_start + end, quote),),
            (CharEdit(text_end, text_end, quote),)]
  for position in range(body, end):
    if line[position] in _STOPS:
      stop = position
      while stop > body and line[stop - 1] in " \t":
        stop -= 1  # before the spaces: "a" , not "a ",
      positions.add(stop)
  out = [(CharEdit(line_start + p, line_start + p, quote),) for p in sorted(positions)]
  out.append((CharEdit(line_start + quote_at, line_start + quote_at + 1, ""),))
  return out


def candidates(text: str, error: Optional[SyntaxError] = None) -> list[CharRepair]:
  """The character-level repairs of `text`'s first error (newlines as \\n); none when
  the error is not inside a token. Edited texts may still hold token-level errors."""
  error = first_error(text) if error is None else error
  if error is None or not error.lineno or not in_token(str(error.msg)):
    return []
  lines = text.split("\n")
  if error.lineno > len(lines):
    return []
  line_start = sum(len(line) + 1 for line in lines[:error.lineno - 1])
  line = lines[error.lineno - 1]
  column = max((error.offset or 1) - 1, 0)
  message = str(error.msg)
  edits: list[tuple[CharEdit, ...]] = []
  if message.startswith(("unterminated string", "unterminated triple-quoted")):
    text_end = len(text.rstrip())
    edits = _string_closings(line, line_start, min(column, len(line)),
                             message.startswith("unterminated triple"), text_end)
  elif message.startswith("unexpected character after line continuation"):
    slash = line.rfind("\\", 0, min(column, len(line)) + 1)
    if slash >= 0:
      at = line_start + slash
      edits = [(CharEdit(at, at + 1, ""),), (CharEdit(at, at + 1, "/"),)]
  elif message.startswith("invalid character"):
    straight = tuple(CharEdit(line_start + i, line_start + i + 1, _CURLY[c])
                     for i, c in enumerate(line) if c in _CURLY)
    if straight:
      edits = [straight]
  return [CharRepair(_apply(text, e), e) for e in edits]
