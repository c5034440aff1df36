"""Repairs of a window of a whole file, judged in the file (issue 20, items 1-2).

A window (`windows.error_window`) is a snippet cut out of a file; a repair that
makes the window parse on its own may need edits only the cut made necessary
(a `pass` for a block whose body lies past the window, an `if` before a window
that starts at `else`). So a candidate here is valid only when the file's
context around the window, its whole top-level statements, compiles with the
repaired window in place (`Context`): edits the cut needed fail there.

Python's own evidence is used too: besides the generator's candidates, every
one-token edit on the line CPython blames and the line before (insert one of
`) ] } : , ( [ {`, delete a token) is a candidate (`blamed_edits`), checked
in the file like the others. Each valid candidate carries where it edits
relative to the blamed position and whether it is of the kind Python's message
hints ("was never closed": a closer; "expected ':'": a colon), which the
ranking of files uses (`file_ranking`).
"""
import bisect
import collections
import dataclasses
import re
import time
from typing import Optional, Sequence

from rapidfuzz.distance import Levenshtein

from repair_rank.repair import line_edits
from repair_rank.repair import local_ngrams
from repair_rank.repair import name_evidence
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank.repair import text_edits
from repair_rank.repair import windows
from repair_rank.syntax import parser
from repair_rank.syntax import tokens as tokens_lib

LAYOUT = tokens_lib.LAYOUT
# The rule script's one-token insertions (launch/benchmarks/rule_repair_baseline.py).
BLAMED_INSERTS = (")", "]", "}", ":", ",", "(", "[", "{")
# Statement-starting tokens at column 0 after which a top-level statement starts.
_TOP_LEVEL_STARTS = frozenset(("def", "class", "@", "async", "import", "from"))


@dataclasses.dataclass(frozen=True)
class Context:
  """Lines [first_line, end_line) of a file holding a window in whole top-level
  statements, and their character range [start, end) in the text."""
  first_line: int
  end_line: int
  start: int
  end: int


def context_of(text: str, lexemes: Sequence[tokens_lib.Lexeme],
               window: windows.Window) -> Context:
  """The top-level definitions and imports around `window`: from the last one that starts
  at or before its first line to the next one after its last line (the file's ends
  otherwise). A decorated definition starts at its first decorator; lines inside a
  string start nothing (no lexeme starts there). Starts are read off physical lines, not
  logical ones: after a bracket the slip left open, the rest of the file is one logical
  line, and a context to the file's end holds the file's other errors, so that no repair
  of this one compiled in it."""
  starts, previous, last_line = [], None, None
  for lexeme in lexemes:
    if lexeme.token in LAYOUT or lexeme.line == last_line:
      continue
    last_line = lexeme.line
    if lexeme.column == 0:  # a line inside brackets (column > 0) keeps its statement's
      if lexeme.token in _TOP_LEVEL_STARTS and previous != "@":
        starts.append(lexeme.line - 1)
      previous = lexeme.token
  first = max((s for s in starts if s <= window.first_line), default=0)
  end_line = min((s for s in starts if s >= window.end_line), default=None)
  line_starts = source_text.line_starts(text)
  if end_line is None:
    return Context(first, text.count("\n") + 1, line_starts[first], len(text))
  return Context(first, end_line, line_starts[first], line_starts[end_line])


@dataclasses.dataclass(frozen=True)
class Checked:
  """A candidate of the window that compiles in its file.

  text: the whole repaired file; edits: the edits of the file that give it.
  distance: token edits from the window; blamed: whether it is one of `blamed_edits`.
  hinted: whether its edit is of the kind Python's message names.
  offset_lines: lines from the blamed line to its first edit (0: on it).
  """
  tokens: tuple[str, ...]
  distance: int
  text: str
  edits: tuple[text_edits.TextEdit, ...]
  hinted: bool
  offset_lines: int
  split: bool = False  # a glued name split (`line_edits.splits`)
  preferred: bool = False  # the first layout that compiles (`indentation`)
  description: str = ""  # the edits in words where the tokens cannot say them
  extra_lines: int = 0  # lines of the file the edits touch beyond the first (`lines_touched`)
  moves: bool = False  # re-indents lines no layout repair touches (`indentation`)
  unknown_names: int = 0  # names the file uses nowhere else it adds (`name_evidence`)
  unknown_left: int = 0  # such names left in the lines it edits (`name_evidence`)
  words_lost: int = 0  # names, keywords, numbers, strings it deletes (`name_evidence`)
  familiar: int = 0  # n-grams it creates that the rest of the file has (`local_ngrams`)
  layout: bool = False  # changes only the layout (`indentation.search`, `only_layout`)
  # The tokens the scorer reads it against; None: the window's. A glued name split apart
  # is read against the window with the name typed apart (`two_step`): in tokens a split
  # inserts a name, an edit no snippet fix makes, so the scorer put it far below.
  query: Optional[tuple[str, ...]] = None


