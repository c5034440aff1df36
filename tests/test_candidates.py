"""Tests for repair_rank.generator (search, neighbours) and repair_rank.syntax.syntax_errors (seconds)."""
import json
import pathlib
import sys
import time

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from repair_rank import candidates
from repair_rank.generator import neighbours
from repair_rank.generator import ngram
from repair_rank.generator import search
from repair_rank import paths
from repair_rank.syntax import syntax_errors
from repair_rank import tokens

SHORT_BROKEN = [
    "NAME NAME",
    "NAME STRING NEWLINE",
    "NAME = ( NUMBER",
    "if NAME NEWLINE INDENT pass",
    "def NAME ( ) NEWLINE INDENT return NUMBER NEWLINE DEDENT",
    "NAME = [ NUMBER NUMBER ]",
    ")",
]


def _brute_force_distance1(broken):
  """Every valid non-empty sequence one edit from `broken`, by plain enumeration."""
  out = set()
  n = len(broken)
  for i in range(n + 1):
    for tok in tokens.ALL_TOKENS:
      out.add(tuple(broken[:i]) + (tok,) + tuple(broken[i:]))
  for i in range(n):
    out.add(tuple(broken[:i] + broken[i + 1:]))
    for tok in tokens.ALL_TOKENS:
      out.add(tuple(broken[:i]) + (tok,) + tuple(broken[i + 1:]))
  out.discard(tuple(broken))
  out.discard(())  # the empty program parses but is no repair
  return {s for s in out if tokens.is_valid(list(s))}


@pytest.fixture(scope="module")
def model():
  return ngram.load_default()


@pytest.mark.parametrize("text", SHORT_BROKEN)
def test_distance1_is_complete(text, model):
  broken = text.split()
  got = candidates.generate(broken, max_distance=1, k=100_000, model=model)
  assert {tuple(c) for c in got} == _brute_force_distance1(broken)


@pytest.mark.parametrize("text", SHORT_BROKEN[:4])
def test_distance1_is_complete_within_larger_radius(text, model):
  broken = text.split()
  got = candidates.generate_scored(broken, max_distance=3, k=100_000,
                                   time_budget=0.3, model=model)
  assert {c.tokens for c in got if c.distance == 1} == _brute_force_distance1(broken)


@pytest.mark.parametrize("text", SHORT_BROKEN)
def test_candidates_are_valid_near_distinct_and_ordered(text, model):
  broken = text.split()
  got = candidates.generate_scored(broken, max_distance=2, k=500,
                                   time_budget=0.3, model=model)
  assert got
  seqs = [c.tokens for c in got]
  assert len(set(seqs)) == len(seqs)
  assert tuple(broken) not in set(seqs)
  for c in got:
    assert tokens.is_valid(list(c.tokens))
    assert c.distance == Levenshtein.distance(broken, list(c.tokens))
    assert 1 <= c.distance <= 2
  log_probs = model.log_probs([list(s) for s in seqs])
  np.testing.assert_allclose(log_probs, [c.log_prob for c in got])
  assert np.all(np.diff(log_probs) <= 1e-12)


def test_generate_matches_generate_scored_and_is_deterministic(model):
  broken = "NAME STRING NEWLINE".split()
  scored = candidates.generate_scored(broken, k=500, time_budget=None,
                                      max_expansions=30, model=model)
  plain = candidates.generate(broken, k=500, time_budget=None, max_expansions=30,
                              model=model)
  assert plain == [list(c.tokens) for c in scored]
  assert any(c.distance == 2 for c in scored)


@pytest.mark.parametrize("text", SHORT_BROKEN + [
    "NAME = ( NUMBER , NUMBER NEWLINE NAME = NUMBER",
    "NAME ( NAME NEWLINE INDENT NAME NEWLINE DEDENT NAME",
    "if NAME : NEWLINE INDENT NAME = NAME NAME NEWLINE DEDENT NAME NEWLINE",
    # Lines whose verdict depends on their neighbours (the one-line shortcuts must not apply).
    "NAME : NAME NEWLINE else : NAME NEWLINE",
    "try : NAME NEWLINE NAME = NUMBER NEWLINE except : NAME NEWLINE",
    "@ NAME NEWLINE NAME = NUMBER NEWLINE NAME NEWLINE",
    "NAME = NUMBER NEWLINE NAME ( NAME NAME ) NEWLINE NAME . NAME = NUMBER NEWLINE",
    "for NAME in NAME NEWLINE INDENT NAME NEWLINE DEDENT NAME = NUMBER NEWLINE",
    "NAME = NAME NEWLINE NAME NEWLINE INDENT NAME NEWLINE"])
