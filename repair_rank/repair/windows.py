"""Where a whole file breaks, and a snippet-sized window of tokens around it.

The generator and the ranker work on snippets (StackOverflow posts: at most
about 80 tokens); their cost grows with the square of the input's length. A
real file is repaired one window at a time (`repair_rank.repair`):
* `first_error` lexes the file once and compiles it in chunks of whole
  top-level statements, so the parser never holds more than one chunk's tree
  (a 5 MB file in one `compile` takes 0.7 GB);
* `error_window` takes the logical lines around the error: the error's line,
  its enclosing block header and the rest of the block, then a margin, as long
  as the window stays within `max_tokens` tokens and starts at its least
  indented line (so it lexes, renders and parses on its own);
* `splice` puts repaired text back in place of the window's lines.

A physical line longer than the cap (a generated 1.5 MB list) is cut at token
boundaries around the error: the window then starts or ends inside the line
(`Window.first_column`, `Window.end_column`), so what one window holds, and so
the search's time and memory, do not grow with the line.
"""
import ast
import dataclasses
from typing import Optional, Sequence

from repair_rank.syntax import parser
from repair_rank.syntax import tokens as tokens_lib

# First tokens of top-level lines that continue the statement before them.
_CONTINUATIONS = frozenset(("else", "elif", "except", "finally"))
_LAYOUT = tokens_lib.LAYOUT
# Keywords that only ever start a statement: a physical line inside brackets that
# starts with one is where an unclosed bracket ran on into the next statement.
_STATEMENT_ONLY = frozenset(("def", "class", "return", "continue", "break", "pass", "import",
                             "while", "with", "try", "except", "finally", "elif", "raise",
                             "del", "global", "nonlocal", "assert"))


@dataclasses.dataclass(frozen=True)
class LogicalLine:
  """One logical line of a lexed file.

  line: 0-based physical line of its first token.
  level: its indentation level (INDENTs minus DEDENTs before it).
  start: index of its first (non-layout) token.
  end: index just past its NEWLINE (or its last token at the end of a file).
  """
  line: int
  level: int
  start: int
  end: int


@dataclasses.dataclass(frozen=True)
class FileError:
  """The first syntax error of a file.

  line: 0-based physical line Python blamed (None: the parser gave up without one).
  message: Python's message.
  chunk_start: 0-based first line of the chunk that failed; the lines before it parse.
  column: 0-based column Python blamed on that line (None if it named none).
  """
  line: Optional[int]
  message: str
  chunk_start: int
  column: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Window:
  """A run of whole logical lines of a file, as a snippet.

  tokens: its tokens, with DEDENTs appended to close the blocks it opens.
  texts: each token's source text (None for layout tokens).
  lines: each token's 0-based physical line in the file.
  first_line, end_line: the physical lines it replaces, [first_line, end_line).
  first_column: where on first_line it starts (0: the whole line; more: the text
    before it stays, a cut inside a long line).
  end_column: where on line end_line - 1 it ends (None: the whole line; a column:
    the text from there on stays, a cut inside a long line).
  """
  tokens: tuple[str, ...]
  texts: tuple[Optional[str], ...]
  lines: tuple[int, ...]
  first_line: int
  end_line: int
  first_column: int = 0
  end_column: Optional[int] = None

  def shifted(self, offset: int) -> "Window":
    """The same window in a file with `offset` more lines before it."""
    return dataclasses.replace(
        self, lines=tuple(line + offset for line in self.lines),
        first_line=self.first_line + offset, end_line=self.end_line + offset)


