"""Repairs as minimal text edits of the user's source (the page and the editor server).

A repair is a token sequence; an editor wants the user's own text back with the
fewest characters changed. `minimal_edits` aligns the candidate to the source's
lexemes (Levenshtein opcodes, as `show_repair` does) and edits only where the
tokens differ: deleted tokens are cut, inserted ones written in (names,
numbers and strings as the placeholders x, 1 and 's'), a line whose block
level changed is re-indented with the file's own indentation. The result is
lexed again and must give exactly the candidate; where it does not (a rare
layout edit), the repaired region is laid out afresh as `show_repair` does.
"""
import dataclasses
from typing import Optional, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank.repair import ranked
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank.syntax import parser
from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT


@dataclasses.dataclass(frozen=True)
class TextEdit:
  """Characters [start, end) of the (newline-normalised) source become `text`."""
  start: int
  end: int
  text: str


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
  """`text` with non-overlapping `edits` applied (an insertion before a deletion at one offset)."""
  out, cursor = [], 0
  for edit in sorted(edits, key=lambda e: (e.start, e.end)):
    out += [text[cursor:edit.start], edit.text]
    cursor = max(cursor, edit.end)
  out.append(text[cursor:])
  return "".join(out)


def _first_on_line(tokens: Sequence[str], i: int, start: int = 0) -> bool:
  """Whether token i (not layout) begins a logical line: only INDENT/DEDENT since a NEWLINE."""
  j = i - 1
  while j >= start and tokens[j] in (tokens_lib.INDENT, tokens_lib.DEDENT):
    j -= 1
  return j < start or tokens[j] == tokens_lib.NEWLINE


def _levels(tokens: Sequence[str]) -> list[int]:
  """The block level (INDENTs minus DEDENTs) before each token."""
  out, level = [], 0
  for tok in tokens:
    out.append(level)
    level += (tok == tokens_lib.INDENT) - (tok == tokens_lib.DEDENT)
  return out


class _Layout:
  """Where each lexeme of a stretch of `text` is, and the file's indentation per block level."""

  def __init__(self, text: str, lexemes: Sequence[tokens_lib.Lexeme]):
    self.text = text
    self.query = [lexeme.token for lexeme in lexemes]
    starts = source_text.line_starts(text)
    self.starts, self.ends, anchor = [], [], None
    for lexeme in lexemes:  # a layout token sits at the end of the token before it
      if lexeme.token in LAYOUT:
        position = anchor if anchor is not None else (
            starts[lexeme.line - 1] if lexeme.line - 1 < len(starts) else len(text))
        self.starts.append(position)
        self.ends.append(position)
      else:
        start = starts[lexeme.line - 1] + lexeme.column
        self.starts.append(start)
        self.ends.append(start + len(lexeme.text))
        anchor = self.ends[-1]
    self.line_start = [starts[lexeme.line - 1] for lexeme in lexemes]
    self.visible = [i for i, tok in enumerate(self.query) if tok not in LAYOUT]
    self.levels = _levels(self.query)
    self.indents: dict[int, str] = {}  # block level -> the file's indentation of it
    for i in self.visible:
      if _first_on_line(self.query, i):
        self.indents.setdefault(self.levels[i], text[self.line_start[i]:self.starts[i]])
    first, second = self.indents.get(0), self.indents.get(1)
    self.unit = (second[len(first):] if first is not None and second is not None
                 and second.startswith(first) and len(second) > len(first)
                 else tokens_lib.INDENT_UNIT)

  def indent(self, level: int) -> str:
    """The indentation of block `level`: the file's own, or one more unit per level."""
    if level in self.indents:
      return self.indents[level]
    known = max((k for k in self.indents if k <= level), default=0)
    first = self.visible[0]
    return (self.indents.get(known, self.text[self.line_start[first]:self.starts[first]])
            + self.unit * (level - known))

  def left_end(self, i: int) -> int:
    """End of the last non-layout token before index i (the first token's start if none)."""
    j = i - 1
    while j >= 0 and self.query[j] in LAYOUT:
      j -= 1
    return self.ends[j] if j >= 0 else self.starts[self.visible[0]]

  def next_start(self, i: int) -> Optional[int]:
    """Start of the first non-layout token at or after index i (None at the end)."""
    j = i
    while j < len(self.query) and self.query[j] in LAYOUT:
      j += 1
    return self.starts[j] if j < len(self.query) else None