# "unmatched ')'": the opener the slip dropped, put anywhere in the statement before.
_OPENER_OF = {")": "(", "]": "[", "}": "{"}


# Lines an unmatched closer's statement may reach back at most.
MAX_REACH_LINES = 12


def reach_back(message: str, lines: Sequence[str] = (),
               logical: Sequence[windows.LogicalLine] = (), error_line: int = 0) -> int:
  """Logical lines before the blamed one where the slip may have started: an unmatched
  closer may be the previous statement's (a dropped opener, a stray closer that ended
  it early); a closer that starts its line closes a statement that began at the last
  line before it indented no deeper (`def f` ... `) -> None:`, lines earlier). (An
  unexpected indent reaching back measured worse: the search's budget went to the
  wider window.) A line that unindents to no outer level may be right and the statement
  before it indented off the file's step (a class's docstring too deep): one line back."""
  if message.startswith("unindent does not match"):
    return 1
  if not message.startswith(("unmatched", "closing parenthesis")):
    return 0
  if not lines or not logical or error_line >= len(lines):
    return 1
  text = lines[error_line]
  stripped = text.lstrip(" \t")
  if not stripped[:1] or stripped[0] not in ")]}":
    return 1
  indent = len(text) - len(stripped)
  start = error_line
  for line in range(error_line - 1, max(error_line - MAX_REACH_LINES, 0) - 1, -1):
    other = lines[line]
    if not other.strip():
      continue
    start = line
    if len(other) - len(other.lstrip(" \t")) <= indent:
      break
  return max(1, windows.line_at(logical, error_line) - windows.line_at(logical, start))


def blamed_edits(window: windows.Window, error_line: int, message: str = "",
                 statement_lines: Sequence[int] = ()) -> list[tuple[str, ...]]:
  """Every one-token edit of the window's tokens on `error_line` (0-based, in the file)
  and the line before: a token deleted, or one of BLAMED_INSERTS put before or after it;
  on `statement_lines` (where a slip Python noticed later began), an unmatched closer's
  opener put after any token, and any closer deleted; for a closer that does not match
  its opener, the opener's closer put after any token from the opener's line on."""
  tokens = list(window.tokens)
  out: dict[tuple[str, ...], None] = {}
  for i, tok in enumerate(tokens):
    if tok in LAYOUT or window.lines[i] not in (error_line - 1, error_line):
      continue
    out[tuple(tokens[:i] + tokens[i + 1:])] = None
    for position in (i, i + 1):
      for insert in BLAMED_INSERTS:
        out[tuple(tokens[:position] + [insert] + tokens[position:])] = None
  closer = message[len("unmatched '"):][:1] if message.startswith("unmatched '") else ""
  for i, tok in enumerate(tokens):
    if tok in LAYOUT or window.lines[i] not in statement_lines:
      continue
    if closer in _OPENER_OF:
      out[tuple(tokens[:i + 1] + [_OPENER_OF[closer]] + tokens[i + 1:])] = None
    if tok in tokens_lib.CLOSERS:  # a stray closer that ended the statement early
      out[tuple(tokens[:i] + tokens[i + 1:])] = None
  missing = MISMATCH.search(message)
  if missing:
    # "')' does not match opening parenthesis '[' on line 45": the `]` was dropped
    # somewhere from that line to here; put it after any token between.
    closer = CLOSER_OF[missing.group(1)]
    first = int(missing.group(2)) - 1 if missing.group(2) else error_line
    for i, tok in enumerate(tokens):
      if tok not in LAYOUT and first <= window.lines[i] <= error_line:
        out[tuple(tokens[:i + 1] + [closer] + tokens[i + 1:])] = None
  return list(out)


