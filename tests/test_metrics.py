"""Tests for repair_rank.metrics: ranks, MRR, P@k and the breakdown."""
import json
import math

import numpy as np
import pytest

from repair_rank import metrics


def _result(rank, distance=1, length=5, generated=True):
  return metrics.QueryResult(id="q", distance=distance, length=length, rank=rank,
                             generated=generated, n_candidates=10)


def test_rank_of_truth_counts_better_and_tied_others():
  assert metrics.rank_of_truth([0.1, 0.9, 0.5], 1) == 0
  assert metrics.rank_of_truth([0.1, 0.9, 0.5], 0) == 2
  assert metrics.rank_of_truth([0.5, 0.9, 0.5, 0.1], 0) == 2  # One tie counts against.


def test_rank_of_truth_all_tied_puts_truth_last():
  for truth_index in range(5):
    assert metrics.rank_of_truth(np.zeros(5), truth_index) == 4


def test_rank_of_truth_nan_beats_truth():
  assert metrics.rank_of_truth([1.0, math.nan, 0.0], 0) == 1
  assert metrics.rank_of_truth([math.nan, 1.0, 0.0], 0) == 2  # NaN truth loses to all.
  assert metrics.rank_of_truth([3.0], 0) == 0


def test_rank_of_truth_rejects_bad_index():
  with pytest.raises(ValueError):
    metrics.rank_of_truth([1.0, 2.0], 2)


def test_summarize_hand_computed():
  # Ranks 0, 1, 9, 10, 150 and a miss.
  row = metrics.summarize([0, 1, 9, 10, 150, None])
  assert row["n"] == 6
  assert row["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 10 + 1 / 11 + 1 / 151) / 6)
  assert row["p@1"] == pytest.approx(1 / 6)
  assert row["p@10"] == pytest.approx(3 / 6)
  assert row["p@100"] == pytest.approx(4 / 6)


def test_summarize_empty_and_all_misses():
  assert metrics.summarize([]) == {"n": 0, "mrr": None, "p@1": None, "p@10": None,
                                   "p@100": None}
  assert metrics.summarize([None, None]) == {"n": 2, "mrr": 0.0, "p@1": 0.0, "p@10": 0.0,
                                             "p@100": 0.0}


def test_report_breakdown_buckets():
  results = [_result(0, distance=1, length=0), _result(1, distance=2, length=9),
             _result(None, distance=1, length=10), _result(3, distance=3, length=25)]
  rows = metrics.report(results)
  assert list(rows) == ["all", "d=1", "d=2", "d=3", "len 0-9", "len 10-19", "len 20-29"]
  assert rows["all"]["n"] == 4
  assert rows["d=1"] == metrics.summarize([0, None])
  assert rows["len 0-9"] == metrics.summarize([0, 1])
  assert rows["len 10-19"]["mrr"] == 0.0
  assert rows["len 20-29"]["mrr"] == pytest.approx(0.25)
  json.dumps(rows, allow_nan=False)  # JSON-serialisable.


def test_format_table_and_save(tmp_path):
  rows = metrics.report([_result(0), _result(None, distance=2, length=12)])
  table = metrics.format_table(rows, title="demo")
  lines = table.splitlines()
  assert lines[0] == "demo"
  assert lines[1].split() == ["subset", "n", "MRR", "P@1", "P@10", "P@100"]
  assert lines[3].split() == ["all", "2", "0.500", "0.500", "0.500", "0.500"]
  assert any(line.startswith("len 10-19") for line in lines)
  assert metrics.format_table({"all": metrics.summarize([])}).splitlines()[-1].split() == [
      "all", "0", "-", "-", "-", "-"]
  path = tmp_path / "sub" / "report.json"
  metrics.save_report(path, {"ranking": rows})
  assert json.loads(path.read_text()) == {"ranking": rows}


def test_balanced_summary_reweights_to_the_target_mix():
  def result(distance, length, rank):
    return metrics.QueryResult(id="q", distance=distance, length=length, rank=rank,
                               generated=True, n_candidates=5)
  # Three distance-1 hits and one distance-2 miss: plain P@1 is 0.75.
  results = [result(1, 5, 0), result(1, 7, 0), result(1, 3, 0), result(2, 5, None)]
  even = {(1, 0): 0.5, (2, 0): 0.5}
  row = metrics.balanced_summary(results, even)
  assert row["p@1"] == pytest.approx(0.5) and row["mrr"] == pytest.approx(0.5)
  assert metrics.summarize(r.rank for r in results)["p@1"] == 0.75
  # A target cell with no query drops out; the rest is renormalised.
  row = metrics.balanced_summary(results, {(1, 0): 0.2, (3, 4): 0.8})
  assert row["p@1"] == pytest.approx(1.0)
  assert metrics.composition([(1, 0), (1, 0), (2, 3), (1, 0)]) == {(1, 0): 0.75, (2, 3): 0.25}
  assert metrics.cell(2, 37) == (2, 3)
