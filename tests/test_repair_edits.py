"""Repairs as text edits of the user's source (`text_edits.apply_repair`, `diagnosis.diagnose`)."""
import ast

import numpy as np
import pytest

from repair_rank import tokens
from repair_rank.ranking import registry
from repair_rank.repair import diagnosis as diagnosis_lib
from repair_rank.repair import ranked
from repair_rank.repair import text_edits


@pytest.mark.parametrize("source, candidate, expected", [
    # Deleted, inserted and replaced tokens; names, literals, comments and spacing kept.
    ('print(msg.upper(), n=3))  # done\n', "NAME ( NAME . NAME ( ) , NAME = NUMBER ) NEWLINE",
     'print(msg.upper(), n=3)  # done\n'),
    ("def area(width, height)\n    return width * height\n",
     "def NAME ( NAME , NAME ) : NEWLINE INDENT return NAME * NAME NEWLINE DEDENT",
     "def area(width, height):\n    return width * height\n"),
    ("for item in items\n\tprint(item)\n",
     "for NAME in NAME : NEWLINE INDENT NAME ( NAME ) NEWLINE DEDENT",
     "for item in items:\n\tprint(item)\n"),
    ("print 'hello'\n", "NAME ( STRING ) NEWLINE", "print('hello')\n"),
    ("for x items:\n    pass\n", "for NAME in NAME : NEWLINE INDENT pass NEWLINE DEDENT",
     "for x in items:\n    pass\n"),
    ("x = width * height\n", "NAME = NAME + NAME NEWLINE", "x = width + height\n"),
    ("x = [1, 2, 3\nprint(x)\n",
     "NAME = [ NUMBER , NUMBER , NUMBER ] NEWLINE NAME ( NAME ) NEWLINE",
     "x = [1, 2, 3]\nprint(x)\n"),
    # An inserted name gets the placeholder x.
    ("total = (a + ) * 2\n", "NAME = ( NAME + NAME ) * NUMBER NEWLINE", "total = (a + x) * 2\n"),
    # Layout: a line break between two statements, a line indented into its block.
    ("x = 1 y = 2\n", "NAME = NUMBER NEWLINE NAME = NUMBER NEWLINE", "x = 1\ny = 2\n"),
    ("if ok:\nrun(1)  # go\nstop()\n",
     "if NAME : NEWLINE INDENT NAME ( NUMBER ) NEWLINE DEDENT NAME ( ) NEWLINE",
     "if ok:\n    run(1)  # go\nstop()\n"),
])
def test_apply_repair_keeps_the_users_text(source, candidate, expected):
  candidate = candidate.split()
  assert tokens.is_valid(candidate)
  repaired = text_edits.apply_repair(source, candidate)
  assert repaired == expected
  ast.parse(repaired)
  # Only the edited characters change: the edits are small.
  edits = text_edits.repair_edits(source, candidate)
  assert sum(e.end - e.start + len(e.text) for e in edits) <= 6


def test_apply_repair_falls_back_to_a_fresh_layout_that_lexes_right():
  # Joining two lines across a comment has no minimal edit: laid out afresh instead.
  source = "x = (1 +  # one\n"
  candidate = "NAME = ( NUMBER ) NEWLINE".split()
  repaired = text_edits.apply_repair(source, candidate)
  ast.parse(repaired)
  assert tokens.lex(repaired)[:5] == candidate[:5]


def test_apply_edits_orders_an_insertion_before_a_deletion():
  edits = [text_edits.TextEdit(3, 4, ""), text_edits.TextEdit(3, 3, ")")]
  assert text_edits.apply_edits("f(x}", edits) == "f(x)"
  assert text_edits.diff_edit("abcdef", "abXYef") == text_edits.TextEdit(2, 4, "XY")


def prefer_short(query, candidates):
  return -np.array([len(c) for c in candidates], float)


def test_diagnose_a_snippet_and_every_status():
  diagnosis = diagnosis_lib.diagnose("def f(x)\n    return g(x)\n", prefer_short, top_k=2,
                               max_distance=1)
  assert diagnosis.status == "repaired" and diagnosis.message == "expected ':'"
  assert (diagnosis.line, diagnosis.column) == (0, 8)
  assert 1 <= len(diagnosis.fixes) <= 2
  for fix in diagnosis.fixes:
    ast.parse(fix.text)
    assert text_edits.apply_edits("def f(x)\n    return g(x)\n", fix.edits) == fix.text
  assert len({fix.text for fix in diagnosis.fixes}) == len(diagnosis.fixes)
  statuses = {source: diagnosis_lib.diagnose(source, prefer_short, max_distance=1).status
              for source in ("x = 1\n", "", 'x = f"{}"\n')}
  assert statuses == {"x = 1\n": "parses", "": "no_tokens", 'x = f"{}"\n': "in_token"}


def test_diagnose_a_whole_file_repairs_the_window_in_place():
  body = "".join(f"def f{i}(a):\n    # keep me\n    return a  +  {i}\n\n" for i in range(40))
  broken = body.replace("def f30(a):", "def f30(a)")
  diagnosis = diagnosis_lib.diagnose(broken, registry.get("markov_channel"), top_k=3,
                               window_tokens=60, time_budget=None, max_expansions=500)
  assert diagnosis.status == "repaired" and diagnosis.line == broken.split("\n").index("def f30(a)")
  assert diagnosis.fixes[0].text == body  # comments and odd spacing untouched
  assert diagnosis.fixes[0].edits == (text_edits.TextEdit(broken.index("def f30(a)") + 10,
                                                       broken.index("def f30(a)") + 10, ":"),)


def test_diagnose_a_whole_file_drops_characters_outside_python():
  # The lexer skips '×', so minimal edits would keep it and the fix would not parse.
  # A bound on expansions, not seconds: a busy CI machine ran out of the time budget.
  before = "".join(f"v{i} = f({i}, {i})\n" for i in range(40))
  broken = before + "y = 2 × 3\n" + before
  diagnosis = diagnosis_lib.diagnose(broken, registry.get("markov_channel"), top_k=2,
                               window_tokens=60, time_budget=None, max_expansions=500)
  assert diagnosis.status == "repaired" and diagnosis.fixes
  for fix in diagnosis.fixes:
    head = before[:before.index("v30 =")]  # well before the window: untouched
    assert "×" not in fix.text and fix.text.startswith(head), fix.description
    assert "line 41: drop '×'" in fix.description
    ast.parse(fix.text)


def test_confidence_is_read_in_one_place():
  plain = ranked.Repair(("NAME",), 1.0, 1)
  assert ranked.confidence_of(plain) is None
  assert ranked.confident([plain], 0.9) == [plain]  # no confidence: offer every repair

  class Sure:
    confidence = 0.95
  class Unsure:
    confidence = 0.2
  assert ranked.confident([Sure(), Unsure()], 0.5)[0].confidence == 0.95
  assert len(ranked.confident([Sure(), Unsure()], 0.5)) == 1