MISMATCH = re.compile(r"does not match opening parenthesis '([(\[{])'(?: on line (\d+))?")
CLOSER_OF = {"(": ")", "[": "]", "{": "}"}


def hinted(message: str, window_tokens: Sequence[str], candidate: Sequence[str]) -> bool:
  """Whether the candidate's edits are of the kind Python's message hints."""
  inserted, deleted = [], []
  for op in Levenshtein.opcodes(list(window_tokens), list(candidate)):
    if op.tag in ("insert", "replace"):
      inserted += candidate[op.dest_start:op.dest_end]
    if op.tag in ("delete", "replace"):
      deleted += window_tokens[op.src_start:op.src_end]
  if "never closed" in message:
    return bool(inserted) and all(t in tokens_lib.CLOSERS for t in inserted) and not deleted
  if "expected ':'" in message:
    return inserted == [":"] and not deleted
  if "expected '('" in message:  # `def f:`, its parentheses dropped
    return inserted[:1] == ["("] and not deleted
  if "forgot a comma" in message:
    return inserted == [","] and not deleted
  missing = MISMATCH.search(message)
  if missing and inserted == [CLOSER_OF[missing.group(1)]] and not deleted:
    return True  # the mismatched opener's closer, put in
  if "unmatched" in message or "does not match" in message:
    return (not inserted and bool(deleted) and all(t in tokens_lib.CLOSERS for t in deleted)) or (
        not deleted and len(inserted) == 1 and inserted[0] in tokens_lib.OPENERS)
  if "indent" in message:  # unexpected indent, expected an indented block, unindent ...
    return all(t in LAYOUT for t in inserted + deleted)
  return False


def _first_edit_line(window: windows.Window, candidate: Sequence[str]) -> int:
  for op in Levenshtein.opcodes(list(window.tokens), list(candidate)):
    if op.tag != "equal":
      return window.lines[min(op.src_start, len(window.lines) - 1)]
  return window.first_line


