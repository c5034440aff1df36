"""Python lexical tokens: lexing, the charified form, rendering and validity.

Token sequences use exactly the alphabet of the StackOverflow data: `NAME`,
`NUMBER`, `STRING`, the 35 keywords, the 47 operators and delimiters, and the
layout tokens `NEWLINE`, `INDENT`, `DEDENT`.
"""
import re
from typing import Iterable, NamedTuple, Sequence

from repair_rank.syntax import parser

NAME, NUMBER, STRING = "NAME", "NUMBER", "STRING"
NEWLINE, INDENT, DEDENT = "NEWLINE", "INDENT", "DEDENT"

KEYWORDS = (
    "False", "None", "True", "and", "as", "assert", "async", "await", "break",
    "class", "continue", "def", "del", "elif", "else", "except", "finally",
    "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield")

OPERATORS = (
    "!=", "%", "%=", "&", "&=", "(", ")", "*", "**", "**=", "*=", "+", "+=",
    ",", "-", "-=", "->", ".", "...", "/", "//", "//=", "/=", ":", ":=", ";",
    "<", "<<", "<<=", "<=", "=", "==", ">", ">=", ">>", ">>=", "@", "@=", "[",
    "]", "^", "^=", "{", "|", "|=", "}", "~")

# --- The charified form -------------------------------------------------------
# One printable ASCII character per token. Version 1 of the alphabet:
# single-character operators stand for themselves, the rest are listed below.
# Never reorder: stored datasets and trained vocabularies depend on it; add a
# new version instead.
CHARIFY_ALPHABET_VERSION = 1
_NAMED_CHARS = {
    NAME: "n", NUMBER: "1", STRING: "s", NEWLINE: "$", INDENT: "`", DEDENT: "'",
    # Keywords: capital letters, then the remaining lower-case ones.
    "False": "F", "None": "N", "True": "T", "and": "A", "as": "S",
    "assert": "B", "async": "C", "await": "W", "break": "K", "class": "L",
    "continue": "O", "def": "D", "del": "X", "elif": "E", "else": "Z",
    "except": "J", "finally": "Y", "for": "R", "from": "M", "global": "G",
    "if": "I", "import": "P", "in": "H", "is": "Q", "lambda": "U",
    "nonlocal": "V", "not": "!", "or": "o", "pass": "p", "raise": "r",
    "return": "t", "try": "y", "while": "w", "with": "h", "yield": "i",
    # Multi-character operators.
    "!=": "#", "%=": "a", "&=": "b", "**": "c", "**=": "d", "*=": "e",
    "+=": "f", "-=": "g", "->": "j", "...": "k", "//": "l", "//=": "m",
    "/=": "q", ":=": "u", "<<": "v", "<<=": "x", "<=": "z", "==": "0",
    ">=": "2", ">>": "3", ">>=": "4", "@=": "5", "^=": "6", "|=": "7",
}

TOKEN_TO_CHAR: dict[str, str] = {
    **{op: op for op in OPERATORS if len(op) == 1}, **_NAMED_CHARS}
CHAR_TO_TOKEN: dict[str, str] = {c: t for t, c in TOKEN_TO_CHAR.items()}
# Every token the lexer can produce, in a fixed order (used for vocabularies).
ALL_TOKENS: tuple[str, ...] = (NAME, NUMBER, STRING, NEWLINE, INDENT, DEDENT,
                               *KEYWORDS, *OPERATORS)

assert len(CHAR_TO_TOKEN) == len(TOKEN_TO_CHAR) == len(ALL_TOKENS), "charify table is not a bijection"
assert set(TOKEN_TO_CHAR) == set(ALL_TOKENS), "charify table misses a token"
assert all(c.isascii() and c.isprintable() and c != " " for c in CHAR_TO_TOKEN)


# The tables other modules share (one home each).
LAYOUT = frozenset((NEWLINE, INDENT, DEDENT))
OPENERS: tuple[str, ...] = ("(", "[", "{")
CLOSERS: tuple[str, ...] = (")", "]", "}")
BRACKETS = frozenset(OPENERS + CLOSERS)

