"""Entry point for every repair_rank job.

  python -m repair_rank.main --config configs/<job>.py [--workdir DIR] [--config.key=value]

The config names the job (`config.job`); this file only parses flags, joins the
other processes when `config.distributed` is set, logs the process and device
layout, and calls `repair_rank.<job>.run(config, workdir)`.
"""
import importlib

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

# Jobs are modules of this package with a `run(config, workdir)` function.
JOBS = ("prepare_data", "build_data", "synthesize", "baselines", "serve", "evaluate_end_to_end", "repair", "pretrain", "finetune")

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for outputs (metrics, checkpoints, plots).")
config_flags.DEFINE_config_file("config", None, "Job configuration file.", lock_config=True)
flags.mark_flags_as_required(["config"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  config = flags.FLAGS.config
  if config.job not in JOBS:
    raise app.UsageError(f"config.job={config.job!r} is not one of {JOBS}")
  workdir = _WORKDIR.value or config.get("workdir") or f"workdir/{config.job}"
  # Imported lazily so jobs that never touch JAX do not pay for its start-up.
  if config.get("distributed", False):
    from repair_rank import train_utils  # pylint: disable=g-import-not-at-top
    train_utils.initialize_distributed(config)  # Before any other JAX use.
  if config.get("log_devices", True):
    import jax  # pylint: disable=g-import-not-at-top
    logging.info("JAX process %d / %d, local devices: %s, global devices: %d",
                 jax.process_index(), jax.process_count(), jax.local_devices(),
                 jax.device_count())
  job = importlib.import_module(f"repair_rank.{config.job}")
  job.run(config, workdir)


if __name__ == "__main__":
  app.run(main)
