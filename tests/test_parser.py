"""Python's parser from several threads at once (issue 23, item 1)."""
import gc
import threading

from repair_rank.syntax import parser
from repair_rank.repair import windows as regions
from repair_rank.syntax import tokens as tokens_lib

# A few hundred definitions: each parse builds a tree big enough for the garbage
# collector to run (and its callbacks, Python code, to let the GIL switch) mid-build.
SOURCE = "".join(f"def f{i}(x):\n    return [x + {i}, (x, {i}), {{'a': x}}]\n"
                 for i in range(400))


def parse_from_threads(parse, threads=4, repeats=6) -> list[str]:
  """Runs `parse` from `threads` threads at once with a GC callback installed (JAX
  installs one); returns the errors they raised."""
  errors = []

  def work():
    for _ in range(repeats):
      try:
        parse()
      except Exception as e:  # pylint: disable=broad-except
        errors.append(f"{type(e).__name__}: {e}")

  callback = lambda phase, info: None
  gc.callbacks.append(callback)
  try:
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
      worker.start()
    for worker in workers:
      worker.join()
  finally:
    gc.callbacks.remove(callback)
  return errors


def test_parse_is_safe_from_threads():
  assert parse_from_threads(lambda: parser.parse(SOURCE)) == []


def test_the_file_error_search_is_safe_from_threads():
  """windows.first_error (was syntax/regions.py) is where the endpoint's 500s came from."""
  source = SOURCE + "def broken(:\n    pass\n"
  lines = source.split("\n")
  lexemes = tokens_lib.lex_lexemes(source)
  logical = regions.logical_lines(lexemes)

  def find():
    error = regions.first_error(lines, lexemes, logical, chunk_lines=200)  # chunks that parse
    assert error is not None and error.line == len(lines) - 3, error

  assert parse_from_threads(find) == []


def test_validity_is_safe_from_threads():
  tokens = tokens_lib.lex(SOURCE)

  def check():
    assert tokens_lib.is_valid(tokens)

  assert parse_from_threads(check) == []


def test_parses():
  assert parser.parses("x = 1\n") and not parser.parses("x = (\n")
  assert not parser.parses("x = 1\0\n")  # a null byte: ValueError


def test_a_module_that_parses_but_is_not_code():
  assert parser.verdict("def f():\n  return 1\n") == parser.CODE
  assert parser.verdict("x = (\n") is None and parser.verdict("x = 1\0\n") is None
  # Parsed, then rejected by the compiler: a `return` dedented out of its def, a break
  # out of its loop, a top-level await (IPython's, not a module's).
  for text in ("def f():\n  x = 1\nreturn x\n", "for x in y:\n  pass\nbreak\n",
               "await g()\n", "class C:\n  return 1\n"):
    assert parser.parses(text)
    assert parser.verdict(text) == parser.PARSES_ONLY, text
  assert parser.verdict("x is 1\n") == parser.CODE  # a SyntaxWarning is not an error


def test_guarded_stdlib_parses_are_safe_beside_ours():
  """numpy.load's header goes through ast.literal_eval in a handler thread while another
  parses a file: with the guard (the server installs it) neither fails."""
  import ast  # pylint: disable=g-import-not-at-top
  literal = repr({f"k{i}": [i, (i, str(i))] for i in range(2000)})
  parser.guard_stdlib_parse()
  assert parse_from_threads(lambda: (ast.literal_eval(literal), parser.parse(SOURCE))) == []