_KEYWORD_SET = frozenset(KEYWORDS)
_OPENERS, _CLOSERS = frozenset(OPENERS), frozenset(CLOSERS)
KEYWORDS_AND_OPERATORS = frozenset(KEYWORDS) | frozenset(OPERATORS) - _CLOSERS


class UnknownTokenError(ValueError):
  """A token or character outside repair_rank's alphabet."""


def charify(tokens: Iterable[str]) -> str:
  """Maps a token sequence to a string with one printable ASCII character per token."""
  out = []
  for position, tok in enumerate(tokens):
    char = TOKEN_TO_CHAR.get(tok)
    if char is None:
      raise UnknownTokenError(f"unknown token {tok!r} at position {position}")
    out.append(char)
  return "".join(out)


def uncharify(text: str) -> list[str]:
  """Inverse of `charify`."""
  out = []
  for position, char in enumerate(text):
    tok = CHAR_TO_TOKEN.get(char)
    if tok is None:
      raise UnknownTokenError(f"unknown character {char!r} at position {position}")
    out.append(tok)
  return out


def check_tokens(tokens: Sequence[str]) -> None:
  """Raises `UnknownTokenError` naming the first token outside the alphabet."""
  for position, tok in enumerate(tokens):
    if tok not in TOKEN_TO_CHAR:
      raise UnknownTokenError(f"unknown token {tok!r} at position {position}")


# --- Rendering and validity ---------------------------------------------------
# Concrete stand-ins for the abstract tokens: enough for Python's parser.
PLACEHOLDERS = {NAME: "x", NUMBER: "1", STRING: "'s'"}
# The text each token renders as (a placeholder, or the token itself).
PLAIN_TEXT: dict[str, str] = {tok: PLACEHOLDERS.get(tok, tok) for tok in ALL_TOKENS}
INDENT_UNIT = "    "
_NO_SPACE_BEFORE = frozenset(("(", ")", "[", "]", "}", ",", ":", ".", ";"))
_NO_SPACE_AFTER = frozenset(("(", "[", "{", ".", "~"))


def spaced(previous: str, tok: str) -> bool:
  """Whether readable Python puts a space between tokens `previous` and `tok`
  (`render(pretty=True)`'s rule: none around brackets and dots, except `if (`)."""
  return not ((tok in _NO_SPACE_BEFORE or previous in _NO_SPACE_AFTER)
              and not (tok in ("(", "[") and previous in KEYWORDS_AND_OPERATORS))


class LayoutError(ValueError):
  """NEWLINE/INDENT/DEDENT where the data's lexer never puts them."""


def render(tokens: Sequence[str], *, pretty: bool = False) -> str:
  """Concrete Python text for a token sequence: NAME->x, NUMBER->1, STRING->'s'.

  NEWLINE, INDENT and DEDENT become real line breaks and indentation. Raises
  `LayoutError` for layout the data's lexer never emits: a layout token inside
  brackets, INDENT anywhere but right after NEWLINE, DEDENT anywhere but at the
  start of a line, or more DEDENTs than INDENTs. `pretty` drops the spaces
  around brackets and dots for display; the default spacing is what the
  validity check parses.
  """
  lines: list[str] = []
  line: list[str] = []
  level = depth = 0
  previous = NEWLINE  # a virtual line start before the first token
  for position, tok in enumerate(tokens):
    if tok in LAYOUT:
      if depth > 0:
        raise LayoutError(f"{tok} inside brackets at position {position}")
      if tok == NEWLINE:
        lines.append(INDENT_UNIT * level + "".join(line))
        line = []
      elif tok == INDENT:
        if previous != NEWLINE or position == 0:
          raise LayoutError(f"INDENT not right after NEWLINE at position {position}")
        level += 1
      else:
        if previous not in (NEWLINE, DEDENT) or position == 0:
          raise LayoutError(f"DEDENT not at the start of a line at position {position}")
        if level == 0:
          raise LayoutError(f"DEDENT without a matching INDENT at position {position}")
        level -= 1
    else:
      text = PLACEHOLDERS.get(tok, tok)
      if tok not in TOKEN_TO_CHAR:
        raise UnknownTokenError(f"unknown token {tok!r} at position {position}")
      if line and (not pretty or spaced(previous, tok)):
        line.append(" ")
      line.append(text)
      if tok in _OPENERS:
        depth += 1
      elif tok in _CLOSERS:
        depth -= 1
    previous = tok
  if line:
    lines.append(INDENT_UNIT * level + "".join(line))
  text = "\n".join(lines)
  # A final NEWLINE (before any closing DEDENTs) ends the text with a line break.
  last = next((t for t in reversed(tokens) if t != DEDENT), None)
  return text + "\n" if last == NEWLINE else text


