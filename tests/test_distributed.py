"""Two JAX processes on 127.0.0.1 train exactly like one process with two devices.

Each worker (tests/distributed_worker.py) is a separate process with one CPU
device, joined through `jax.distributed.initialize` (cross-process CPU
collectives: gloo); this pytest process, with conftest's two fake CPU devices,
is the single-process reference over the same global batches.
"""
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import jax
import numpy as np

import conftest
import distributed_worker
from repair_rank import scorer

WORKER = pathlib.Path(distributed_worker.__file__)
PROCESSES = 2
# Generous for a loaded 2-core machine (a run takes seconds of CPU); a worker whose
# peer died would otherwise wait out JAX's own minutes-long timeouts.
TIMEOUT_S = 180


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _train_both_ways(job: str, tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
  """Runs `job` in 2 worker processes (shared workdir) and, meanwhile, in this process.

  Checks that the processes end with bitwise equal params, close to the reference's;
  returns (shared workdir, reference workdir).
  """
  assert jax.local_device_count() == PROCESSES, "conftest.py should fake 2 CPU devices"
  shared, reference = tmp_path / "distributed", tmp_path / "reference"
  shared.mkdir()
  port = _free_port()
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  logs = [tmp_path / f"worker_{i}.log" for i in range(PROCESSES)]
  workers = []
  try:
    for i, log in enumerate(logs):
      with log.open("w") as out:
        workers.append(subprocess.Popen(
            [sys.executable, str(WORKER), job, str(i), str(PROCESSES), str(port), str(shared)],
            cwd=WORKER.parents[1], env=env, stdout=out, stderr=subprocess.STDOUT))
    expected = distributed_worker.train_job(job, reference)
    deadline = time.monotonic() + TIMEOUT_S
    codes = [worker.wait(timeout=max(1.0, deadline - time.monotonic())) for worker in workers]
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
        worker.wait()
  assert codes == [0] * PROCESSES, "\n".join(
      f"--- worker {i}: exit {code}\n" + log.read_text()[-3000:]
      for i, (code, log) in enumerate(zip(codes, logs)))

  per_process = [dict(np.load(shared / f"params_{i}.npz")) for i in range(PROCESSES)]
  assert per_process[0].keys() == per_process[1].keys() == expected.keys()
  for name, value in per_process[0].items():
    # Replicas of one pmap: bitwise equal across processes.
    np.testing.assert_array_equal(value, per_process[1][name], err_msg=name)
    # Equal in practice too; a tolerance still catches any real difference, as Adam turns
    # rounding noise in zero-gradient params (attention key biases) into full-size steps.
    np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
  # Only process 0 wrote metrics and event files (one line per step and split, one file
  # per run), and its metrics match the reference's.
  _assert_metrics_close(_metrics(shared / "metrics.jsonl"), _metrics(reference / "metrics.jsonl"))
  assert len(list((shared / "tensorboard").iterdir())) == len(
      list((reference / "tensorboard").iterdir()))
  # The processes saved each checkpoint together into the shared directory.
  assert (sorted(p.name for p in (shared / "checkpoints").iterdir())
          == sorted(p.name for p in (reference / "checkpoints").iterdir()))
  return shared, reference


def _metrics(path: pathlib.Path) -> list[dict]:
  """metrics.jsonl without the timing scalars, which differ from run to run."""
  timing = ("steps_per_second", "tokens_per_second")
  return [{k: v for k, v in json.loads(line).items() if k not in timing}
          for line in path.read_text().splitlines()]


def _assert_metrics_close(got: list[dict], want: list[dict]) -> None:
  assert [(r["step"], r["split"]) for r in got] == [(r["step"], r["split"]) for r in want]
  for a, b in zip(got, want):
    assert a.keys() == b.keys()
    names = sorted(a.keys() - {"step", "split"})
    np.testing.assert_allclose([a[k] for k in names], [b[k] for k in names],
                               rtol=1e-5, atol=1e-6, err_msg=f"step {a['step']} {a['split']}")


def test_pretrain_two_processes_match_one_process_with_two_devices(tmp_path):
  # Killed after step 4 and resumed from the step-3 checkpoint, in both runs.
  _train_both_ways("pretrain", tmp_path)


def test_finetune_two_processes_match_one_process_with_two_devices(tmp_path):
  shared, reference = _train_both_ways("finetune", tmp_path)
  # The exported bundle (best checkpoint by valid MRR) scores like the reference's.
  instance = conftest.make_instances(1)[0]
  query, candidates = list(instance.query), [list(c) for c in instance.candidates]
  np.testing.assert_allclose(scorer.load(shared / "scorer_bundle").score(query, candidates),
                             scorer.load(reference / "scorer_bundle").score(query, candidates),
                             rtol=1e-5, atol=1e-6)
