"""Whole files with one slip: the slips, the rule script, and repairs judged in the file
(issue 20; the benchmark is launch/benchmarks/benchmark_real_files.py)."""
import pathlib
import random

import pytest

import conftest
from repair_rank.data import file_slips
from repair_rank.ranking import registry
from repair_rank.repair import diagnosis as diagnosis_lib
from repair_rank.repair import in_file
from repair_rank.repair import windows
from repair_rank.syntax import tokens

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = (ROOT / "tests" / "fixtures" / "real_file.py").read_text()


def load_launch(name: str):
  return conftest.load_module(f"launch/benchmarks/{name}.py")


@pytest.mark.parametrize("kind", file_slips.KINDS)
def test_every_kind_of_slip_breaks_the_file_and_the_original_is_right(kind):
  slip = file_slips.put_slip(FIXTURE, kind, random.Random(0))
  assert slip is not None and slip.kind == kind
  assert file_slips.compiles(FIXTURE) and not file_slips.compiles(slip.broken)
  assert file_slips.same_ast(slip.original, FIXTURE)
  assert not file_slips.same_ast(slip.broken, FIXTURE)
  assert 0 <= slip.line < FIXTURE.count("\n")


def test_slips_are_seeded():
  one = file_slips.put_slip(FIXTURE, "comma", random.Random(3))
  two = file_slips.put_slip(FIXTURE, "comma", random.Random(3))
  assert one == two


def test_the_rule_script_repairs_a_dropped_colon_where_python_hints_it():
  rules = load_launch("rule_repair_baseline")
  broken = FIXTURE.replace("  if limit is not None:\n", "  if limit is not None\n")
  repaired = rules.repairs(broken)
  assert repaired and file_slips.same_ast(repaired[0], FIXTURE)


def _long_body_without_colon() -> str:
  """A file whose broken header's block runs far past a 120-token window."""
  body = "".join(f"    total = total + values[{i}] * weights[{i}]\n" for i in range(40))
  return FIXTURE + "\n\ndef weighted(values, weights)\n    total = 0\n" + body + "    return total\n"


def test_a_file_repair_carries_no_edit_that_only_the_window_needed():
  # Judged on the window, the header's body past the window's cut needed a `pass` or
  # the like; judged in the file only the colon is needed.
  broken = _long_body_without_colon()
  original = broken.replace("def weighted(values, weights)\n", "def weighted(values, weights):\n")
  diagnosis = diagnosis_lib.diagnose(broken, registry.get("markov_channel"), top_k=3,
                                     time_budget=None, max_expansions=2000)
  assert diagnosis.status == "repaired"
  for fix in diagnosis.fixes:
    assert file_slips.compiles(fix.text), fix.description
    assert "pass" not in fix.description, fix.description
  best = diagnosis.fixes[0]
  changed = [i for i, (a, b) in enumerate(zip(broken.split("\n"), best.text.split("\n")))
             if a != b]
  assert changed == [broken.split("\n").index("def weighted(values, weights)")]
  assert file_slips.same_ast(best.text, original)
  assert diagnosis.fixes[0].description.endswith("insert ':'")


def test_an_unmatched_closer_reaches_back_to_the_opener_python_did_not_blame():
  lines = FIXTURE.split("\n")
  i = lines.index("      out.append(Interval(last.low, max(last.high, interval.high)))")
  lines[i] = "      out.append(Interval(last.low, max(last.high,"
  lines.insert(i + 1, "                          interval.high)))")
  original = "\n".join(lines)
  broken = original.replace("out.append(Interval(last.low, max(", "out.append(Interval last.low, max(")
  assert file_slips.compiles(original) and not file_slips.compiles(broken)
  diagnosis = diagnosis_lib.diagnose(broken, registry.get("markov_channel"), top_k=5,
                                     window_tokens=40, time_budget=None, max_expansions=500)
  assert any(file_slips.same_ast(fix.text, original) for fix in diagnosis.fixes)


def test_the_error_window_of_an_over_long_run_on_line_is_that_line():
  # An unclosed bracket on a line longer than the window's cap, a statement after it
  # (this raised UnboundLocalError, a 500 from /repair.json).
  items = ", ".join(str(i) for i in range(200))
  source = f"def f():\n    x = [{items}\n    return x\n"
  lexemes = tokens.lex_lexemes(source)
  logical = windows.logical_lines(lexemes)
  window = windows.error_window(lexemes, logical, source.count("\n"), 1, max_tokens=120)
  assert (window.first_line, window.end_line) == (1, 2)
  assert window.tokens[:3] == ("NAME", "=", "[")


def test_blamed_edits_are_one_token_edits_on_the_blamed_line_and_the_line_before():
  source = "x = f(a\ny = 2\n"
  lexemes = tokens.lex_lexemes(source)
  logical = windows.logical_lines(lexemes)
  window = windows.error_window(lexemes, logical, 3, 0)
  edits = in_file.blamed_edits(window, 0)
  assert (*tokens.lex("x = f(a)\n")[:-1], *window.tokens[len(tokens.lex("x = f(a")):]) in edits
  assert all(abs(len(e) - len(window.tokens)) == 1 for e in edits)
