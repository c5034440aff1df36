"""The lsp job: the editor server (Language Server Protocol) on stdin/stdout until the editor quits.

  python -m repair_rank.main --config configs/lsp.py

What it publishes and offers: `repair_rank.serving.lsp`.
"""
from absl import logging
import ml_collections

from repair_rank.ranking import registry
from repair_rank.repair import ranked
from repair_rank.serving import lsp
from repair_rank.serving import server as server_lib


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Serves one editor over stdio."""
  del workdir  # Writes nothing.
  try:
    min_confidence = ranked.checked_min_confidence(config.min_confidence)
    top_k = ranked.checked_top_k(config.top_k)
    score_fn = registry.from_config(config)
  except (ValueError, registry.ScorerUnavailableError) as e:
    raise SystemExit(f"lsp: {'config.' if str(e).startswith('top_k') else ''}{e}") from None
  server = lsp.build_server(score_fn, top_k=top_k, min_confidence=min_confidence,
                            options=server_lib.repair_options(config))
  logging.info("repair-rank language server on stdio (scorer %s)", config.scorer)
  server.start_io()
