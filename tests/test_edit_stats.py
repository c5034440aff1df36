"""Tests of repair_rank.generator.edit_stats: edit scripts, counts, rates, save/load."""
import math

import pytest

from repair_rank.generator import edit_stats

Edit = edit_stats.Edit


def test_edits_is_a_minimal_script_that_turns_broken_into_fixed():
  broken = "print NAME NEWLINE".split()
  fixed = "print ( NAME ) NEWLINE".split()
  got = edit_stats.edits(broken, fixed)
  assert got == [Edit("insert", 1, None, "("), Edit("insert", 2, None, ")")]
  [deletion] = edit_stats.edits("NAME = = NUMBER".split(), "NAME = NUMBER".split())
  assert deletion.op == "delete" and deletion.old == "=" and deletion.position in (1, 2)
  assert edit_stats.edits("NAME [ NAME )".split(), "NAME [ NAME ]".split()) == [
      Edit("substitute", 3, ")", "]")]
  assert edit_stats.edits(fixed, fixed) == []


def test_fit_counts_edits_and_opportunities():
  pairs = [("NAME = ( NAME".split(), "NAME = ( NAME )".split()),
           ("NAME NAME".split(), "NAME".split()),
           ("NAME [ NUMBER )".split(), "NAME [ NUMBER ]".split())]
  stats = edit_stats.EditStats.fit(pairs)
  assert stats.pairs == 3
  assert stats.slots == 5 + 3 + 5
  assert stats.inserted == {")": 1}
  assert stats.deleted == {"NAME": 1}
  assert stats.substituted == {") ]": 1}
  assert stats.occurrences["NAME"] == 5 and stats.occurrences[")"] == 1


def test_log_rates_prefer_the_edits_people_make():
  pairs = [("NAME ( NAME".split(), "NAME ( NAME )".split())] * 9 + [
      ("NAME ( NAME ) )".split(), "NAME ( NAME )".split())]
  stats = edit_stats.EditStats.fit(pairs)
  closer = stats.log_rate(Edit("insert", 0, None, ")"))
  never = stats.log_rate(Edit("insert", 0, None, "def"))
  assert closer > never
  assert stats.log_rate(Edit("delete", 0, ")", None)) > stats.log_rate(Edit("delete", 0, "NAME", None))
  # Smoothed: unseen edits have a finite, negative log rate.
  for edit in (never, stats.log_rate(Edit("substitute", 0, "NAME", "lambda"))):
    assert edit < 0 and math.isfinite(edit)
  with pytest.raises(ValueError, match="unknown edit op"):
    stats.log_rate(Edit("move", 0, "NAME", "NAME"))


def test_save_load_round_trip_and_bundled_default(tmp_path):
  stats = edit_stats.EditStats.fit([("NAME ( NAME".split(), "NAME ( NAME )".split())])
  path = tmp_path / "stats.json"
  stats.save(path)
  loaded = edit_stats.EditStats.load(path)
  assert loaded == stats
  edit = Edit("insert", 0, None, ")")
  assert loaded.log_rate(edit) == stats.log_rate(edit)
  default = edit_stats.load_default()
  # Fitted on the train split: 9128 pairs, and "insert )" is a top repair.
  assert default.pairs == 9128
  assert default.log_rate(edit) > default.log_rate(Edit("insert", 0, None, "def"))