def logical_lines(lexemes: Sequence[tokens_lib.Lexeme]) -> list[LogicalLine]:
  """The logical lines of `lex_lexemes` output, in order (lexeme lines are 1-based)."""
  out: list[LogicalLine] = []
  level, start = 0, None
  for i, lexeme in enumerate(lexemes):
    if lexeme.token == tokens_lib.INDENT:
      level += 1
    elif lexeme.token == tokens_lib.DEDENT:
      level -= 1
    elif lexeme.token == tokens_lib.NEWLINE:
      if start is not None:
        out.append(LogicalLine(lexemes[start].line - 1, start_level, start, i + 1))
      start = None
    elif start is None:
      start, start_level = i, level
  if start is not None:
    out.append(LogicalLine(lexemes[start].line - 1, start_level, start, len(lexemes)))
  return out


def _chunk_starts(lexemes: Sequence[tokens_lib.Lexeme], logical: Sequence[LogicalLine],
                  chunk_lines: int) -> list[int]:
  """Physical lines where a chunk may start: top-level statements, about `chunk_lines` apart."""
  starts, previous = [0], None
  for line in logical:
    first = lexemes[line.start].token
    if (line.level == 0 and first not in _CONTINUATIONS and previous != "@"
        and line.line >= starts[-1] + chunk_lines):
      starts.append(line.line)
    previous = first
  return starts


# Lines per chunk that `first_error` parses at once.
CHUNK_LINES = 2000


def first_error(lines: Sequence[str], lexemes: Optional[Sequence[tokens_lib.Lexeme]],
                logical: Optional[Sequence[LogicalLine]],
                chunk_lines: int = CHUNK_LINES) -> Optional[FileError]:
  """The first syntax error of the file `lines`, found chunk by chunk; None if it parses.

  Chunks are runs of whole top-level statements (a `case`, `else`, `except`
  or decorated definition never starts one), so the file parses if and only
  if every chunk does, up to what only a whole-file pass sees (a `from
  __future__` import after a chunk boundary). A file of at most `chunk_lines`
  lines is one chunk: it needs no lexemes (None), so a caller may parse before
  it lexes and never hold both (a long line's lexemes and tree).
  """
  if len(lines) <= chunk_lines:
    starts = [0, len(lines)]
  else:
    starts = _chunk_starts(lexemes, logical, chunk_lines) + [len(lines)]
  for begin, end in zip(starts, starts[1:]):
    text = "\n".join(lines[begin:end]) + "\n"
    try:
      parser.parse(text, "<file>")
    except SyntaxError as e:
      line = None if e.lineno is None else min(begin + e.lineno - 1, len(lines) - 1)
      column = None if line is None or not e.offset else max(e.offset - 1, 0)
      return FileError(line, e.msg, begin, column)
    except (ValueError, MemoryError, RecursionError) as e:
      message = str(e) or type(e).__name__
      return FileError(None, f"the parser gave up: {type(e).__name__}: {message}", begin)
  return None


def _physical_end(lexemes: Sequence[tokens_lib.Lexeme], end: int, n_lines: int) -> int:
  """One past the last physical line of tokens [.., end)."""
  if end >= len(lexemes) and lexemes[end - 1].token != tokens_lib.NEWLINE:
    return n_lines  # a last line without a line break, or a string run on to the end
  last = lexemes[end - 1]
  return min(last.line + last.text.count("\n"), n_lines)


def _span(logical: Sequence[LogicalLine], lo: int, hi: int) -> int:
  return logical[hi - 1].end - logical[lo].start


def _grow(logical: Sequence[LogicalLine], center: int, max_tokens: int,
          margin: int) -> tuple[int, int]:
  """[lo, hi) logical lines around `center`: header and block, then a margin, within the cap."""
  lo, hi = center, center + 1
  # The enclosing block's header: every line between it and the error comes too.
  header = lo
  while header > 0 and logical[header].level >= logical[center].level > 0:
    header -= 1
  if header < lo and _span(logical, header, hi) <= max_tokens:
    lo = header
  # The rest of the block.
  while (hi < len(logical) and logical[hi].level > logical[lo].level
         and _span(logical, lo, hi + 1) <= max_tokens):
    hi += 1
  # A margin on either side that keeps the first line the least indented.
  for _ in range(margin):
    if (lo > 0 and logical[lo - 1].level <= logical[lo].level
        and _span(logical, lo - 1, hi) <= max_tokens):
      lo -= 1
    if (hi < len(logical) and logical[hi].level >= logical[lo].level
        and _span(logical, lo, hi + 1) <= max_tokens):
      hi += 1
  return lo, hi


