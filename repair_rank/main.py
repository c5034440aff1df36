"""Entry point for every repair_rank job.

  python -m repair_rank.main --config configs/<job>.py [--workdir DIR] [--config.key=value]

The config names the job (`config.job`); this file only parses flags, joins the
other processes when `config.distributed` is set, logs the process and device
layout, and calls the job module's `run(config, workdir)`.

Logs: INFO lines of repair_rank itself are shown; INFO and DEBUG lines of the
libraries (orbax, JAX, tensorflow-datasets, tensorboardX) are not, unless
`--verbosity=1` (or higher) asks for them. Their warnings and errors always show.
A job that fails on its inputs or outputs (a full or read-only disk, a malformed
file, a checkpoint that cannot be saved) ends with one line naming the cause
(`one_line_error`); `--verbosity=1` shows the traceback too.
"""
import functools
import importlib
import logging as python_logging
import os
from typing import Optional

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

# `config.job` -> the module whose `run(config, workdir)` runs it. Jobs are imported
# only when chosen, so jobs that never touch JAX do not pay for its start-up.
JOBS = {
    "prepare_data": "repair_rank.jobs.prepare_data",
    "build_data": "repair_rank.jobs.build_data",
    "synthesize": "repair_rank.jobs.synthesize",
    "baselines": "repair_rank.jobs.baselines",
    "fit_prior": "repair_rank.jobs.fit_prior",
    "pretrain": "repair_rank.jobs.pretrain",
    "finetune": "repair_rank.jobs.finetune",
    "serve": "repair_rank.jobs.serve",
    "evaluate_end_to_end": "repair_rank.jobs.evaluate_end_to_end",
    "repair": "repair_rank.jobs.repair",
    "lsp": "repair_rank.jobs.lsp",
}

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for outputs (metrics, checkpoints, plots).")
config_flags.DEFINE_config_file("config", None, "Job configuration file.", lock_config=True)
flags.mark_flags_as_required(["config"])


_PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__)) + os.sep


@functools.lru_cache(maxsize=1024)
def _is_ours(pathname: str) -> bool:
  return os.path.realpath(pathname).startswith(_PACKAGE_DIR)


class _OursOrWarnings(python_logging.Filter):
  """Passes repair_rank's records and every library's warnings and errors."""

  def filter(self, record: python_logging.LogRecord) -> bool:
    return record.levelno >= python_logging.WARNING or _is_ours(record.pathname)


def quiet_libraries(verbosity: int) -> None:
  """Below verbosity 1, drops the libraries' INFO and DEBUG records (see the docstring)."""
  handler = logging.get_absl_handler()
  for existing in [f for f in handler.filters if isinstance(f, _OursOrWarnings)]:
    handler.removeFilter(existing)
  if verbosity < 1:
    handler.addFilter(_OursOrWarnings())


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  quiet_libraries(flags.FLAGS.verbosity)
  config = flags.FLAGS.config
  if config.job not in JOBS:
    raise app.UsageError(f"config.job={config.job!r} is not one of {tuple(JOBS)}")
  workdir = _WORKDIR.value or config.get("workdir") or f"workdir/{config.job}"
  # Imported here, not at the top, so jobs that never touch JAX skip its start-up.
  if config.get("distributed", False):
    from repair_rank import distributed  # pylint: disable=g-import-not-at-top
    distributed.initialize_distributed(config)  # Before any other JAX use.
  if config.get("log_devices", True):
    import jax  # pylint: disable=g-import-not-at-top
    logging.info("JAX process %d / %d, local devices: %s, global devices: %d",
                 jax.process_index(), jax.process_count(), jax.local_devices(),
                 jax.device_count())
  try:
    job = importlib.import_module(JOBS[config.job])
  except ModuleNotFoundError as e:
    if e.name != JOBS[config.job]:
      raise
    raise SystemExit(f"job {config.job!r}: its module {e.name} is not in this "
                     "installation") from None
  try:
    job.run(config, workdir)
  except Exception as e:  # pylint: disable=broad-except
    message = one_line_error(e)
    if message is None or flags.FLAGS.verbosity >= 1:
      raise
    raise SystemExit(f"{config.job}: {message}") from None


def one_line_error(error: BaseException) -> Optional[str]:
  """The message of an error that needs no traceback: an OSError (a full or read-only disk,
  a missing file) or one of the package's own errors about its inputs and outputs (they
  name the file and line, or the checkpoint directory); None for anything else (a bug:
  its traceback is the message). `--verbosity=1` shows the traceback anyway."""
  if isinstance(error, OSError):
    return f"{type(error).__name__}: {error}"
  if isinstance(error, ValueError) and type(error).__module__.startswith("repair_rank."):
    return str(error) or type(error).__name__
  return None


if __name__ == "__main__":
  app.run(main)
