"""Python's own parser, one caller at a time in this process.

CPython 3.11 keeps the AST constructor's recursion counter in interpreter-wide
state. Two threads inside `compile(..., ast.PyCF_ONLY_AST)` at once (a GC
callback such as JAX's runs Python code mid-build, so the GIL can switch) corrupt
it, and one of them raises `SystemError: AST constructor recursion depth
mismatch`: the endpoint's handler threads did (issue 23). Every parse of the
package goes through `parse`, under one process-wide lock; parsing holds the
GIL anyway, so the lock costs no parallelism.
"""
import ast
import threading

# What a failed parse raises: a syntax error, a null byte, a tree too deep or too big.
PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
_LOCK = threading.Lock()


def parse(text: str, filename: str = "<unknown>") -> ast.Module:
  """`ast.parse(text)`, never at the same time as another thread's; raises `PARSE_ERRORS`."""
  with _LOCK:
    return compile(text, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)


def parses(text: str) -> bool:
  """Whether `text` is a Python module (see `parse`)."""
  try:
    parse(text)
  except PARSE_ERRORS:
    return False
  return True