def line_at(logical: Sequence[LogicalLine], line: int) -> int:
  """Index of the logical line holding physical line `line` (binary search)."""
  lo, hi = 0, len(logical)
  while hi - lo > 1:
    mid = (lo + hi) // 2
    if logical[mid].line <= line:
      lo = mid
    else:
      hi = mid
  return lo


def _run_on(lexemes: Sequence[tokens_lib.Lexeme], line: LogicalLine) -> Optional[int]:
  """Index of the first token of a later physical line that starts a statement, if any.

  Such a line starts with a statement-only keyword, or is indented no deeper
  than the statement's first line without starting with a closing bracket.
  """
  column = lexemes[line.start].column
  for i in range(line.start + 1, line.end):
    lexeme = lexemes[i]
    if lexeme.token in _LAYOUT or lexeme.line == lexemes[i - 1].line:
      continue
    if lexeme.token in _STATEMENT_ONLY or (
        lexeme.column <= column and lexeme.token not in tokens_lib.CLOSERS):
      return i
  return None


def _continues_line(lexemes: Sequence[tokens_lib.Lexeme], k: int) -> bool:
  """Whether token k starts on the physical line where token k - 1 ends."""
  before = lexemes[k - 1]
  return lexemes[k].line == before.line + before.text.count("\n")


def _end_column(lexeme: tokens_lib.Lexeme) -> int:
  """The column just past `lexeme`'s text, on the line where it ends."""
  if "\n" in lexeme.text:
    return len(lexeme.text.rsplit("\n", 1)[1])
  return lexeme.column + len(lexeme.text)


def _cut_start(lexemes: Sequence[tokens_lib.Lexeme], start: int, end: int, error_line: int,
               error_column: Optional[int], max_tokens: int) -> int:
  """Where a window of tokens [start, end) longer than the cap starts: `start`, unless
  the error lies more than 3/4 of the cap past it; then at a line start or, inside one
  long line, a token about 3/4 of the cap before the error."""
  at = start
  while at < end and (lexemes[at].line - 1, lexemes[at].column) < (error_line,
                                                                    error_column or 0):
    at += 1
  keep = (3 * max_tokens) // 4
  if at - start <= keep:
    return start
  first = at - keep
  for k in range(first, at):  # whole physical lines where there is a line start
    if not _continues_line(lexemes, k):
      return k
  return first