def test_neighbour_shortcuts_agree_with_slow_path(text, model):
  broken = tuple(text.split())
  validity = neighbours.NeighbourValidity(broken)  # pylint: disable=protected-access
  log_prob = neighbours.NeighbourLogProb(model, broken)  # pylint: disable=protected-access
  for position, removed, added, seq in neighbours.edits(broken):  # pylint: disable=protected-access
    assert validity.is_valid(position, removed, added, seq) == tokens.is_valid(list(seq))
    assert log_prob.log_prob(position, removed, added) == pytest.approx(
        model.log_prob(seq), abs=1e-9)


def test_k_is_honoured(model):
  broken = "NAME = ( NUMBER".split()
  assert len(candidates.generate(broken, k=5, time_budget=0.2, model=model)) == 5
  everything = candidates.generate(broken, max_distance=1, k=100_000, model=model)
  assert candidates.generate(broken, max_distance=1, k=3, model=model) == everything[:3]


def test_time_budget_is_honoured(model):
  broken = ("def NAME ( NAME ) : NEWLINE INDENT for NAME in NAME : NEWLINE INDENT "
            "NAME = NAME [ NAME NEWLINE DEDENT DEDENT").split()
  candidates.generate(broken, max_distance=1, model=model)  # Warm the model cache.
  start = time.monotonic()
  got = candidates.generate_scored(broken, time_budget=0.05, model=model)
  elapsed = time.monotonic() - start
  assert got  # The best found so far: at least the distance-1 repairs.
  d1 = candidates.generate(broken, max_distance=1, k=100_000, model=model)
  assert elapsed < 0.05 + 1.0  # Distance 1 always completes; it is quick here.
  assert {tuple(c) for c in d1} <= {c.tokens for c in got}


def test_default_model_is_used():
  assert candidates.generate("NAME NAME".split(), max_distance=1, k=3)


@pytest.mark.parametrize("bad", [[], (), ""])
def test_empty_input_raises(bad):
  with pytest.raises(ValueError, match="empty"):
    candidates.generate(bad)


def test_unknown_token_raises():
  with pytest.raises(ValueError, match="'foo'"):
    candidates.generate(["NAME", "foo"])


def test_string_input_raises():
  with pytest.raises(ValueError, match="list of tokens"):
    candidates.generate("NAME NAME")


def _valid_pairs(distance, limit):
  with open(paths.split_path("valid")) as f:
    rows = [json.loads(line) for line in f]
  rows = [r for r in rows if r["distance"] == distance]
  rows.sort(key=lambda r: len(r["broken"].split()))
  return [(r["broken"].split(), r["fixed"].split()) for r in rows[:limit]]


@pytest.mark.parametrize("broken,fixed", _valid_pairs(2, 5))
def test_finds_real_distance2_fixes(broken, fixed, model):
  got = candidates.generate(broken, max_distance=2, time_budget=2.0, model=model)
  assert fixed in got


@pytest.mark.parametrize("text", SHORT_BROKEN + [
    "NAME = ( NUMBER , NUMBER NEWLINE NAME = NUMBER",
    "if NAME NEWLINE INDENT NAME NEWLINE DEDENT",
    "NAME = NAME NAME NEWLINE NAME = NUMBER NEWLINE"])
def test_parse_error_agrees_with_is_valid(text):
  seq = text.split()
  for _, edited in neighbours.distance1_edits(seq):
    error = syntax_errors.parse_error(edited)
    assert (error is None) == tokens.is_valid(list(edited))
    if error is not None:
      assert 0 <= error.index <= error.end_index <= len(edited)


def test_parse_error_locates_tokens():
  assert syntax_errors.parse_error("NAME NAME NEWLINE".split()).index == 1
  assert syntax_errors.parse_error("if NAME NEWLINE INDENT NAME NEWLINE DEDENT".split()).index == 2
  assert syntax_errors.parse_error("NAME = NUMBER ) NEWLINE".split()).index == 3
  assert syntax_errors.parse_error("NAME ( NAME NEWLINE".split()).message == "layout"
  assert syntax_errors.parse_error("NAME = NUMBER NEWLINE".split()) is None


def test_distance1_repairs_survive_the_k_cut(model):
  broken = "NAME = ( NUMBER".split()
  d1 = candidates.generate(broken, max_distance=1, k=100_000, model=model)
  got = candidates.generate(broken, max_distance=3, k=len(d1) + 2,
                            time_budget=0.5, model=model)
  assert {tuple(c) for c in d1} <= {tuple(c) for c in got}
  assert len(got) == len(d1) + 2


def test_never_proposes_the_empty_program():
  # Deleting the one token leaves the empty program, which parses but repairs nothing.
  for broken in (["NAME", ")"], [")"], ["INDENT"]):
    assert all(candidates.generate(broken, max_distance=2, time_budget=0.5)), broken


_LINE = "NAME = NAME ( NAME , NUMBER ) NEWLINE "


