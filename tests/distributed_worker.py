"""One process of a multi-process training run on tiny data, for tests/test_distributed.py.

  python tests/distributed_worker.py JOB PROCESS_ID NUM_PROCESSES PORT WORKDIR

Joins the run through `distributed.initialize_distributed` (what repair_rank.main
does for `--config.distributed=True`) with the coordinator on 127.0.0.1:PORT,
runs `train_job(JOB)` ("pretrain" or "finetune") in the shared WORKDIR and
writes this process's final parameters to WORKDIR/params_<PROCESS_ID>.npz. The
test runs `train_job` once more in its own process, on two fake devices, as the
single-process reference.
"""
import pathlib
import sys
from typing import Any

import flax
import numpy as np

import conftest
from repair_rank import distributed
from repair_rank.model import features
from repair_rank.training import finetune
from repair_rank.training import pretrain


def pretrain_config(**overrides):
  # As test_pretrain's resume test, so the pytest process reuses its compiled steps.
  return conftest.tiny_config(num_steps=6, **overrides)


def finetune_config(**overrides):
  return conftest.tiny_config(num_steps=6, learning_rate=1e-2, warmup_steps=1, log_every_steps=2,
                              eval_every_steps=3, checkpoint_every_steps=3, **overrides)


def sequences(n: int = 12) -> list[np.ndarray]:
  """Pretraining sequences of varied length (so per-device target counts differ)."""
  rng = np.random.default_rng(0)
  vocab = ["NAME", "(", ")", "=", "NUMBER", ",", ":", "NEWLINE"]
  out = []
  for _ in range(n):
    fixed = list(rng.choice(vocab, size=rng.integers(3, 10)))
    out.append(features.lm_sequence(fixed[:-1], fixed, 32))
  return out


def train_pretrain(workdir: pathlib.Path) -> Any:
  """Pretrains, killed after step 4 and resumed, so every process saves and restores."""
  train, valid = sequences(), sequences()[:3]
  pretrain.train(pretrain_config(stop_after_steps=4), workdir, train_sequences=train,
                 valid_sequences=valid)
  return pretrain.train(pretrain_config(), workdir, train_sequences=train,
                        valid_sequences=valid).params


def train_finetune(workdir: pathlib.Path) -> Any:
  """Finetunes from scratch with validation, then exports the bundle, as `finetune.run` does."""
  instances = conftest.make_instances(8)
  params = finetune.train(finetune_config(), workdir, train_instances=instances,
                          valid_instances=instances[:3]).params
  finetune.export(workdir)
  return params


JOBS = {"pretrain": train_pretrain, "finetune": train_finetune}


def train_job(job: str, workdir: str | pathlib.Path) -> dict[str, np.ndarray]:
  """Runs one of JOBS in `workdir`; its final params, flat."""
  params = JOBS[job](pathlib.Path(workdir))
  return {name: np.asarray(value)
          for name, value in flax.traverse_util.flatten_dict(params, sep="/").items()}


def main(job: str, process_id: int, num_processes: int, port: int, workdir: str) -> None:
  config = conftest.tiny_config(distributed=True, coordinator_address=f"127.0.0.1:{port}",
                                num_processes=num_processes, process_id=process_id)
  distributed.initialize_distributed(config)
  params = train_job(job, workdir)
  np.savez(pathlib.Path(workdir) / f"params_{process_id}.npz", **params)


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