class FileChecker:
  """Turns window candidates into repaired files and keeps those whose context compiles."""

  def __init__(self, text: str, lexemes: Sequence[tokens_lib.Lexeme], window: windows.Window,
               window_lexemes: Optional[Sequence[tokens_lib.Lexeme]]):
    self.text = text
    self.lines = text.split("\n")
    self.window = window
    self.window_lexemes = window_lexemes
    self.context = context_of(text, lexemes, window)
    # Repaired files whose context parses but that the compiler rejects (`keep_code`).
    self.not_code: set[str] = set()

  def repaired(self, candidate: Sequence[str]) -> tuple[str, tuple[text_edits.TextEdit, ...]]:
    """The whole file with the window repaired: minimal edits of the user's text where
    they exist, else the window's lines laid out afresh (`windows.splice`)."""
    if self.window_lexemes is not None:
      edits = text_edits.minimal_edits(self.text, self.window_lexemes, candidate)
      if edits is not None:
        return text_edits.apply_edits(self.text, edits), tuple(edits)
    shown = showing.show_repair(self.window.tokens, self.window.texts, candidate, "plain")
    repaired = "\n".join(windows.splice(self.lines, self.window, shown))
    return repaired, (text_edits.diff_edit(self.text, repaired),)

  def with_lines(self, new_lines: dict[int, str]
                 ) -> Optional[tuple[tuple[str, ...], str, tuple[text_edits.TextEdit, ...]]]:
    """(the window's tokens, the whole file, its edits) with physical lines replaced
    (`line_edits`); None when a line is outside the window or holds no token start."""
    tokens = list(self.window.tokens)
    for line in sorted(new_lines, reverse=True):
      on_line = [i for i, tok in enumerate(tokens[:len(self.window.lines)])
                 if tok not in LAYOUT and self.window.lines[i] == line]
      if not on_line or on_line[-1] - on_line[0] + 1 != len(on_line):
        return None
      new = [x.token for x in line_edits.lexemes_of(new_lines[line])]
      tokens[on_line[0]:on_line[-1] + 1] = new
    lines = list(self.lines)
    starts = source_text.line_starts(self.text)
    edits = []
    for line, new_text in sorted(new_lines.items()):
      edit = text_edits.diff_edit(lines[line], new_text)
      edits.append(dataclasses.replace(edit, start=starts[line] + edit.start,
                                       end=starts[line] + edit.end))
      lines[line] = new_text
    return tuple(tokens), "\n".join(lines), tuple(edits)

  def relaid(self, new_lines: dict[int, str]
             ) -> Optional[tuple[tuple[str, ...], str, tuple[text_edits.TextEdit, ...]]]:
    """As `with_lines` for lines whose indentation changes: the window's tokens lexed
    again from the repaired lines (its first line's indentation taken off each line),
    ending in the window's own closing layout; None when a line is outside it."""
    if any(not self.window.first_line <= line < self.window.end_line for line in new_lines):
      return None
    lines = list(self.lines)
    starts = source_text.line_starts(self.text)
    edits = []
    for line, new_text in sorted(new_lines.items()):
      edit = text_edits.diff_edit(lines[line], new_text)
      edits.append(dataclasses.replace(edit, start=starts[line] + edit.start,
                                       end=starts[line] + edit.end))
      lines[line] = new_text
    first = self.lines[self.window.first_line]
    prefix = first[:len(first) - len(first.lstrip(" \t"))]
    region = [line[len(prefix):] if line.startswith(prefix) else line.lstrip(" \t")
              for line in lines[self.window.first_line:self.window.end_line]]
    tokens = text_edits.strip_layout_end(tokens_lib.lex("\n".join(region)))
    own = list(self.window.tokens)
    tail = len(own)
    while tail > 0 and own[tail - 1] in LAYOUT:
      tail -= 1
    return tuple(tokens) + tuple(own[tail:]), "\n".join(lines), tuple(edits)

  def context_error(self, repaired: str) -> Optional[tuple[int, int, str]]:
    """None when the repaired file's context compiles, else Python's error in it:
    (0-based line in the file, 0-based column, message)."""
    end = self.context.end + len(repaired) - len(self.text)
    try:
      parser.parse(repaired[self.context.start:end] + "\n")
    except SyntaxError as e:
      return (self.context.first_line + (e.lineno or 1) - 1, max((e.offset or 1) - 1, 0),
              e.msg)
    except (ValueError, MemoryError, RecursionError):
      return (self.context.first_line, 0, "the parser gave up")
    return None

  def context_parses(self, repaired: str) -> bool:
    """Whether the repaired file's context around the window parses (the context's end
    moves with the length the repair added). One that parses but that the compiler
    rejects (`return` dedented out of its def) counts, and is kept in `not_code`: it
    is dropped where another repair compiles to code (`keep_code`), and kept where none
    does (a script with a top-level `await` for IPython never compiles)."""
    end = self.context.end + len(repaired) - len(self.text)
    verdict = parser.verdict(repaired[self.context.start:end] + "\n")
    if verdict == parser.PARSES_ONLY:
      self.not_code.add(repaired)
    return verdict is not None

  def is_code(self, repaired: str) -> bool:
    """Whether a repaired file that `context_parses` also compiles to code."""
    return repaired not in self.not_code


def keep_code(checker: FileChecker, checked: Sequence["Checked"]) -> list["Checked"]:
  """The candidates whose context compiles to code, where any does; else all of them."""
  code = [c for c in checked if checker.is_code(c.text)]
  return code if code else list(checked)


# Spaces between a word and a bracket or operator: where they go does not change the
# program (`f(a ,b)` is `f(a, b)`). Between two words or two operators they do
# (`* *` is not `**`), and at a line's start they are its indentation.
# Nor beside a bracket, a comma or a semicolon, which never join another token (`( )`).
_LOOSE_SPACES = re.compile(r"(?<=\w)[ \t]+(?=[^\s\w])|(?<=[^\s\w])[ \t]+(?=\w)"
                           r"|(?<=[()\[\]{},;])[ \t]+(?=\S)|(?<=\S)[ \t]+(?=[()\[\]{},;])")


