"""launch/benchmarks/benchmark_query_latency.py: one line per bundle over real queries, and a
clear error for a sampling that takes nothing."""
import dataclasses
import re

import jax
import pytest

import conftest
from repair_rank.data import instances as instances_lib
from repair_rank.model import models
from repair_rank.ranking import scorer
from repair_rank.training import finetune


def _script():
  return conftest.load_module("launch/benchmarks/benchmark_query_latency.py")


def test_prints_the_spread_over_the_sampled_queries(tmp_path, capsys):
  model_config = models.TransformerConfig.from_job_config(conftest.tiny_config(), max_len=64)
  params = finetune._initializer(model_config)(jax.random.PRNGKey(0))  # pylint: disable=protected-access
  bundle = scorer.Scorer(model_config, params, length_buckets=(16, 64),
                         batch_buckets=(2, 4)).save(tmp_path / "bundle")
  # Lists of 3, 5 and 8 candidates at the sampled positions 0, 2 and 4: the median is 5.
  instances = [dataclasses.replace(instance, id=f"q{i}") for i, instance in enumerate(
      conftest.make_instances(2, seed=0, candidates=3)
      + conftest.make_instances(2, seed=1, candidates=5)
      + conftest.make_instances(2, seed=2, candidates=8))]
  path = tmp_path / "queries.jsonl"
  instances_lib.write(path, instances)
  _script().main([str(bundle), "--instances", str(path), "--every", "2", "--repeats", "1"])
  line = capsys.readouterr().out.strip()
  assert re.fullmatch(
      rf"{re.escape(str(bundle))}: 3 queries, median 5 candidates: "
      r"p50 [\d.]+ ms, p90 [\d.]+ ms, max [\d.]+ ms", line), line


def test_a_sampling_that_takes_nothing_is_refused(capsys):
  with pytest.raises(SystemExit):
    _script().main(["some_bundle", "--every", "0"])
  assert "--every 0 and --repeats 3 must each be at least 1" in capsys.readouterr().err
