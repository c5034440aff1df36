"""Tests that fail when the code breaks: the cases a mutation audit found unguarded."""
import json
import math
import pathlib

import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from rapidfuzz.distance import Levenshtein

from repair_rank.generator import search
from repair_rank.model import checkpoints
from repair_rank.syntax import tokens
from repair_rank.training import finetune
from repair_rank.training import loop
from repair_rank.training import writer as writer_lib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_listwise_loss_divides_by_tau():
  scores = jnp.array([[1.0, 2.0, 0.0, 5.0]])
  mask = jnp.array([[True, True, True, False]])
  loss, hits = finetune.listwise_loss_sums(scores, mask, jnp.array([0]), tau=2.0)
  expected = math.log(math.exp(0.5) + math.exp(1.0) + math.exp(0.0)) - 0.5  # by hand
  assert abs(float(loss) - expected) < 1e-5
  assert float(hits) == 0.0


def test_resume_restores_the_latest_checkpoint(tmp_path):
  manager = checkpoints.checkpoint_manager(tmp_path / "checkpoints", keep=2)
  saved = {"w": np.arange(4, dtype=np.float32), "b": np.ones(2, np.float32)}
  manager.save(7, args=ocp.args.StandardSave(saved))
  manager.wait_until_finished()
  fresh = {"w": np.zeros(4, np.float32), "b": np.zeros(2, np.float32)}
  state, step = loop.resume(manager, writer_lib.MetricWriter(tmp_path, job="t"), fresh)
  assert step == 7
  np.testing.assert_array_equal(np.asarray(state["w"]), saved["w"])


def test_candidates_are_valid_near_and_new_on_real_inputs():
  """At the default settings, for real broken snippets of test."""
  with open(ROOT / "data/stackoverflow/test.jsonl") as f:
    pairs = [json.loads(next(f)) for _ in range(3)]
  for pair in pairs:
    query = pair["broken"].split()
    found = search.generate_scored(query)
    assert found
    for candidate in found:
      assert candidate.tokens and list(candidate.tokens) != query
      assert tokens.is_valid(candidate.tokens)
      assert candidate.distance == Levenshtein.distance(query, candidate.tokens) <= 3


def test_no_layout_artefacts_at_distance_3_on_real_inputs():
  """Short real snippets, searched to the leaves (distance 3) within a fixed expansion
  budget: no candidate carries layout the lexer never emits (a DEDENT without its
  INDENT, NEWLINE inside brackets), which a check of leaves that skipped layout lets
  through on several of these."""
  with open(ROOT / "data/stackoverflow/test.jsonl") as f:
    lines = [line for line, _ in zip(f, range(20))][10:]  # the split is shortest first
  queries = [json.loads(line)["broken"].split() for line in lines]
  assert all(len(q) <= 9 for q in queries)
  deepest = 0
  for query in queries:
    for candidate in search.generate_scored(query, time_budget=None, max_expansions=100):
      tokens.render(candidate.tokens)  # raises LayoutError on an artefact
      assert tokens.is_valid(candidate.tokens), candidate.tokens
      assert candidate.distance == Levenshtein.distance(query, candidate.tokens) <= 3
      deepest = max(deepest, candidate.distance)
  assert deepest == 3
