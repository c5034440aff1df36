"""The end-to-end job: pairs -> generator -> the endpoint over HTTP -> metrics."""
import json

import numpy as np
import pytest

import conftest
from repair_rank.jobs import evaluate_end_to_end as e2e
from repair_rank.ranking import end_to_end
from repair_rank.ranking import registry
from repair_rank.serving import server as serve
from repair_rank.data import instances as instances_lib
from repair_rank.data import jsonl
from repair_rank.data import stackoverflow


def load_config(**overrides):
  config = conftest.load_module("configs/evaluate.py").get_config()
  config.update(overrides)
  return config


def pair(id_, broken, fixed, distance):
  return {"id": id_, "broken": broken, "fixed": fixed, "distance": distance,
          "length": len(broken.split()), "broken_src": None, "fixed_src": None}


PAIRS = [
    pair("p0", "NAME = ( STRING }", "NAME = ( STRING )", 1),
    pair("p1", "NAME NAME = None", "NAME = None", 1),
    # Two edits away: with max_distance=1 the generator cannot find it (a miss).
    pair("p2", "NAME = [ NUMBER , NUMBER", "NAME = [ NUMBER , NUMBER ] NEWLINE", 2),
]


def test_end_to_end_over_http_then_reuse_instances(tmp_path):
  pairs_path = tmp_path / "pairs.jsonl"
  jsonl.write_jsonl(pairs_path, PAIRS)
  workdir = tmp_path / "run"
  config = load_config(scorer="markov_distance", pairs=str(pairs_path), max_distance=1,
                       time_budget=0.5, progress=False)
  e2e.run(config, str(workdir))

  report = json.loads((workdir / e2e.REPORT_FILE).read_text())
  assert report["n_instances"] == 3 and report["scorer"] == "markov_distance"
  assert report["endpoint"].startswith("in-process (http://127.0.0.1:")
  rows = report["views"]["end_to_end"]
  assert rows["all"]["n"] == 3 and rows["d=1"]["n"] == 2 and rows["d=2"]["n"] == 1
  assert rows["d=2"]["p@100"] == 0.0  # missed by the generator: no hit at any k
  assert report["views"]["ranking_generated"]["all"]["n"] == 2
  assert report["generation"]["recall"] == 2 / 3
  assert report["scoring"]["queries"] == 2 and report["scoring"]["candidates"] > 2
  # Times are real measurements: per query, summed, bounded by the wall clock.
  generation_seconds, scoring_seconds = report["generation"]["seconds"], report["scoring"]["seconds"]
  assert 0 < generation_seconds["total"] <= report["generation"]["wall_seconds"] + 0.05
  assert generation_seconds["total"] == pytest.approx(3 * generation_seconds["mean"])
  assert 0 < generation_seconds["p50"] <= generation_seconds["p90"] <= generation_seconds["p99"]
  assert 0 < scoring_seconds["total"] <= report["scoring"]["wall_seconds"]
  assert scoring_seconds["total"] == pytest.approx(2 * scoring_seconds["mean"])
  examples = [json.loads(line) for line in (workdir / e2e.EXAMPLES_FILE).read_text().splitlines()]
  assert [e["id"] for e in examples] == ["p0", "p1", "p2"]
  assert examples[2]["rank"] is None and examples[2]["top"] == []
  assert examples[1]["top"] and examples[1]["rank"] is not None

  # The saved instances skip generation; scored by an endpoint already running.
  instances_path = workdir / e2e.INSTANCES_FILE
  assert len(instances_lib.read(instances_path)) == 3
  with serve.RerankServer(registry.load("markov_distance")).start() as server:
    config = load_config(scorer="markov_distance", instances=str(instances_path),
                         endpoint=server.url, progress=False)
    e2e.run(config, str(tmp_path / "rerun"))
  rerun = json.loads((tmp_path / "rerun" / e2e.REPORT_FILE).read_text())
  assert rerun["views"] == report["views"]
  assert rerun["generation"]["skipped"] and rerun["endpoint"] == server.url


def test_evaluate_end_to_end_with_a_stand_in_scorer():
  instances = [
      instances_lib.RankingInstance("a", ("NAME",), ("NAME", "NEWLINE"),
                                    (("NAME", "NEWLINE"), ("NUMBER",)), 1),
      instances_lib.RankingInstance("b", ("NAME",), ("STRING",), (("NUMBER",),), 1),
  ]
  prefer_newline = lambda q, c: np.array([float("NEWLINE" in x) for x in c])
  result, examples = end_to_end.evaluate_end_to_end(instances, prefer_newline, seed=0, progress=False)
  assert result["views"]["end_to_end"]["all"]["p@1"] == 0.5
  assert examples[0]["rank"] == 0 and examples[0]["top"][0] == "NAME NEWLINE"
  assert examples[1]["rank"] is None


def test_spread_takes_evenly_spaced_items():
  assert stackoverflow.spread(list(range(10)), 3) == [0, 4, 9]
  assert stackoverflow.spread(list(range(4)), 0) == [0, 1, 2, 3]
  assert stackoverflow.spread(list(range(4)), 9) == [0, 1, 2, 3]
