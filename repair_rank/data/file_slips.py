"""One slip put into a real Python file, as a person makes it in an editor.

The whole-file benchmark (`launch/benchmarks/benchmark_real_files.py`) and the files'
calibration (`launch/fit_file_confidence.py`) break real files the same way:
a closing or opening bracket dropped, a block's colon dropped, a comma
dropped, a stray `)`, two of these on one line, or a line's indentation
changed. A slip is kept only if the file then fails to compile; a repair is
right when the repaired file's AST equals the original's (`same_ast`).

  slip = file_slips.put_slip(source, "comma", random.Random(0))
  slip.broken, slip.line  # the broken file; the 0-based line the slip is on
"""
import ast
import dataclasses
import io
import random
import tokenize
from typing import Optional, Sequence

KINDS = ("close", "open", "colon", "comma", "stray_close", "two_on_line", "indent")
_CLOSERS, _OPENERS = ")]}", "([{"
# Keywords that start a compound statement's header: the colon before its body.
_BLOCK_KEYWORDS = frozenset(("if", "elif", "else", "for", "while", "def", "class", "with",
                             "try", "except", "finally", "async"))


@dataclasses.dataclass(frozen=True)
class Slip:
  """A broken file: `broken` is `original` with the slip, on 0-based `line`."""
  kind: str
  original: str
  broken: str
  line: int
  description: str


def compiles(source: str) -> bool:
  try:
    compile(source, "<file>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
  except (SyntaxError, ValueError, MemoryError, RecursionError):
    return False
  return True


def same_ast(source: str, original: str) -> bool:
  """Whether `source` parses to the AST of `original` (positions ignored)."""
  try:
    return ast.dump(ast.parse(source)) == ast.dump(ast.parse(original))
  except (SyntaxError, ValueError, MemoryError, RecursionError):
    return False


@dataclasses.dataclass(frozen=True)
class _Token:
  string: str
  line: int     # 0-based
  start: int    # character offsets into the file
  end: int
  next_type: int  # the type of the next significant token (NEWLINE ends a logical line)
  first_keyword: str  # the first token of its logical line


def _tokens(source: str) -> list[_Token]:
  line_starts = [0]
  for line in source.split("\n"):
    line_starts.append(line_starts[-1] + len(line) + 1)
  raw = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
         if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)]
  out, first = [], None
  for i, t in enumerate(raw):
    if first is None:
      first = t.string
    following = raw[i + 1].type if i + 1 < len(raw) else tokenize.ENDMARKER
    if t.type == tokenize.OP:
      out.append(_Token(t.string, t.start[0] - 1, line_starts[t.start[0] - 1] + t.start[1],
                        line_starts[t.end[0] - 1] + t.end[1], following, first))
    if t.type == tokenize.NEWLINE:
      first = None
  return out


def _delete(source: str, token: _Token) -> str:
  return source[:token.start] + source[token.end:]


def _candidates(tokens: Sequence[_Token], kind: str) -> list[_Token]:
  if kind == "close":
    return [t for t in tokens if t.string in _CLOSERS]
  if kind == "open":
    return [t for t in tokens if t.string in _OPENERS]
  if kind == "colon":
    return [t for t in tokens if t.string == ":" and t.next_type == tokenize.NEWLINE
            and t.first_keyword in _BLOCK_KEYWORDS]
  if kind == "comma":
    return [t for t in tokens if t.string == ","]
  raise ValueError(kind)


def _one_slip(source: str, tokens: Sequence[_Token], kind: str, rng: random.Random
              ) -> Optional[tuple[str, int, str]]:
  """(broken, line, description) for one draw of a one-token slip, or None."""
  if kind == "stray_close":
    spots = [t for t in tokens if t.string not in _CLOSERS]
    if not spots:
      return None
    t = rng.choice(spots)
    return source[:t.end] + ")" + source[t.end:], t.line, f"line {t.line + 1}: stray ')'"
  options = _candidates(tokens, kind)
  if not options:
    return None
  t = rng.choice(options)
  return _delete(source, t), t.line, f"line {t.line + 1}: {t.string!r} dropped"


def _two_on_line(source: str, tokens: Sequence[_Token], rng: random.Random
                 ) -> Optional[tuple[str, int, str]]:
  """Two of the one-token slips (a bracket, colon or comma dropped) on one line."""
  droppable = [t for t in tokens if t.string in _CLOSERS + _OPENERS + ","
               or (t.string == ":" and t.next_type == tokenize.NEWLINE)]
  by_line: dict[int, list[_Token]] = {}
  for t in droppable:
    by_line.setdefault(t.line, []).append(t)
  lines = [line for line, ts in sorted(by_line.items()) if len(ts) >= 2]
  if not lines:
    return None
  line = rng.choice(lines)
  first, second = sorted(rng.sample(by_line[line], 2), key=lambda t: t.start)
  broken = source[:first.start] + source[first.end:second.start] + source[second.end:]
  return broken, line, f"line {line + 1}: {first.string!r} and {second.string!r} dropped"


def _indent_slip(source: str, rng: random.Random) -> Optional[tuple[str, int, str]]:
  """A statement line indented one level too deep, or two spaces short of its block."""
  lines = source.split("\n")
  try:
    tree = ast.parse(source)
  except SyntaxError:
    return None
  # Lines that begin a simple statement alone on its physical line(s), indented.
  starts = sorted({node.lineno - 1 for node in ast.walk(tree)
                   if isinstance(node, ast.stmt) and not hasattr(node, "body")
                   and node.col_offset >= 4 and node.lineno == node.end_lineno})
  if not starts:
    return None
  line = rng.choice(starts)
  text = lines[line]
  deeper = rng.random() < 0.5
  lines[line] = "    " + text if deeper else text[2:]
  what = "indented 4 spaces too deep" if deeper else "indented 2 spaces short"
  return "\n".join(lines), line, f"line {line + 1}: {what}"


def put_slip(source: str, kind: str, rng: random.Random, tries: int = 50) -> Optional[Slip]:
  """`source` with one slip of `kind` that stops it compiling; None if none was found
  in `tries` draws."""
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
  tokens = _tokens(source)
  for _ in range(tries):
    if kind == "two_on_line":
      found = _two_on_line(source, tokens, rng)
    elif kind == "indent":
      found = _indent_slip(source, rng)
    else:
      found = _one_slip(source, tokens, kind, rng)
    if found is None:
      return None
    broken, line, description = found
    if not compiles(broken):
      return Slip(kind, source, broken, line, description)
  return None
