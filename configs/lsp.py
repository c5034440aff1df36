"""The editor server (repair_rank.jobs.lsp): Language Server Protocol on stdin/stdout.

  python -m repair_rank.main --config configs/lsp.py
  # only repairs the scorer is at least 60% sure of:
  python -m repair_rank.main --config configs/lsp.py --config.min_confidence=0.6
  # before a model is trained, rank with a baseline:
  python -m repair_rank.main --config configs/lsp.py --config.scorer=markov_distance
"""
import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The bundled model, three quick fixes per error, distance up to 3."""
  del arg  # No variants yet.
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "lsp"
  # A scorer name of repair_rank.ranking.registry: "model" (scorer.load), "lm" or a baseline.
  config.scorer = "model"
  # Checkpoint of the model scorer (path); "" = the bundled default model.
  config.model_path = ""
  # Keyword options of the scorer's loader or baseline factory (e.g. {"lam": 2.0}).
  config.scorer_options = ml_collections.ConfigDict()
  # Most quick fixes offered per error (count), best first.
  config.top_k = 3
  # Offer only repairs at least this likely to be the human's fix (probability in [0, 1];
  # 0 = all; a scorer without a calibrated confidence offers all).
  config.min_confidence = 0.0
  # Largest token edit distance searched for repairs.
  config.max_distance = 3
  # Most candidates generated and scored per error (count).
  config.k = 1000
  # Seconds the generator may spend on distances 2..max per error (0 = no limit).
  config.time_budget = 2.0
  # A document of more tokens than this is repaired in a window of about this many
  # tokens around its first error (count; snippets are repaired whole).
  config.window_tokens = 120
  # Log JAX devices at start-up (bool; to stderr, stdout carries the protocol).
  config.log_devices = False
  return config
