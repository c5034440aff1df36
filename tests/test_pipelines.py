"""Tests for the Beam / process-pool shard runner and the build it runs.

With a load-independent budget the Beam pipeline writes the same instance
files as the process pool (the build before Beam), with one worker or two, and
a build killed halfway then re-run writes them too.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from configs import build_data as build_data_config
from repair_rank import paths
from repair_rank.data import generation
from repair_rank.data import pipelines
from repair_rank.jobs import build_data

ROOT = pathlib.Path(__file__).resolve().parent.parent
NUM_PAIRS = 24
SHARD_SIZE = 3


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory):
  """Short valid pairs at distances 1 and 2, so the shards take well under a second."""
  rows = [json.loads(line) for line in paths.split_path("valid").open()]
  short = [r for r in rows if r["length"] <= 12 and r["distance"] == 1][:NUM_PAIRS - 6]
  short += [r for r in rows if r["length"] <= 14 and r["distance"] == 2][:6]
  source = tmp_path_factory.mktemp("pairs")
  (source / "valid.jsonl").write_text("".join(json.dumps(r) + "\n" for r in short))
  return source


def _config(source_dir, output_dir, runner, workers):
  config = build_data_config.get_config()
  config.unlock()
  config.update(source_dir=str(source_dir), output_dir=str(output_dir), splits=("valid",),
                max_distance=2, k=50, time_budget=0.0, max_expansions=10,
                shard_size=SHARD_SIZE, runner=runner, workers=workers, tfds=False,
                progress=False)
  return config


def _files(output_dir: pathlib.Path) -> dict[str, str]:
  """The build's files by name; the stats without their measured seconds."""
  out = {path.name: path.read_text() for path in sorted(output_dir.glob("valid.*"))}
  out["valid.stats.jsonl"] = [
      {k: v for k, v in json.loads(line).items() if k != "seconds"}
      for line in out["valid.stats.jsonl"].splitlines()]
  shards = output_dir / "shards" / "valid"
  out["shards"] = sorted(path.name for path in shards.iterdir())
  return out


@pytest.fixture(scope="module")
def pool_build(source_dir, tmp_path_factory):
  """The build as it was before Beam: the process pool, one worker."""
  out = tmp_path_factory.mktemp("pool")
  build_data.run(_config(source_dir, out, "pool", 1), str(out))
  return _files(out)


def test_beam_builds_the_pool_build_with_one_worker_or_two(source_dir, pool_build, tmp_path):
  assert len(pool_build["valid.stats.jsonl"]) == NUM_PAIRS
  assert len([n for n in pool_build["shards"] if n.endswith(".stats.jsonl")]) == \
      NUM_PAIRS // SHARD_SIZE
  # Distance 2 was searched, within the budget: not a trivial build.
  assert any(r["n_candidates"] > 1 for r in pool_build["valid.stats.jsonl"])
  for workers in (1, 2):
    out = tmp_path / f"beam{workers}"
    build_data.run(_config(source_dir, out, "beam", workers), str(out))
    assert _files(out) == pool_build, workers


def test_a_killed_build_rerun_writes_the_same_files(source_dir, pool_build, tmp_path):
  out = tmp_path / "killed"
  overrides = {"source_dir": source_dir, "output_dir": out, "splits": "('valid',)",
               "max_distance": 2, "k": 50, "time_budget": 0, "max_expansions": 10,
               "shard_size": SHARD_SIZE, "runner": "beam", "workers": 2, "tfds": False,
               "progress": False}
  command = [sys.executable, "-m", "repair_rank.main", "--config",
             str(ROOT / "configs" / "build_data.py"), "--workdir", str(out),
             *(f"--config.{k}={v}" for k, v in overrides.items())]
  # Its own process group: the kill takes the Beam workers with it, like a lost machine.
  process = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  shards = out / "shards" / "valid"
  deadline = time.monotonic() + 120
  try:
    while not list(shards.glob("*[0-9].jsonl")) and time.monotonic() < deadline:
      assert process.poll() is None, "the build ended before any shard was written"
      time.sleep(0.02)
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
  done = list(shards.glob("*[0-9].jsonl"))
  assert 0 < len(done) < NUM_PAIRS // SHARD_SIZE, "killed before or after the build"
  assert not (out / "valid.jsonl").exists()
  build_data.run(_config(source_dir, out, "beam", 1), str(out))
  files = _files(out)
  # Temp files of writers killed mid-write stay behind; no shard is missing or doubled.
  files["shards"] = [n for n in files["shards"] if not n.endswith(".tmp")]
  assert files == pool_build


def test_a_shard_already_written_is_not_rebuilt(source_dir, tmp_path):
  pairs = [json.loads(line) for line in (source_dir / "valid.jsonl").open()][:2]
  shard = tmp_path / "00000.jsonl"
  build = lambda: generation._build_shard(  # pylint: disable=protected-access
      (shard, pairs, None), max_distance=1, k=10, time_budget=None)
  build()
  before = (shard.stat().st_mtime_ns, shard.with_suffix(".stats.jsonl").stat().st_mtime_ns)
  build()  # a retried bundle
  assert (shard.stat().st_mtime_ns, shard.with_suffix(".stats.jsonl").stat().st_mtime_ns) \
      == before


def test_beam_options_choose_the_runner():
  assert pipelines.pipeline_args("", 3) == [
      "--runner=DirectRunner", "--direct_num_workers=3",
      "--direct_running_mode=multi_processing", "--default_sdk_harness_log_level=WARNING"]
  assert pipelines.pipeline_args("", 1)[2] == "--direct_running_mode=in_memory"
  assert pipelines.pipeline_args("--direct_num_workers=4", 1)[-1] == "--direct_num_workers=4"
  flink = "--runner=FlinkRunner --flink_master=host:8081 --environment_type=LOOPBACK"
  assert pipelines.pipeline_args(flink, 2) == flink.split()
  assert pipelines.worker_count(0) == os.cpu_count()


def test_a_shard_a_worker_wrote_elsewhere_is_an_error(tmp_path):
  (tmp_path / "00000.jsonl").write_text("")
  pipelines.check_written([tmp_path / "00000.jsonl"])
  with pytest.raises(RuntimeError, match="1 shards missing.*00001.jsonl"):
    pipelines.check_written([tmp_path / "00000.jsonl", tmp_path / "00001.jsonl"])


def test_missing_beam_names_the_extra(monkeypatch):
  monkeypatch.setitem(sys.modules, "apache_beam", None)  # import fails
  with pytest.raises(ImportError, match=r"\.\[beam\].*runner=pool"):
    pipelines.run_shards(print, [1], runner="beam", workers=1)
  with pytest.raises(ValueError, match="one of"):
    pipelines.run_shards(print, [1], runner="spark", workers=1)