@pytest.mark.parametrize("broken,fixed", [
    # A call missing both parentheses, the closer at the far end of its line.
    (_LINE * 6 + "NAME NAME , NAME . NAME ( ) NEWLINE " + _LINE * 4,
     _LINE * 6 + "NAME ( NAME , NAME . NAME ( ) ) NEWLINE " + _LINE * 4),
    # A function body left unindented: INDENT after the header, DEDENT lines later.
    ("def NAME ( NAME ) : NEWLINE NAME = NAME + NUMBER NEWLINE return NAME NEWLINE " + _LINE * 3,
     "def NAME ( NAME ) : NEWLINE INDENT NAME = NAME + NUMBER NEWLINE return NAME NEWLINE DEDENT "
     + _LINE * 3),
])
def test_search_finds_paired_edits_far_apart(broken, fixed, model):
  # A machine-independent budget: 50 partial repairs extended.
  got = candidates.generate_scored(broken.split(), time_budget=None, max_expansions=50,
                                   model=model)
  assert tuple(fixed.split()) in {c.tokens for c in got}


def test_long_range_edits_put_the_missing_bracket_anywhere_it_could_go():
  # An unmatched ')': an opener before it, anywhere on its line (not on earlier lines).
  tokens_ = tuple("NAME = NUMBER NEWLINE NAME = NAME + NAME ) NEWLINE".split())
  error = syntax_errors.parse_error(tokens_)
  assert error.message.startswith("unmatched")
  edits = set(search._long_range_edits(tokens_, error, last_edit=0))  # pylint: disable=protected-access
  assert edits == {(i, None, opener) for i in range(4, 9) for opener in "([{"}
  # An opener never closed: a closer anywhere after it, up to the end.
  tokens_ = tuple("NAME ( NAME , NAME".split())
  error = syntax_errors.parse_error(tokens_)
  assert error.unclosed
  edits = set(search._long_range_edits(tokens_, error, last_edit=0))  # pylint: disable=protected-access
  assert edits == {(i, None, closer) for i in range(2, 6) for closer in ")]}"}
  # Any other error: nothing long-range.
  tokens_ = tuple("NAME = = NUMBER".split())
  assert not list(search._long_range_edits(  # pylint: disable=protected-access
      tokens_, syntax_errors.parse_error(tokens_), last_edit=0))


@pytest.mark.parametrize("text", [
    "NAME NAME",
    "NAME = NUMBER NUMBER NEWLINE NAME = NUMBER NEWLINE",
    "for NAME NAME NEWLINE INDENT NAME NEWLINE DEDENT",
    "NAME = NUMBER NEWLINE NAME NAME = NUMBER NEWLINE if NAME : NEWLINE INDENT pass NEWLINE DEDENT"])
def test_no_edit_after_the_last_token_python_read_repairs(text):
  seq = text.split()
  error = syntax_errors.parse_error(seq)
  assert error.message == "invalid syntax" and error.last_read is not None
  assert error.index <= error.last_read < len(seq)
  after = [edited for position, edited in neighbours.distance1_edits(seq)
           if position > error.last_read]
  assert after and not any(tokens.is_valid(list(edited)) for edited in after)


def test_last_read_is_unknown_for_specific_messages():
  # Python's second pass names these errors, and may have read further to do so.
  for text in ["NAME = ( ( NUMBER", "NAME ( NAME NAME ) NEWLINE NAME = NUMBER",
               "def NAME ( ) NEWLINE INDENT return NUMBER NUMBER NEWLINE DEDENT"]:
    assert syntax_errors.parse_error(text.split()).last_read is None


def test_distance2_repairs_are_found_when_their_parent_is_expanded(model):
  # One expansion: the best distance-1 sequence's valid children are all found at
  # once (checked as they are made), not one per pop.
  got = candidates.generate_scored("NAME = ( ( NUMBER".split(), max_distance=3, max_expansions=1,
                                   time_budget=None, model=model)
  nearest = [c for c in got if c.distance == 2]
  assert len(nearest) >= 2
  assert all(tokens.is_valid(list(c.tokens)) for c in got)


def test_minimal_repairs_tells_a_repair_from_a_repair_plus_a_change():
  sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "launch" / "analysis"))
  import minimal_repairs  # pylint: disable=import-outside-toplevel
  # Both closers are needed: either alone leaves the program invalid.
  assert minimal_repairs.is_minimal(["NAME", "(", "[", "NAME", "NEWLINE"],
                                    ["NAME", "(", "[", "NAME", "]", ")", "NEWLINE"])
  query = ["NAME", "(", "NAME", "NEWLINE"]
  assert minimal_repairs.is_minimal(query, ["NAME", "(", "NAME", ")", "NEWLINE"])
  # ")" plus a new argument is a repair with a change on top.
  assert not minimal_repairs.is_minimal(query, ["NAME", "(", "NAME", ",", "NAME", ")",
                                                "NEWLINE"])