def program_key(text: str, edits: Sequence[text_edits.TextEdit], repaired: str) -> tuple:
  """What two repairs of `text` share when they are the same program: the lines their
  edits touch, with the spaces whose place does not matter dropped. The same edit made
  by two sources (`insert ','` before or after a space) then is one repair, not two
  splitting one probability (issue 20: a dropped comma's fix rarely offered)."""
  if not edits:
    return (0, 0, _LOOSE_SPACES.sub("", repaired))
  first = text.rfind("\n", 0, min(e.start for e in edits)) + 1
  line_end = text.find("\n", max(e.end for e in edits))
  tail = 0 if line_end < 0 else len(text) - line_end
  return (first, tail, _LOOSE_SPACES.sub("", repaired[first:len(repaired) - tail]))


def window_program(text: str, window_lines: tuple[int, int], repaired: str,
                   edits: Sequence[text_edits.TextEdit]) -> tuple:
  """The tokens and their texts of lines [first, end) of `text` (the window) as `repaired`
  has them, and each line's indentation: equal for two repairs that make the same program
  there however their edits lie (a comma at the end of one line or the start of the
  next, in brackets), and not for two layouts of the window's first line (lexed on
  their own, `    return x` and `        return x` are the same tokens)."""
  first, end = window_lines
  end += sum(e.text.count("\n") - text.count("\n", e.start, e.end) for e in edits)
  lines = repaired.split("\n")[first:end]
  return (tuple((x.token, x.text) for x in tokens_lib.lex_lexemes("\n".join(lines))),
          tuple(line[:len(line) - len(line.lstrip(" \t"))] for line in lines))


def one_per_program(text: str, checked: Sequence["Checked"],
                    counts: Optional[dict[str, int]] = None,
                    window_lines: Optional[tuple[int, int]] = None,
                    ngrams: Optional[local_ngrams.FileNgrams] = None) -> list["Checked"]:
  """`checked` with one repair per program (`program_key`; with `window_lines`, the
  window's lines [first, end), also `window_program` among those with the same tokens),
  in first-seen order: the copy with the smallest edits is shown (`(cls: _T)`, not
  `(cls: _T )`), and the evidence of every copy is its (hinted, a name split, the
  preferred layout, the nearest line); each gets the lines its edits touch
  (`extra_lines`), what it does to the file's names (`name_evidence`; `counts`:
  `line_edits.known_names` of the file) and the file's n-grams it creates
  (`local_ngrams`; `ngrams`: of the file; None = lexed here)."""
  if counts is None or ngrams is None:
    lexemes = tokens_lib.lex_lexemes(text)
    counts = line_edits.known_names(lexemes) if counts is None else counts
    ngrams = local_ngrams.FileNgrams(lexemes) if ngrams is None else ngrams
  kept = _merged(checked, lambda c: program_key(text, c.edits, c.text))
  if window_lines is not None:
    tokens = collections.Counter(c.tokens for c in kept)
    kept = _merged(kept, lambda c: (
        (c.tokens, window_program(text, window_lines, c.text, c.edits))
        if tokens[c.tokens] > 1 else (c.tokens,)))
  out = []
  for c in kept:
    added, left = name_evidence.unknown_names(text, c.edits, c.text, counts)
    lost = name_evidence.words_lost(text, c.edits)
    # A split whose half is then cut (`CheckpointManagerOptions` to `CheckpointManager(`)
    # is not a glued name put back apart: it gets no split's credit.
    split = c.split and not lost
    out.append(dataclasses.replace(
        c, split=split, query=c.query if split else None, extra_lines=lines_touched(text, c.edits) - 1,
        unknown_names=added, unknown_left=left, words_lost=lost,
        familiar=local_ngrams.familiar_created(ngrams, text, c.edits, c.text),
        layout=c.layout or only_layout(text, c.edits)))
  return out


def only_layout(text: str, edits: Sequence[text_edits.TextEdit]) -> bool:
  """Whether the edits of `text` change only spaces, tabs and line breaks (a layout, in
  tokens INDENT, DEDENT and NEWLINE edits, from whichever source)."""
  return bool(edits) and all(not (text[e.start:e.end] + e.text).strip(" \t\n")
                             for e in edits)


