"""The editor server (repair_rank.jobs.lsp): Language Server Protocol on stdin/stdout.

  python -m repair_rank.main --config configs/lsp.py
  # only repairs the scorer is at least 60% sure of:
  python -m repair_rank.main --config configs/lsp.py --config.min_confidence=0.6
  # before a model is trained, rank with a baseline:
  python -m repair_rank.main --config configs/lsp.py --config.scorer=markov_distance

The repair command's config (configs/repair.py) with the fields of one file run
dropped: the scorer, the search (max_distance, k, time_budget), the windows of
whole files (window_tokens) and min_confidence (0.5; here: offer as quick fixes only
the repairs at least this likely to be the human's fix) are documented there.
"""
import importlib.util
import pathlib

import ml_collections

_SPEC = importlib.util.spec_from_file_location(
    "repair_rank_configs_repair", pathlib.Path(__file__).with_name("repair.py"))
repair = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(repair)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The bundled model, three quick fixes per error, distance up to 3."""
  config = repair.get_config(arg)
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "lsp"
  # Most quick fixes offered per error (count), best first.
  config.top_k = 3
  # The editor sends the text, one error is repaired at a time, the output is the protocol.
  for field in ("file", "endpoint", "max_errors", "color"):
    del config[field]
  # Syntax errors shown per document at most (count): after the first, its top repair is
  # made and the text diagnosed again; one diagnostic each.
  config.max_errors = 5
  return config
