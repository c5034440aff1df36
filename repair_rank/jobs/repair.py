"""The repair job: prints the top-k repairs of a broken Python file, edits highlighted.

  python -m repair_rank.main --config configs/repair.py --config.file=broken.py --config.top_k=5
  cat broken.py | repair-rank repair -

Exit status: 0 when it printed repairs (or had nothing to repair), ABSTAINED (3) when
the best repair's confidence is below `config.min_confidence`, 1 on bad input.
How the repairs are found and shown: `repair_rank.repair.command`.
"""
import sys

from absl import logging
import ml_collections

from repair_rank.ranking import confidence
from repair_rank.ranking import registry
from repair_rank.repair import command
from repair_rank.repair import ranked
from repair_rank.serving import client as client_lib

# The exit status when the command abstains (confidence below config.min_confidence).
ABSTAINED = 3


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Prints the top-k repairs of `config.file`."""
  del workdir  # Prints only.
  try:
    min_confidence = ranked.checked_min_confidence(config.get("min_confidence", 0.0))
  except ValueError as e:
    raise SystemExit(f"repair: {e}") from None
  try:
    source = command.read_source(config.file)
    if config.endpoint:
      score_fn = client_lib.HttpScoreFn(config.endpoint)
    else:
      score_fn = registry.from_config(config)
  except (command.RepairError, registry.ScorerUnavailableError) as e:
    raise SystemExit(f"repair: {e}") from None
  color = config.color
  if color not in ("auto", "always", "never"):
    raise SystemExit(f"repair: config.color must be auto, always or never, got {color!r}")
  ansi = color == "always" or (color == "auto" and sys.stdout.isatty())
  if (min_confidence > 0 and not config.endpoint
      and confidence.calibration_of(score_fn) is None):
    print(f"repair: scorer {config.scorer!r} has no calibration, so repairs have no "
          "confidence and min_confidence is not applied", file=sys.stderr)
  logging.info("Repairing %s with scorer %s", config.file, config.endpoint or config.scorer)
  try:
    outcome = command.repair_outcome(source, score_fn, top_k=config.top_k,
                                     style="ansi" if ansi else "markers",
                                     max_distance=config.max_distance, k=config.k,
                                     time_budget=config.time_budget or None,
                                     window_tokens=config.get("window_tokens", 120),
                                     max_errors=config.get("max_errors", 10),
                                     min_confidence=min_confidence)
  except (OSError, RuntimeError) as e:
    if not config.endpoint:
      raise
    # An endpoint that is down, or refuses the request: say so, no traceback.
    raise SystemExit(f"repair: scoring with {config.endpoint} failed: {e}") from None
  print(outcome.text, flush=True)
  if outcome.abstained:
    raise SystemExit(ABSTAINED)
