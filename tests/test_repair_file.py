"""Whole files: windows around each error, bounded time, snippets repaired as before."""
import ast
import json
import pathlib
import re
import time

import numpy as np
import pytest

import conftest
from repair_rank.generator import search
from repair_rank.jobs import repair as repair_job
from repair_rank.ranking import registry
from repair_rank.repair import command
from repair_rank.repair import ranked
from repair_rank.repair import showing
from repair_rank.repair import source_text
from repair_rank.repair import windows
from repair_rank.syntax import tokens

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUNCTION = '''def area_{n}(width, height):
    """Area of a {n}-sided thing."""
    if width < 0:
        raise ValueError("negative width: %s" % width)
    total = width * height
    for side in range({n}):
        total += side
    return total

'''


# Tests of what is repaired count the search's expansions, not seconds: a time budget
# finds less on a slow or busy machine (CI once found no repair in 0.5 s where this
# machine needs 0.2 s). Budgets in seconds are tested where time is the point.
SEARCH_BUDGET = dict(time_budget=None, max_expansions=300)


def long_file(n: int = 40) -> list[str]:
  return "".join(FUNCTION.format(n=i) for i in range(n)).split("\n")


@pytest.fixture(scope="module")
def markov():
  return registry.get("markov_channel")


def test_snippets_repaired_as_before(markov):
  """The snippet path's output for StackOverflow snippets, recorded before whole files."""
  cases = json.loads((ROOT / "tests/fixtures/snippet_repairs.json").read_text())
  score = registry.get("markov_distance")
  for case in cases:
    got = command.repair_source(case["source"], score, top_k=3, max_distance=2,
                                time_budget=None, max_expansions=300)
    assert got == case["output"], case["id"]


def test_two_errors_in_a_long_file_are_repaired_in_turn(markov):
  lines = long_file()
  lines[5] = lines[5].replace("):", ":")      # an unclosed bracket runs on
  lines[101] = lines[101].replace(":", "")    # a missing colon
  source = "\n".join(lines)
  assert len(tokens.lex(source)) > 1000
  out = command.repair_source(source, markov, top_k=2, max_distance=2, **SEARCH_BUDGET)
  errors = re.findall(r"SyntaxError at line (\d+)", out)
  assert errors == ["6", "102"], out
  assert out.rstrip().endswith("the whole file parses."), out
  assert "Repairs at line 6:" in out and "line 6: insert ')'" in out, out
  assert "line 102: insert ':'" in out, out


def test_a_long_file_with_two_errors_ends_within_its_time_budget(markov):
  """The file of the test above under a time budget: what is found then depends on the
  machine's speed, the time it takes not much."""
  lines = long_file()
  lines[5] = lines[5].replace("):", ":")
  lines[101] = lines[101].replace(":", "")
  start = time.monotonic()
  command.repair_source("\n".join(lines), markov, top_k=2, max_distance=2, time_budget=0.5)
  assert time.monotonic() - start < 8


def test_a_slip_of_layout_is_repaired_in_the_file(markov):
  """A `return` two spaces short, then a missing colon: the first window parses alone
  (token edits cannot see the error), so it is repaired as /repair.json repairs it, in
  the file, to the def body's level (not the module's: a return there does not compile);
  the file path goes on to the second error, its line numbers the original file's."""
  lines = long_file(12)
  lines[7] = "  return total"   # area_0's last line
  lines[101] = lines[101].replace(":", "")  # a missing colon further on
  source = "\n".join(lines)
  out = command.repair_source(source, markov, top_k=2, max_distance=2, **SEARCH_BUDGET)
  assert re.findall(r"SyntaxError at line (\d+)", out) == ["8", "102"], out
  assert "Repairs at line 8:\n\n#1" in out and "line 8: re-indent\n    return total\n" in out, out
  assert "line 102: insert ':'" in out, out
  assert out.rstrip().endswith("the whole file parses."), out
  # A file shorter than a snippet with a slip of layout takes the same path: it was
  # answered "the error is inside a token".
  short = "def f(x):\n    y = x + 1\n  return y\n"
  out = command.repair_source(short, markov, top_k=2, **SEARCH_BUDGET)
  assert "line 3: re-indent\n    return y" in out and "inside a token" not in out, out


def test_a_bracket_left_open_is_repaired_in_a_file_with_another_error(markov):
  """After the open bracket the rest of the file is one logical line: a context read off
  logical lines ran to the file's end, held the missing colon further on, and no repair
  of the bracket compiled in it (/repair.json: "no repair within 3 token edits")."""
  lines = long_file()
  lines[5] = lines[5].replace("):", ":")
  lines[101] = lines[101].replace(":", "")
  source = "\n".join(lines)
  found = command.diagnosis.diagnose(source, markov, top_k=2, **SEARCH_BUDGET)
  assert found.status == "repaired" and found.line == 5, found.message
  assert found.fixes[0].description == "line 6: insert ')'"


def test_a_fix_made_after_earlier_repairs_names_the_original_lines():
  """The file path repairs the file from line `offset` on, after earlier splices added
  lines: its description's lines are mapped back to the file as given."""
  def original_line(line):  # two lines added above line 5 (0-based)
    return line - 2 if line >= 5 else line

  renumbered = command._renumbered  # pylint: disable=protected-access
  got = renumbered("line 3: insert ')'; line 4: re-indent", 10, original_line)
  assert got == "line 11: insert ')'; line 12: re-indent"