def _deletions(layout: _Layout, op) -> Optional[list[TextEdit]]:
  """Edits cutting the query tokens of a Levenshtein opcode; None for a line join that
  would swallow a comment or a line continuation."""
  text, query, edits = layout.text, layout.query, []
  for i in range(op.src_start, op.src_end):
    if query[i] == tokens_lib.NEWLINE:  # join the next line onto this one
      after, gap_start = layout.next_start(i + 1), layout.left_end(i)
      if after is None:
        continue  # the last line break: the file may keep it (`_same_tokens`)
      if "#" in text[gap_start:after] or "\\" in text[gap_start:after]:
        return None
      edits.append(TextEdit(gap_start, after, " "))
    elif query[i] not in LAYOUT:
      end = layout.ends[i]
      start = layout.starts[i]
      if op.tag == "delete" and (start == 0 or text[start - 1] in " \t\n"):
        while end < len(text) and text[end] in " \t":
          end += 1  # no double space where a token was
      edits.append(TextEdit(start, end, ""))
  return edits


def _inserted_text(layout: _Layout, op, candidate: Sequence[str],
                   candidate_levels: Sequence[int]) -> str:
  """The candidate tokens of an opcode as text: placeholders, readable spacing, and line
  breaks indented as the file indents that block (one the file already has is left out)."""
  run = candidate[op.dest_start:op.dest_end]
  pieces, previous = [], None
  for offset, tok in enumerate(run):
    if tok == tokens_lib.NEWLINE:
      j = op.dest_start + offset + 1
      while j < len(candidate) and candidate[j] in LAYOUT:
        j += 1
      pieces.append("\n" + (layout.indent(candidate_levels[j]) if j < len(candidate) else ""))
      previous = None
    elif tok not in LAYOUT:
      if previous is not None and tokens_lib.spaced(previous, tok):
        pieces.append(" ")
      pieces.append(tokens_lib.PLAIN_TEXT[tok])
      previous = tok
  text = layout.text
  if (pieces and pieces[-1].startswith("\n") and not text[layout.left_end(op.src_start):].strip()
      and all(t in LAYOUT for t in candidate[op.dest_end:])):
    pieces.pop()  # the file's own last line break ends the repaired last line
  elif pieces and pieces[-1].startswith("\n") and run[-1] == tokens_lib.NEWLINE:
    gap = text[layout.left_end(op.src_start):layout.next_start(op.src_end) or len(text)]
    if "\n" in gap and not gap.strip():
      pieces.pop()  # a line break is already there (inside the unclosed brackets)
  return "".join(pieces)


def _insertion(layout: _Layout, op, candidate: Sequence[str],
               candidate_levels: Sequence[int]) -> Optional[TextEdit]:
  """The edit writing in the candidate tokens of an opcode, placed and spaced as a
  person would: `for x in items`, `print('hi')`, `(a + x)`."""
  run = candidate[op.dest_start:op.dest_end]
  inserted = _inserted_text(layout, op, candidate, candidate_levels)
  shown = [t for t in run if t not in LAYOUT]
  if not inserted:
    return None
  text, query = layout.text, layout.query
  left = next((t for t in reversed(candidate[:op.dest_start]) if t not in LAYOUT), None)
  right = next((t for t in candidate[op.dest_end:] if t not in LAYOUT), None)
  replaced = [k for k in range(op.src_start, op.src_end) if query[k] not in LAYOUT]
  position = layout.starts[replaced[0]] if replaced else layout.left_end(op.src_start)
  # A line break goes right before the next token, the spaces before it gone; so does
  # an opening bracket, glued to the token before where readable Python glues it.
  breaks = run[-1] == tokens_lib.NEWLINE
  end = position
  if breaks or (shown and shown[-1] in tokens_lib.OPENERS):
    while end < len(text) and text[end] in " \t":
      end += 1
  glued = not breaks and end > position and left is not None and not tokens_lib.spaced(
      left, shown[0])
  if end > position and not breaks and not glued:
    position = end
  elif (op.tag == "insert" and not breaks and shown and left is not None
        and tokens_lib.spaced(left, shown[0])):
    while position < len(text) and text[position] in " \t":
      position += 1  # after the spaces that are there: a + x), for x in items
    end = position
  # A space where readable Python has one; in place of deleted tokens, only where
  # words would run together (the replaced tokens' spacing stays).
  replacing = op.tag == "replace"
  if shown and left is not None and not inserted.startswith("\n") and position > 0 and (
      text[position - 1] not in " \t\n") and (
          _word_joins(text[position - 1], inserted[0]) if replacing
          else tokens_lib.spaced(left, shown[0])):
    inserted = " " + inserted
  after = layout.ends[op.src_end - 1] if replacing and query[op.src_end - 1] not in LAYOUT else end
  if (shown and right is not None and not breaks and after < len(text)
      and text[after] not in " \t\n" and (
          _word_joins(inserted[-1], text[after]) if replacing
          else tokens_lib.spaced(shown[-1], right))):
    inserted += " "
  return TextEdit(position, end if breaks or glued else position, inserted)


