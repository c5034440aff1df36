"""The source text behind a file's tokens: where each token is, its text, and the
characters in no token (the repair stage's view of the user's own text).

`tokens.lex_lexemes` gives each token's text and position; layout tokens
(NEWLINE, INDENT, DEDENT) have no text of their own. Offsets are into the
source with its line breaks normalised to \\n (`normalize_newlines`), the
offsets every edit uses.
"""
import codecs
import dataclasses
import io
import re
import tokenize
from typing import Optional, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT


@dataclasses.dataclass(frozen=True)
class ScannedToken:
  """A non-layout token with its source text and 0-based character offset."""
  token: str
  text: str
  offset: int


class DecodeError(ValueError):
  """Bytes that are not the text of a Python file (undecodable, or an unknown encoding)."""


def decode_source(data: bytes) -> str:
  """The text of a Python file's bytes as Python reads them: a UTF-8 BOM, else a PEP 263
  coding declaration on the first two lines (`# -*- coding: latin-1 -*-`), else UTF-8.
  Line breaks are kept as they are (\\r\\n stays). DecodeError says why it cannot."""
  try:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
  except SyntaxError as e:  # an unknown encoding, a BOM against the declaration, not UTF-8
    if "invalid or missing encoding declaration" not in str(e.msg):
      raise DecodeError(str(e.msg)) from None
    encoding = "utf-8"  # the decode below names the byte
  if data.startswith(codecs.BOM_UTF8):  # detect_encoding says utf-8-sig
    encoding, data = "utf-8", data[len(codecs.BOM_UTF8):]
  try:
    return data.decode(encoding)
  except UnicodeDecodeError as e:
    what = ("UTF-8 text, and no coding declaration says otherwise" if encoding == "utf-8"
            else f"{encoding} text (its coding declaration)")
    raise DecodeError(f"not {what} (byte {e.start}: {e.reason})") from None


def line_ending(source: str) -> str:
  """The source's own line break ("\\r\\n", "\\r" or "\\n", the first one met), so that text
  given back to the user keeps it."""
  for index, char in enumerate(source):
    if char == "\r":
      return "\r\n" if source[index + 1:index + 2] == "\n" else "\r"
    if char == "\n":
      return "\n"
  return "\n"


def normalize_newlines(source: str) -> str:
  """`source` with \\r\\n and \\r line breaks as \\n (the offsets every edit uses)."""
  return source.replace("\r\n", "\n").replace("\r", "\n")


def line_starts(text: str) -> list[int]:
  """The offset at which each line of `text` starts (one more: the end plus one)."""
  starts = [0]
  for line in text.split("\n"):
    starts.append(starts[-1] + len(line) + 1)
  return starts


def scan(source: str) -> list[ScannedToken]:
  """The non-layout tokens of `source` with their texts and character offsets."""
  text = normalize_newlines(source)
  starts = line_starts(text)
  return [ScannedToken(lexeme.token, lexeme.text, starts[lexeme.line - 1] + lexeme.column)
          for lexeme in tokens_lib.lex_lexemes(text) if lexeme.token not in LAYOUT]


def token_texts(source: str, tokens: Optional[Sequence[str]] = None
                ) -> tuple[list[Optional[str]], list[int]]:
  """(source text, 1-based line) of each token of `lex(source)`.

  The text is None for layout tokens and wherever the re-scan disagrees with
  `lex`; a layout token gets the line of the token before it.
  """
  tokens = tokens_lib.lex(source) if tokens is None else list(tokens)
  scanned = scan(source)
  normalized = normalize_newlines(source)
  positions = [i for i, tok in enumerate(tokens) if tok not in LAYOUT]
  texts: list[Optional[str]] = [None] * len(tokens)
  offsets: list[Optional[int]] = [None] * len(tokens)
  kinds = [tokens[i] for i in positions]
  scanned_kinds = [s.token for s in scanned]
  if kinds == scanned_kinds:
    pairs = zip(positions, scanned)
  else:
    pairs = []
    for op in Levenshtein.opcodes(kinds, scanned_kinds):
      if op.tag == "equal":
        pairs += zip(positions[op.src_start:op.src_end], scanned[op.dest_start:op.dest_end])
  for i, token in pairs:
    texts[i], offsets[i] = token.text, token.offset
  lines, line = [], 1
  for offset in offsets:
    if offset is not None:
      line = normalized.count("\n", 0, offset) + 1
    lines.append(line)
  return texts, lines


@dataclasses.dataclass(frozen=True)
class Dropped:
  """Characters of the source in no token (outside Python's grammar): `text` on 1-based
  `line`, just before token `before` of `lex(source)` (len(tokens) at the end)."""
  before: int
  line: int
  text: str


_COMMENT_OR_CONTINUATION = re.compile(r"#[^\n]*|\\(?=\n|$)")


def dropped_characters(source: str) -> list[Dropped]:
  """Each run of characters `tokens.lex` skipped: not whitespace, a comment or a line
  continuation, yet in no token, so no repair can keep them."""
  text = normalize_newlines(source)
  starts = line_starts(text)
  out, previous_end = [], 0

  def runs_in(start: int, end: int, before: int) -> None:
    gap = _COMMENT_OR_CONTINUATION.sub(lambda m: " " * len(m.group()), text[start:end])
    for match in re.finditer(r"\S+", gap):
      line = text.count("\n", 0, start + match.start()) + 1
      out.append(Dropped(before, line, match.group()))

  lexemes = tokens_lib.lex_lexemes(text)
  for index, lexeme in enumerate(lexemes):
    if lexeme.token in LAYOUT:
      continue
    start = starts[lexeme.line - 1] + lexeme.column
    runs_in(previous_end, start, index)
    previous_end = start + len(lexeme.text)
  runs_in(previous_end, len(text), len(lexemes))
  return out


def describe_dropped(dropped: Sequence[Dropped]) -> str:
  """E.g. "line 1: drop '×' (U+00D7; not Python)"."""
  def name(text: str) -> str:
    codes = ", ".join(f"U+{ord(c):04X}" for c in text if not c.isascii())
    return f"{text!r} ({codes + '; ' if codes else ''}not Python)"
  return "; ".join(f"line {d.line}: drop {name(d.text)}" for d in dropped)
