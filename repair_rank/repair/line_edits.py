"""Edits of one physical line of a file, as text (issue 20).

Token edits cannot say everything a slip did to the text: a dropped `(`
between a name and what follows glues them (`abs_sq(g)` becomes `abs_sqg)`,
`print(f"..")` becomes `printf".."`), and only splitting the name back apart
repairs it. So the whole-file path also edits lines as text:
* `one_token`: a token of the line deleted, or one of `) ] } : , ( [ {` put
  before or after it (the rule script's edits);
* `splits`: a name split in two with an opener (or a comma, a colon) between,
  where both halves are names the file uses elsewhere (or the right half is a
  number, or a string's prefix);
each as a `Variant` of the line, nearest the blamed column first.
"""
import builtins
import dataclasses
import keyword
from typing import AbstractSet, Mapping, Optional, Sequence

from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT
INSERTS = (")", "]", "}", ":", ",", "(", "[", "{")
# What a glued name is split with: an opener mostly, sometimes a comma or a colon.
SPLIT_INSERTS = ("(", "[", ",", ":")
_STRING_PREFIXES = frozenset(("f", "r", "b", "u", "rb", "br", "fr", "rf"))
_BUILTINS = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | {"self", "cls"}


@dataclasses.dataclass(frozen=True)
class Variant:
  """Line `line` (0-based) of a file rewritten as `text` by one edit at `column`:
  `inserted` put in, `deleted` taken out (either may be "")."""
  line: int
  text: str
  column: int
  inserted: str
  deleted: str
  split: bool = False


def lexemes_of(line_text: str) -> list[tokens_lib.Lexeme]:
  """The line's non-layout lexemes (columns in the line)."""
  return [x for x in tokens_lib.lex_lexemes(line_text) if x.token not in LAYOUT]


def _nearest(variants: list[Variant], column: Optional[int]) -> list[Variant]:
  if column is None:
    return variants
  return sorted(variants, key=lambda v: abs(v.column - column))


def one_token(line_text: str, line: int, column: Optional[int] = None,
              inserts: Sequence[str] = INSERTS) -> list[Variant]:
  """Every one-token edit of the line, nearest `column` first."""
  out: dict[str, Variant] = {}
  for x in lexemes_of(line_text):
    if "\n" in x.text:
      continue  # a string that runs on: its end is on another line
    start, end = x.column, x.column + len(x.text)
    deleted = line_text[:start] + line_text[end:]
    out.setdefault(deleted, Variant(line, deleted, start, "", x.text))
    for position in (start, end):
      for insert in inserts:
        text = line_text[:position] + insert + line_text[position:]
        out.setdefault(text, Variant(line, text, position, insert, ""))
  return _nearest(list(out.values()), column)


def known_names(lexemes: Sequence[tokens_lib.Lexeme]) -> dict[str, int]:
  """How often each name occurs in a file's lexemes."""
  counts: dict[str, int] = {}
  for x in lexemes:
    if x.token == tokens_lib.NAME:
      counts[x.text] = counts.get(x.text, 0) + 1
  return counts


def is_known(name: str, counts: Mapping[str, int]) -> bool:
  """A builtin, a keyword, `self`/`cls`, or a name `counts` holds."""
  return name in _BUILTINS or counts.get(name, 0) > 0


def splits(line_text: str, line: int, counts: dict[str, int], column: Optional[int] = None,
           inserts: Sequence[str] = SPLIT_INSERTS,
           only: Optional[AbstractSet[str]] = None) -> list[Variant]:
  """A name of the line split in two with one of `inserts` between; nearest `column`
  first. The halves: a name and a name, a number, or a string prefix before a quote;
  of a name's splits only those whose halves the file knows best (`counts`, builtins;
  the right half counting double; one half at least) are kept."""
  out = []
  for x in lexemes_of(line_text):
    if x.token != tokens_lib.NAME or len(x.text) < 2:
      continue
    end = x.column + len(x.text)
    after = line_text[end:end + 1]
    best, picked = 0, []
    for k in range(1, len(x.text)):
      left, right = x.text[:k], x.text[k:]
      if not left.isidentifier():
        continue
      # The right half counts more: a call's argument is a local, its callee often an
      # attribute used once.
      if right.isdigit() or (right.lower() in _STRING_PREFIXES and after in ("'", '"')):
        known = 2 + is_known(left, counts)
      elif right.isidentifier():
        known = is_known(left, counts) + 2 * is_known(right, counts)
      else:
        continue
      if known > best:
        best, picked = known, []
      if known == best and known > 0:
        picked.append(k)
    for k in picked:
      for insert in inserts:
        if only is not None and insert not in only:
          continue
        text = line_text[:x.column + k] + insert + line_text[x.column + k:]
        out.append(Variant(line, text, x.column + k, insert, "", split=True))
  return _nearest(out, column)