def minimal_edits(text: str, lexemes: Sequence[tokens_lib.Lexeme], candidate: Sequence[str]
                ) -> Optional[list[TextEdit]]:
  """Minimal edits turning the lexemes' stretch of `text` into `candidate`; None where
  a layout edit has no obvious textual form (the caller lays the region out afresh)."""
  layout = _Layout(text, lexemes)
  if not layout.visible:
    return None
  query, candidate = layout.query, list(candidate)
  candidate_levels = _levels(candidate)
  edits: list[TextEdit] = []
  for op in Levenshtein.opcodes(query, candidate):
    if op.tag == "equal":
      for i, j in zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end)):
        # A kept line whose block level changed: re-indent it.
        if (query[i] not in LAYOUT and _first_on_line(query, i) and _first_on_line(candidate, j)
            and layout.levels[i] != candidate_levels[j]):
          edits.append(TextEdit(layout.line_start[i], layout.starts[i],
                                layout.indent(candidate_levels[j])))
      continue
    deletions = _deletions(layout, op)
    if deletions is None:
      return None
    edits += deletions
    if any(tok not in (tokens_lib.INDENT, tokens_lib.DEDENT)
           for tok in candidate[op.dest_start:op.dest_end]):
      insertion = _insertion(layout, op, candidate, candidate_levels)
      if insertion is not None:
        edits.append(insertion)
  return edits


def _word_joins(left: str, right: str) -> bool:
  """Whether two characters side by side would run into one token (x in y, 1 if)."""
  return (left.isalnum() or left == "_") and (right.isalnum() or right in "_'\"")


def strip_layout_end(tokens: Sequence[str]) -> list[str]:
  out = list(tokens)
  while out and out[-1] in LAYOUT:
    out.pop()
  return out


def _same_tokens(text: str, candidate: Sequence[str]) -> bool:
  """Whether `text` lexes to `candidate`, up to the layout tokens at its very end
  (a last line break present or not), and parses."""
  if strip_layout_end(tokens_lib.lex(text)) != strip_layout_end(candidate):
    return False
  return parser.parses(text)


def repair_edits(source: str, candidate: Sequence[str]) -> list[TextEdit]:
  """Edits of `source_text.normalize_newlines(source)` that turn its tokens into `candidate`.

  The fewest characters change, names, literals, comments and layout kept
  (`minimal_edits`); where no such edit lexes to exactly `candidate`, one edit
  replaces the whole text with the repair laid out afresh (`show_repair`).
  """
  text = source_text.normalize_newlines(source)
  edits = minimal_edits(text, tokens_lib.lex_lexemes(text), candidate)
  if edits is not None and _same_tokens(apply_edits(text, edits), candidate):
    return edits
  query = tokens_lib.lex(text)
  texts, _ = source_text.token_texts(text, query)
  return [diff_edit(text, showing.show_repair(query, texts, candidate, "plain"))]


def diff_edit(old: str, new: str) -> TextEdit:
  """The one edit of `old` that gives `new`: all but their common prefix and suffix."""
  prefix = 0
  limit = min(len(old), len(new))
  while prefix < limit and old[prefix] == new[prefix]:
    prefix += 1
  suffix = 0
  while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
    suffix += 1
  return TextEdit(prefix, len(old) - suffix, new[prefix:len(new) - suffix])


def apply_repair(source: str, repair: "ranked.Repair | Sequence[str]") -> str:
  """The whole source with `repair` (a Repair of its tokens, or the tokens) applied, as
  text: the user's names, literals, comments and layout kept wherever the tokens are."""
  candidate = repair.tokens if isinstance(repair, ranked.Repair) else repair
  text = source_text.normalize_newlines(source)
  return apply_edits(text, repair_edits(text, candidate))