def _merged(checked: Sequence["Checked"], key_of) -> list["Checked"]:
  """One of `checked` per `key_of(c)`, each with the evidence of all its copies."""
  kept: dict[tuple, Checked] = {}
  for c in checked:
    key = key_of(c)
    old = kept.get(key)
    if old is None:
      kept[key] = c
      continue
    shown = c if _edit_size(c.edits) < _edit_size(old.edits) else old
    kept[key] = dataclasses.replace(
        shown, distance=min(c.distance, old.distance), hinted=c.hinted or old.hinted,
        offset_lines=min(c.offset_lines, old.offset_lines), split=c.split or old.split,
        query=c.query or old.query,
        preferred=c.preferred or old.preferred, moves=c.moves or old.moves,
        layout=c.layout or old.layout)
  return list(kept.values())


def lines_touched(text: str, edits: Sequence[text_edits.TextEdit]) -> int:
  """How many lines of `text` the edits change (an indent that takes the next lines into a
  block touches them all; re-indenting the slipped line, one)."""
  lines: set[int] = set()
  for e in edits:
    first = text.count("\n", 0, e.start)
    last = first + text.count("\n", e.start, e.end)
    lines.update(range(first, last + 1))
  return max(len(lines), 1)


def _edit_size(edits: Sequence[text_edits.TextEdit]) -> int:
  return sum(e.end - e.start + len(e.text) for e in edits)


def check(checker: FileChecker, message: str, error_line: int,
          candidates: Sequence[tuple[tuple[str, ...], int]], *, limit: int,
          deadline: Optional[float]) -> list[Checked]:
  """The candidates ((tokens, distance), in the order given) that compile in the file,
  at most `limit` checked or until `deadline` (time.monotonic())."""
  out, seen = [], set()
  for n, (candidate, distance) in enumerate(candidates):
    if n == limit or (deadline is not None and time.monotonic() > deadline):
      break
    repaired, edits = checker.repaired(candidate)
    key = program_key(checker.text, edits, repaired)
    if key in seen or not checker.context_parses(repaired):
      continue
    seen.add(key)
    out.append(Checked(tuple(candidate), distance, repaired, edits,
                       hinted(message, checker.window.tokens, candidate),
                       abs(_first_edit_line(checker.window, candidate) - error_line)))
  return out


def error_index(window: windows.Window, window_lexemes: Optional[Sequence[tokens_lib.Lexeme]],
                error_line: int, error_column: Optional[int]) -> int:
  """The window token Python blames: the first on its line at or after its column."""
  on_line = [i for i, line in enumerate(window.lines)
             if line == error_line and window.tokens[i] not in LAYOUT]
  if not on_line:
    return min(range(len(window.lines)), key=lambda i: abs(window.lines[i] - error_line))
  if window_lexemes is None or error_column is None:
    return on_line[0]
  return next((i for i in on_line if window_lexemes[i].column >= error_column), on_line[-1])


def first_edit(window_tokens: Sequence[str], candidate: Sequence[str]) -> int:
  """The window index of the candidate's first edit."""
  for op in Levenshtein.opcodes(list(window_tokens), list(candidate)):
    if op.tag != "equal":
      return op.src_start
  return 0


def check_order(window_tokens: Sequence[str], message: str, blamed_at: int,
                candidates: Sequence[tuple[tuple[str, ...], int]]
                ) -> list[tuple[tuple[str, ...], int]]:
  """Candidates in the order they are checked in the file: the hinted kind first, then
  the nearest to the blamed token, then the fewest edits (ties: the order given)."""
  keys = [(not hinted(message, window_tokens, c), abs(first_edit(window_tokens, c) - blamed_at), d)
          for c, d in candidates]
  order = sorted(range(len(candidates)), key=lambda i: keys[i])
  return [candidates[i] for i in order]


def describe_text_edits(text: str, edits: Sequence[text_edits.TextEdit]) -> str:
  """Text edits in words, lines 1-based: "line 3: insert '('"."""
  starts = source_text.line_starts(text)
  out = []
  for edit in edits:
    line = bisect.bisect_right(starts, edit.start)
    old = text[edit.start:edit.end]
    if not (old + edit.text).strip(" \t"):
      out.append(f"line {line}: re-indent")
    elif not old:
      out.append(f"line {line}: insert {edit.text!r}")
    elif not edit.text:
      out.append(f"line {line}: delete {old!r}")
    else:
      out.append(f"line {line}: replace {old!r} with {edit.text!r}")
  return "; ".join(out)