def error_window(lexemes: Sequence[tokens_lib.Lexeme], logical: Sequence[LogicalLine],
                 n_lines: int, error_line: int, *, max_tokens: int = 120,
                 margin: int = 2, reach_back: int = 0,
                 error_column: Optional[int] = None) -> Window:
  """The window of at most about `max_tokens` tokens around physical line `error_line`,
  starting at least `reach_back` logical lines before it (where a slip Python noticed
  later began: the statement a stray or unmatched bracket belongs to). In a physical
  line longer than the cap the window is cut at token boundaries, around
  `error_column` (0-based; None: the line's start)."""
  center = line_at(logical, error_line)
  back = max(center - reach_back, 0)
  run_on = _run_on(lexemes, logical[center])
  if run_on is not None:
    # An unclosed bracket swallowed the statements after it: the window ends
    # where the next statement starts, and the repair closes the bracket there.
    start, end = logical[back].start, run_on
  else:
    lo, hi = _grow(logical, center, max_tokens, margin)
    if back < lo and _span(logical, back, center + 1) <= max_tokens:
      # The statements before fit with the error's line: the block after gives way.
      while _span(logical, back, hi) > max_tokens:
        hi -= 1
    start, end = logical[lo].start, logical[hi - 1].end
    if back < lo and _span(logical, back, hi) <= max_tokens:
      lo = back
      start = logical[lo].start
    elif back < lo:
      # The statement before is longer than the cap (a long `def` whose stray `)` ended
      # it a line early): its last physical lines, from `margin` lines before the error.
      previous = logical[lo - 1]
      k = previous.start
      while k < previous.end and lexemes[k].line - 1 < error_line - margin:
        k += 1
      while k < previous.end and _continues_line(lexemes, k):
        k += 1  # from a physical line's first token
      if k < previous.end:
        start = k
  first_column, end_column = 0, None
  if end - start > max_tokens:
    # One logical line longer than the cap (an unclosed bracket runs on): whole
    # physical lines from where the error is, up to the cap; a physical line longer
    # than the cap is cut at token boundaries (never finished: its length is unbounded).
    first = max(lexemes[start].line - 1, error_line - margin)
    while start < end and lexemes[start].line - 1 < first:
      start += 1
    start = _cut_start(lexemes, start, end, error_line, error_column, max_tokens)
    if start > 0 and _continues_line(lexemes, start):
      first_column = lexemes[start].column
    cut = min(end, start + max_tokens)
    if cut < end:  # back off to a line break, or cut the long line after a token
      boundary = cut
      while boundary > start and _continues_line(lexemes, boundary):
        boundary -= 1
      if boundary > start:
        cut = boundary
      else:
        end_column = _end_column(lexemes[cut - 1])
    end = cut
  picked = lexemes[start:end]
  if run_on is not None:  # the statement ends where the next one starts
    picked = list(picked) + [tokens_lib.Lexeme(tokens_lib.NEWLINE, "", picked[-1].line)]
  level = sum(1 if x.token == tokens_lib.INDENT else -1 if x.token == tokens_lib.DEDENT else 0
              for x in picked)
  tokens = tuple(x.token for x in picked) + (tokens_lib.DEDENT,) * max(0, level)
  texts = tuple(None if x.token in _LAYOUT else x.text for x in picked)
  texts += (None,) * max(0, level)
  lines = tuple(x.line - 1 for x in picked)
  lines += (lines[-1],) * max(0, level)
  if end_column is not None:
    last = lexemes[end - 1]
    end_line = last.line + last.text.count("\n")
  else:
    end_line = _physical_end(lexemes, end, n_lines)
  return Window(tokens, texts, lines, lexemes[start].line - 1, end_line,
                first_column, end_column)


def window_text(lines: Sequence[str], window: Window) -> str:
  """The file's text the window's tokens came from (its lines, cut at its columns)."""
  text = list(lines[window.first_line:window.end_line])
  if window.end_column is not None:
    text[-1] = text[-1][:window.end_column]
  text[0] = text[0][window.first_column:]
  return "\n".join(text)


def splice(lines: Sequence[str], window: Window, repaired: str) -> list[str]:
  """`lines` with the window's lines replaced by `repaired`, indented as the window was.

  `repaired` starts at indentation 0 (a snippet); each of its lines gets the
  first window line's indentation, except lines inside a multi-line string. A
  window cut inside a long line keeps the text before and after it on that line.
  """
  first = lines[window.first_line]
  prefix = first[:len(first) - len(first.lstrip(" \t"))]
  new = repaired.rstrip("\n").split("\n")
  inside_string = set()
  for lexeme in tokens_lib.lex_lexemes(repaired):
    for k in range(lexeme.text.count("\n")):
      inside_string.add(lexeme.line + k)  # 0-based index of each continued line
  new = [line if i in inside_string or not line or (i == 0 and window.first_column)
         else prefix + line for i, line in enumerate(new)]
  if window.first_column:
    new[0] = first[:window.first_column] + new[0]
  if window.end_column is not None:
    new[-1] += lines[window.end_line - 1][window.end_column:]
  return list(lines[:window.first_line]) + new + list(lines[window.end_line:])
