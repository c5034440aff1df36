"""The repair command (repair_rank.jobs.repair): top-k repairs of a broken .py file, edits marked.

  python -m repair_rank.main --config configs/repair.py --config.file=broken.py --config.top_k=5
  repair-rank repair broken.py --top_k 5      # the console script; - reads stdin
  # before a model is trained, rank with a baseline:
  python -m repair_rank.main --config configs/repair.py --config.file=broken.py \
      --config.scorer=markov_distance
"""
import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Repairs `file` with the bundled model; five repairs, distance up to 3."""
  del arg  # No variants yet.
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "repair"
  # The broken Python file to repair (path, UTF-8; "-" reads standard input).
  config.file = ""
  # How many repairs to print (count), best first.
  config.top_k = 5
  # Abstain (print why, exit status 3) when the best repair's confidence, the calibrated
  # probability that it is the human's fix, is below this (probability; 0 = never).
  # 0.5: offer a repair only when it is more likely right than wrong; on valid (reweighted
  # to test's mix) that answers 63% of the snippets with P@1 0.69 (BENCHMARKS.md,
  # "Confidence (issue 14)"). Scorers without a calibration never abstain.
  config.min_confidence = 0.5
  # A scorer name of repair_rank.ranking.registry: "model" (scorer.load), "lm" or a baseline.
  config.scorer = "model"
  # Checkpoint of the model scorer (path); "" = the bundled default model.
  config.model_path = ""
  # Keyword options of the scorer's loader or baseline factory (e.g. {"lam": 2.0}).
  config.scorer_options = ml_collections.ConfigDict()
  # URL of a running endpoint to score with instead (e.g. http://127.0.0.1:8080); "" = in-process.
  config.endpoint = ""
  # Largest token edit distance searched for repairs.
  config.max_distance = 3
  # Most candidates generated and scored (count).
  config.k = 1000
  # Seconds the generator may spend on distances 2..max (0 = no limit).
  config.time_budget = 2.0
  # A file of more tokens than this is repaired error by error, each in a window
  # of about this many tokens around the error (count; snippets are repaired whole).
  config.window_tokens = 120
  # Most syntax errors of one file repaired in turn (count).
  config.max_errors = 10
  # Colour the edits: "auto" (when stdout is a terminal), "always" or "never" ([+tok]/[-tok]).
  config.color = "auto"
  # Log JAX devices at start-up (bool).
  config.log_devices = False
  return config
