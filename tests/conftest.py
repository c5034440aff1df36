"""Test set-up: two fake CPU devices for the pmap tests, set before JAX is imported."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# No persistent compilation cache in ~/.cache from tests (test_scorer checks it in a tmp dir).
os.environ.setdefault("REPAIR_RANK_JAX_CACHE", "off")

# pylint: disable=g-import-not-at-top,wrong-import-position
import importlib.util
import pathlib
import types

import ml_collections
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def load_module(relative_path: str) -> types.ModuleType:
  """A script or config of the repository that is not a package (launch/..., configs/...),
  loaded from its path, e.g. `load_module("configs/repair.py").get_config()`."""
  path = REPO / relative_path
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


_VOCAB = ("NAME", "(", ")", "=", "NUMBER", ",", ":", "NEWLINE", "[", "]")


def make_instances(n: int, *, seed: int = 0, candidates: int = 6):
  """Tiny ranking instances: the truth is a random sequence, the query drops one of its
  tokens, the other candidates are random single-token edits of the query."""
  from repair_rank.data.instances import RankingInstance, token_distance
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    truth = tuple(rng.choice(_VOCAB, size=int(rng.integers(4, 9))).tolist())
    drop = int(rng.integers(len(truth)))
    query = truth[:drop] + truth[drop + 1:]
    pool = {truth}
    while len(pool) < candidates:
      position = int(rng.integers(len(query) + 1))
      kind = rng.integers(3)
      token = str(rng.choice(_VOCAB))
      if kind == 0:
        edited = query[:position] + (token,) + query[position:]
      elif kind == 1 and position < len(query):
        edited = query[:position] + (token,) + query[position + 1:]
      else:
        edited = query[:position] + query[position + 1:]
      if edited:
        pool.add(edited)
    ordered = sorted(pool)
    rng.shuffle(ordered)
    out.append(RankingInstance(id=f"tiny-{i}", query=query, truth=truth,
                               candidates=tuple(ordered), distance=token_distance(query, truth)))
  return out


def raw_request(server, data: bytes) -> str:
  """Sends `data` on a fresh socket to a running server and returns all it answers."""
  import socket  # pylint: disable=g-import-not-at-top
  with socket.create_connection(server.address, timeout=5) as sock:
    sock.sendall(data)
    chunks = []
    while chunk := sock.recv(4096):
      chunks.append(chunk)
  return b"".join(chunks).decode()


def with_parts(instances):
  """`instances` with prior parts from the bundled n-gram and edit statistics (as build_data
  stores them), for the tests of first-stage lists."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from repair_rank.generator import edit_stats, ngram
  from repair_rank.ranking import learned_prior
  model, stats = ngram.load_default(), edit_stats.load_default()
  out = []
  for inst in instances:
    parts = learned_prior.parts_of(inst.query, inst.candidates, model, stats)
    truth = learned_prior.parts_of(inst.query, [inst.truth], model, stats)[0]
    out.append(dataclasses.replace(inst, parts=tuple(map(tuple, parts.tolist())),
                                   truth_parts=tuple(truth.tolist())))
  return out


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  """A tiny model/job config shared by the model-job tests (compiled steps are cached by it)."""
  config = ml_collections.ConfigDict(dict(
      model=dict(dim=32, heads=2, layers=1, mlp_dim=64, max_len=32, dropout=0.1,
                 attention_dropout=0.0, dtype="float32", tied_output=True, edit_channel=True,
                 distance_feature=True, max_distance=8, causal_scorer=True, pooling="mean",
                 lm_feature=True),
      length_buckets=(32,), seed=0, num_steps=6, warmup_steps=2, learning_rate=3e-3,
      weight_decay=0.01, grad_clip_norm=1.0, log_every_steps=2, eval_every_steps=3,
      checkpoint_every_steps=3, keep_checkpoints=2, progress=False, max_train_seconds=0.0,
      # pretrain
      per_device_batch_size=2, max_eval_sequences=0,
      # finetune
      train_instances="", valid_instances="", max_valid_instances=0, pretrained_checkpoint="",
      freeze_encoder=False, encoder_learning_rate=1e-3, tau=1.0, group_size=4,
      queries_per_device=2))
  config.update(overrides)
  return config


@pytest.fixture(name="tiny_instances")
def fixture_tiny_instances():
  return make_instances(8)