def is_valid(tokens: Sequence[str]) -> bool:
  """Whether a token sequence is Python the data's lexer could have produced.

  Asks Python's own parser about `render(tokens)`; layout the lexer never
  emits (see `render`) is invalid too, so candidates never carry that artefact.
  """
  try:
    text = render(tokens)
  except LayoutError:
    return False
  return parser.parses(text)


# --- Lexing -------------------------------------------------------------------
# A forgiving re-implementation of Python's tokenizer that never raises and
# reproduces the StackOverflow data's conventions (measured in BENCHMARKS.md):
#  * comments and blank lines vanish, except that comment lines before the first
#    token become one NEWLINE;
#  * a source that does not end in a line break has no final NEWLINE unless
#    DEDENTs follow it (the implicit NEWLINE of `tokenize` is dropped);
#  * unterminated strings run to the end of the line (triple-quoted: to the end
#    of the source) and count as one STRING; characters outside the grammar
#    (`$`, `?`, a lone `!`, ...) are skipped; unbalanced closers never make the
#    bracket depth negative; an inconsistent dedent dedents to the next level.
_LEXED_OPERATORS = [op for op in OPERATORS if op != ":="]
_OPERATOR_RE = re.compile("|".join(
    re.escape(op) for op in sorted(_LEXED_OPERATORS, key=len, reverse=True)))
_DIGITS = r"[0-9](?:_?[0-9])*"
_EXPONENT = rf"[eE][-+]?{_DIGITS}"
_FLOAT = (rf"(?:{_DIGITS}\.(?:{_DIGITS})?|\.{_DIGITS})(?:{_EXPONENT})?"
          rf"|{_DIGITS}{_EXPONENT}")
# Order matters as in `tokenize`: imaginary, float, then int, where a decimal
# int cannot have leading zeros (so `0091` is two NUMBERs, as in the data).
_NUMBER_RE = re.compile(
    rf"{_DIGITS}[jJ]|(?:{_FLOAT})[jJ]|{_FLOAT}"
    r"|0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+"
    r"|0(?:_?0)*|[1-9](?:_?[0-9])*")
_STRING_START_RE = re.compile(
    r"(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])?('''|\"\"\"|'|\")")
_NAME_RE = re.compile(r"[^\W\d]\w*")


def _string_end(line: str, start: int, quote: str) -> int:
  """Index just past the closing `quote` in `line` from `start`, or -1."""
  i = start
  while True:
    j = line.find(quote, i)
    if j < 0:
      return -1
    backslashes = 0
    while j - backslashes > start and line[j - backslashes - 1] == "\\":
      backslashes += 1
    if backslashes % 2 == 0:
      return j + len(quote)
    i = j + 1


