"""The repair job: prints the top-k repairs of a broken Python file, edits highlighted.

  python -m repair_rank.main --config configs/repair.py --config.file=broken.py --config.top_k=5
  cat broken.py | repair-rank repair -

Exit status (README.md, "Exit status of `repair-rank repair`"):
  0  repairs printed (or nothing to repair: the file parses)
  1  usage: a bad option value (top_k < 1, min_confidence outside [0, 1], color)
  2  input: the file is missing, not a file, or not decodable; the scorer cannot load
  3  abstained: the best repair's confidence is below `config.min_confidence`
  4  no repair found: the file stays broken
How the repairs are found and shown: `repair_rank.repair.command`.

The scorer (JAX, Flax) is imported only once the file is read and has something to
score, so a bad path or option answers at once.
"""
import sys

from absl import logging
import ml_collections

from repair_rank.repair import command
from repair_rank.repair import ranked

OK, USAGE, INPUT_ERROR, ABSTAINED, NO_REPAIR = 0, 1, 2, 3, 4
EXIT_STATUS = {command.REPAIRED: OK, command.ABSTAINED: ABSTAINED, command.NO_REPAIR: NO_REPAIR}


def _fail(status: int, message: str) -> SystemExit:
  print(f"repair: {message}", file=sys.stderr, flush=True)
  return SystemExit(status)


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Prints the top-k repairs of `config.file`; exits with the status above."""
  del workdir  # Prints only.
  try:
    min_confidence = ranked.checked_min_confidence(config.get("min_confidence", 0.0))
    top_k = ranked.checked_top_k(config.top_k)
  except ValueError as e:
    raise _fail(USAGE, f"config.{e}" if str(e).startswith("top_k") else str(e)) from None
  color = config.color
  if color not in ("auto", "always", "never"):
    raise _fail(USAGE, f"config.color must be auto, always or never, got {color!r}")
  try:
    source = command.read_source(config.file)
  except command.RepairError as e:
    raise _fail(INPUT_ERROR, str(e)) from None
  # pylint: disable=g-import-not-at-top: JAX only once there is something to score.
  from repair_rank.ranking import confidence
  from repair_rank.ranking import registry
  from repair_rank.serving import client as client_lib
  try:
    if config.endpoint:
      score_fn = client_lib.HttpScoreFn(config.endpoint)
    else:
      score_fn = registry.from_config(config)
  except registry.ScorerUnavailableError as e:
    raise _fail(INPUT_ERROR, str(e)) from None
  ansi = color == "always" or (color == "auto" and sys.stdout.isatty())
  if (min_confidence > 0 and not config.endpoint
      and confidence.calibration_of(score_fn) is None):
    print(f"repair: scorer {config.scorer!r} has no calibration, so repairs have no "
          "confidence and min_confidence is not applied", file=sys.stderr)
  logging.info("Repairing %s with scorer %s", config.file, config.endpoint or config.scorer)
  name = "<stdin>" if config.file == "-" else config.file
  try:
    outcome = command.repair_outcome(source, score_fn, top_k=top_k,
                                     style="ansi" if ansi else "markers",
                                     max_distance=config.max_distance, k=config.k,
                                     time_budget=config.time_budget or None,
                                     window_tokens=config.get("window_tokens", 120),
                                     max_errors=config.get("max_errors", 10),
                                     min_confidence=min_confidence, name=name)
  except (OSError, RuntimeError) as e:
    if not config.endpoint:
      raise
    # An endpoint that is down, or refuses the request: say so, no traceback.
    raise _fail(INPUT_ERROR, f"scoring with {config.endpoint} failed: {e}") from None
  sys.stdout.write(outcome.text + "\n")
  sys.stdout.flush()
  if EXIT_STATUS[outcome.status] != OK:
    raise SystemExit(EXIT_STATUS[outcome.status])
