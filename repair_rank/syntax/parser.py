"""Python's own parser, one caller at a time in this process.

CPython 3.11 before 3.11.8 keeps the AST constructor's recursion counter in
interpreter-wide state (CPython gh-106905). The constructor runs no Python code
of its own, except when an allocation starts a garbage collection: gc callbacks
(JAX installs one) and finalizers are Python code, so the GIL can pass to another
thread mid-build. If that thread builds a tree too, one of the two raises
`SystemError: AST constructor recursion depth mismatch`; the endpoint's handler
threads did (issue 23). So every parse of the package goes through `parse`:
under one process-wide lock, with collection held off until it returns (then no
other thread runs while the tree is built). Parsing holds the GIL anyway, so this
costs no parallelism.

The stdlib parses too (`numpy.load` reads .npy headers with `ast.literal_eval`;
a traceback's caret lines call `ast.parse`), so a multi-threaded server also calls
`guard_stdlib_parse`, which routes `ast.parse` through the same lock.
"""
import ast
import gc
import threading
import warnings
from typing import Optional

# What a failed parse raises: a syntax error, a null byte, a tree too deep or too big.
PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
_LOCK = threading.RLock()  # re-entrant: an audit hook on "compile" may parse
_STDLIB_PARSE = ast.parse


def _serialised(fn, *args, **kwargs):
  with _LOCK:
    collecting = gc.isenabled()
    gc.disable()
    try:
      return fn(*args, **kwargs)
    finally:
      if collecting:
        gc.enable()


def parse(text: str, filename: str = "<unknown>") -> ast.Module:
  """`ast.parse(text)`, never at the same time as another thread's; raises `PARSE_ERRORS`."""
  return _serialised(compile, text, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)


def parses(text: str) -> bool:
  """Whether `text` is a Python module (see `parse`)."""
  try:
    parse(text)
  except PARSE_ERRORS:
    return False
  return True


# What a compile that got past the parser says (CPython 3.10-3.13): a module that parses
# but is not code, such as a `return` dedented out of its def. Read only to tell that
# failure from a syntax error without parsing again.
COMPILER_ERRORS = (
    "'return' outside function", "'break' outside loop", "'continue' not properly in loop",
    "'yield' outside function", "'await' outside", "'async with' outside",
    "'async for' outside", "asynchronous comprehension outside", "'yield from' inside async",
    "'return' with value in async generator", "nonlocal declaration not allowed",
    "no binding for nonlocal", "duplicate argument", "name '", "keyword argument repeated",
    "from __future__ imports must", "future feature", "not a chance",
    "multiple starred expressions", "starred assignment target", "too many statically nested")
CODE, PARSES_ONLY = "code", "parses only"


def verdict(text: str, filename: str = "<unknown>") -> Optional[str]:
  """`CODE` when Python compiles `text` to a module's code, `PARSES_ONLY` when it parses
  but the compiler rejects it (`COMPILER_ERRORS`), None when it does not parse. Compiling
  to code costs less than `parse` (no Python objects for the tree); its warnings
  (`"is" with a literal`) are the user's, not shown here."""
  try:
    _serialised(_compile_quietly, text, filename)
  except SyntaxError as e:
    return PARSES_ONLY if str(e.msg).startswith(COMPILER_ERRORS) else None
  except (ValueError, MemoryError, RecursionError):
    return None
  return CODE


def _compile_quietly(text: str, filename: str):
  # Under the lock: catch_warnings swaps process-wide state.
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return compile(text, filename, "exec", dont_inherit=True)


def _guarded_stdlib_parse(*args, **kwargs):
  return _serialised(_STDLIB_PARSE, *args, **kwargs)


def guard_stdlib_parse() -> None:
  """Makes `ast.parse` (and so `ast.literal_eval` and traceback formatting) take the same
  lock, for the process's lifetime; idempotent. A server with handler threads calls it."""
  ast.parse = _guarded_stdlib_parse
