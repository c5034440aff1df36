"""End-to-end evaluation (repair_rank.jobs.evaluate_end_to_end): generator -> endpoint -> metrics.

  python -m repair_rank.main --config configs/evaluate.py --workdir workdir/e2e
  # quick, with a baseline scorer and a server started in-process:
  python -m repair_rank.main --config configs/evaluate.py --workdir /tmp/e2e \
      --config.scorer=markov_distance --config.limit=50 --config.max_distance=1
  # against a running endpoint, reusing build_data's instances:
  python -m repair_rank.main --config configs/evaluate.py --workdir /tmp/e2e \
      --config.endpoint=http://127.0.0.1:8080 --config.instances=workdir/instances/test.jsonl
"""
import importlib.util
import pathlib

import ml_collections

# Loaded by path (as configs/pretrain.py loads default.py) so it works from any directory.
_SPEC = importlib.util.spec_from_file_location(
    "repair_rank_configs_serve", pathlib.Path(__file__).with_name("serve.py"))
serve_config = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(serve_config)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The default run: the bundled test split, the bundled model, an in-process endpoint."""
  del arg  # No variants yet.
  # The in-process endpoint takes the serve config's fields (scorer, limits, ...).
  config = serve_config.get_config()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "evaluate_end_to_end"
  # Port of the in-process endpoint (0 = a free one); unused with `endpoint`.
  config.port = 0
  # URL of a running endpoint (e.g. http://127.0.0.1:8080); "" = start one in-process.
  config.endpoint = ""
  # JSONL of (broken, fixed) pairs, as data/stackoverflow/*.jsonl; "" = the bundled test split.
  config.pairs = ""
  # Ranking instances (build_data output, .jsonl or text) to score instead of generating.
  config.instances = ""
  # Evaluate `limit` pairs or instances evenly spaced over the file (0 = all); for quick runs.
  config.limit = 0
  # Largest token edit distance the generator searches.
  config.max_distance = 3
  # Most candidates kept per pair (best first by the Markov model).
  config.k = 1000
  # Seconds the generator may spend per pair on distances 2..max (0 = no limit).
  config.time_budget = 2.0
  # Generator worker processes (count).
  config.workers = 1
  # Seed of the candidate shuffles (integer); same seed = same shuffles for every scorer.
  config.seed = 0
  # Raise the HTTP timeout: a request of 1000 candidates may take a while (seconds).
  config.request_timeout_s = 120.0
  # Show tqdm progress bars (bool).
  config.progress = True
  return config