def test_windows_parse_alone_and_splice_back(markov):
  lines = long_file(10)
  lines[40] = lines[40].replace("total = width * height", "total = width * * height")
  lexemes = tokens.lex_lexemes("\n".join(lines))
  logical = windows.logical_lines(lexemes)
  error = windows.first_error(lines, lexemes, logical, chunk_lines=5)
  assert error.line == 40 and error.chunk_start > 0
  window = windows.error_window(lexemes, logical, len(lines), error.line, max_tokens=60)
  assert window.first_line <= 40 < window.end_line
  assert len(window.tokens) <= 60 and not tokens.is_valid(window.tokens)
  fixed = list(window.tokens)
  star = next(i for i, (tok, line) in enumerate(zip(fixed, window.lines))
              if tok == "*" and line == 40)
  del fixed[star]
  assert tokens.is_valid(fixed)
  repaired = showing.show_repair(window.tokens, window.texts, fixed, "plain")
  spliced = windows.splice(lines, window, repaired)
  ast.parse("\n".join(spliced))
  assert spliced[40] == lines[40].replace("* *", "*")
  assert spliced[:window.first_line] == lines[:window.first_line]


def test_printed_repairs_are_best_first_and_parse(markov):
  source = "def f(x):\n    return g(x\n"
  out = command.repair_source(source, markov, top_k=5, max_distance=2, **SEARCH_BUDGET)
  scores = [float(s) for s in re.findall(r"score (-?[\d.]+)", out)]
  assert len(scores) == 5 and scores == sorted(scores, reverse=True)
  best = ranked.rank_repairs(tokens.lex(source), markov, top_k=1, max_distance=2,
                              **SEARCH_BUDGET)[0]
  query = tokens.lex(source)
  texts, _ = source_text.token_texts(source, query)
  ast.parse(showing.show_repair(query, texts, best.tokens, "plain"))


def test_distance_one_sweep_honours_the_budget():
  query = tokens.lex("\n".join(long_file(12))) + ["("]
  assert len(query) > 500
  start = time.monotonic()
  search.generate_scored(query, max_distance=1, time_budget=0.3)
  assert time.monotonic() - start < 1.5


def test_a_file_that_parses_and_a_parser_that_gives_up(markov):
  source = "\n".join(long_file(3))
  assert "already parses" in command.repair_source(source, markov, window_tokens=50)
  deep = source + "\nx = " + "-" * 100000 + "1\n"
  out = command.repair_source(deep, markov, window_tokens=50)
  assert "parser gave up" in out and "Traceback" not in out


def test_an_endpoint_that_is_down_fails_clearly(tmp_path, capsys):
  config = conftest.load_module("configs/repair.py").get_config()
  config.update(file=str(tmp_path / "broken.py"), endpoint="http://127.0.0.1:9", max_distance=1)
  path = tmp_path / "broken.py"
  path.write_text("print(1\n", encoding="utf-8")
  with pytest.raises(SystemExit) as exit_info:
    repair_job.run(config, str(tmp_path))
  assert exit_info.value.code == repair_job.INPUT_ERROR
  assert "scoring with http://127.0.0.1:9 failed" in capsys.readouterr().err


def test_a_line_longer_than_the_window_is_cut_at_token_boundaries(markov):
  # One 5000-item line with its bracket unclosed (issue 23, item 4): the window held
  # the whole line (10k tokens), so time and memory grew with it.
  items = ", ".join(str(i) for i in range(5000))
  source = f"y = 1\nx = [{items}\nz = 2\n"
  lexemes = tokens.lex_lexemes(source)
  logical = windows.logical_lines(lexemes)
  window = windows.error_window(lexemes, logical, 4, 1, max_tokens=120, error_column=4)
  assert len(window.tokens) <= 121  # the cap, and the NEWLINE that ends the statement
  assert (window.first_line, window.first_column) == (1, 0)
  assert window.end_column is not None and window.end_column < 600
  lines = source.split("\n")
  assert windows.window_text(lines, window).startswith("x = [0, 1, 2")
  # A repair that closes the bracket in the window: the rest of the line stays after it.
  repaired = showing.show_repair(window.tokens, window.texts,
                                 window.tokens[:-1] + ("]", "NEWLINE"), "plain")
  spliced = windows.splice(lines, window, repaired)
  assert spliced[1].endswith(", 4998, 4999") and spliced[2] == "z = 2"
  ast.parse("\n".join(spliced))
  start = time.monotonic()
  out = command.repair_source(source, markov, top_k=2, max_distance=2, time_budget=0.5)
  assert time.monotonic() - start < 10
  assert "(from column 1 to " in out and out.rstrip().endswith("the whole file parses."), out


def test_an_error_far_into_a_long_line_gets_a_window_around_it():
  items = ", ".join(str(i) for i in range(5000))
  source = f"x = [{items})\n"
  error = windows.first_error(source.split("\n"), None, None)
  lexemes = tokens.lex_lexemes(source)
  window = windows.error_window(lexemes, windows.logical_lines(lexemes), 2, error.line,
                                max_tokens=120, error_column=error.column)
  assert window.first_column > 20000 and window.end_column is None
  assert ")" in window.tokens and len(window.tokens) <= 121
  assert windows.window_text(source.split("\n"), window).endswith("4999)")