def _indent_column(line: str) -> tuple[int, int]:
  """(column, index of first non-blank char) with tabs to multiples of 8."""
  column = 0
  for i, char in enumerate(line):
    if char == " ":
      column += 1
    elif char == "\t":
      column = (column // 8 + 1) * 8
    elif char == "\f":
      column = 0
    else:
      return column, i
  return column, len(line)


class Lexeme(NamedTuple):
  """One token as lexed: its kind, source text ('' for layout), 1-based line and 0-based column."""
  token: str
  text: str
  line: int
  column: int = 0


def lex(source: str) -> list[str]:
  """Lexes Python source into the data's token alphabet; never raises."""
  return [lexeme.token for lexeme in lex_lexemes(source)]


def lex_lexemes(source: str) -> list[Lexeme]:
  """`lex` with each token's source text and line, e.g. to restore names in a repair."""
  lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
  ends_with_newline = len(lines) > 1 and lines[-1] == ""
  if ends_with_newline:
    lines.pop()
  out: list[Lexeme] = []
  indents = [0]
  depth = 0             # bracket nesting; unbalanced closers make it negative
  open_quote = None     # the quote of a string continued onto the next line
  continued = False     # the previous line ended in a backslash

  def last() -> str | None:
    return out[-1].token if out else None

  for line_number, line in enumerate(lines, start=1):
    pos = 0
    if open_quote is not None:
      end = _string_end(line, 0, open_quote)
      string = out[-1]
      if end < 0:
        out[-1] = string._replace(text=string.text + "\n" + line)
        if len(open_quote) == 1 and not line.endswith("\\"):
          open_quote = None  # an unterminated continued string ends here
        continue
      out[-1] = string._replace(text=string.text + "\n" + line[:end])
      open_quote, pos = None, end
    elif depth <= 0 and not continued:  # a new logical line
      column, pos = _indent_column(line)
      if pos == len(line) or line[pos] == "#":
        if not out and pos < len(line):
          out.append(Lexeme(NEWLINE, "", line_number))  # leading comments: one NEWLINE
        # A whitespace-only last line without a line break is a blank logical
        # line of its own (indented, dedented and ended as any other).
        if not (out and line_number == len(lines) and 0 < pos == len(line)):
          continue
      if column > indents[-1]:
        if not out:
          out.append(Lexeme(NEWLINE, "", line_number))  # the data marks an indented first line so
        indents.append(column)
        out.append(Lexeme(INDENT, "", line_number))
      while column < indents[-1]:
        indents.pop()
        out.append(Lexeme(DEDENT, "", line_number))
    continued = False
    while pos < len(line):
      char = line[pos]
      if char in " \t\f":
        pos += 1
      elif char == "#":
        break
      elif char == "\\":
        pos += 1
        continued = pos == len(line)
      elif (match := _STRING_START_RE.match(line, pos)):
        quote = match.group(1)
        end = _string_end(line, match.end(), quote)
        out.append(Lexeme(STRING, line[pos:end if end >= 0 else len(line)], line_number, pos))
        if end < 0:
          # Triple quotes run on; single quotes only after a backslash.
          if len(quote) == 3 or line.endswith("\\"):
            open_quote = quote
          break
        pos = end
      elif char.isdigit() or (char == "." and line[pos + 1:pos + 2].isdigit()):
        match = _NUMBER_RE.match(line, pos)
        if match is None:  # a non-ASCII digit: skip it
          pos += 1
          continue
        out.append(Lexeme(NUMBER, match.group(), line_number, pos))
        pos = match.end()
      elif (match := _NAME_RE.match(line, pos)):
        word = match.group()
        out.append(Lexeme(word if word in _KEYWORD_SET else NAME, word, line_number, pos))
        pos = match.end()
      elif (match := _OPERATOR_RE.match(line, pos)):
        op = match.group()
        depth += (op in _OPENERS) - (op in _CLOSERS)
        out.append(Lexeme(op, op, line_number, pos))
        pos = match.end()
      else:
        pos += 1
    if open_quote is None and not continued and depth <= 0:
      out.append(Lexeme(NEWLINE, "", line_number))
  final_line = len(lines)
  # As `tokenize`, an implicit NEWLINE closes a last line with no line break.
  if out and last() != NEWLINE and not ends_with_newline:
    out.append(Lexeme(NEWLINE, "", final_line))
  while len(indents) > 1:
    indents.pop()
    out.append(Lexeme(DEDENT, "", final_line))
  if not ends_with_newline and last() == NEWLINE:
    out.pop()
  return out
