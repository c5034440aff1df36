"""Config for the `prepare_data` job: build the StackOverflow pairs with TFDS.

  python -m repair_rank.main --config configs/prepare_data.py --workdir DIR \
      [--config.source_dir=DIR] [--config.tfds_dir=DIR]
"""
import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Returns the default prepare_data config (`arg` is unused)."""
  del arg
  config = ml_collections.ConfigDict()
  # Which module of repair_rank main.py runs.
  config.job = "prepare_data"
  # Directory holding train.jsonl, valid.jsonl, test.jsonl; "" = the bundled
  # data/stackoverflow.
  config.source_dir = ""
  # TFDS data_dir the dataset is written to (path); "" = <workdir>/tensorflow_datasets.
  config.tfds_dir = ""
  # Show TFDS's tqdm progress bars while generating (bool); off keeps logs clean.
  config.progress_bar = False
  # Log JAX devices at start-up (bool); off: this job never uses JAX.
  config.log_devices = False
  return config
