"""Baselines job: random, edit distance (and later Markov) scorers on ranking instances.

  python -m repair_rank.main --config configs/baselines.py --workdir /tmp/baselines \
      --config.instances=data/instances/sample.jsonl --config.baselines="('edit_distance',)"
"""
import ml_collections

from repair_rank import paths


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The default baselines run: every baseline on the bundled valid instances."""
  del arg  # No variants yet.
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "baselines"
  # Ranking instances to evaluate on (path; default the bundled selection set: all 622
  # valid pairs at distance <= 3 with the generator's candidates, data/instances/README.md). Add "model" to `baselines` for the
  # bundled (or, via baseline_options.model.path, any) trained scorer, "lm" for the
  # pretrained LM's log P(candidate | query) as a zero-shot ranker.
  config.instances = str(paths.DATA_DIR / "instances" / "valid_ranker.jsonl.gz")
  # Format of `instances`: "jsonl" or "text" (prototype blocks); "" = from the file suffix.
  config.format = ""
  # Names of the scorers to evaluate, from repair_rank.ranking.registry.names().
  config.baselines = ("random", "edit_distance", "markov", "markov_distance", "markov_channel",
                      "learned_prior")
  # Keyword options per baseline name, passed to its factory (e.g. the random seed).
  config.baseline_options = ml_collections.ConfigDict({
      "random": {"seed": 0},
      "markov_distance": {"lam": 3.0},
      # weight: of the edit channel's log-probability (nats per nat), chosen on valid.
      "markov_channel": {"weight": 1.75},
      # path "" = the bundled learned first stage (repair_rank/assets/learned_prior.json).
      "learned_prior": {"path": ""},
      # path "" = the bundled scorer; a weight, first-stage size or quota >= 0, or a prior (first
      # stage baseline name) != "", overrides the bundle's.
      "model": {"path": "", "prior_weight": -1.0, "prefilter_k": -1,
                "prefilter_per_distance": -1, "prior": ""},
      # checkpoint "" = the bundled pretrained LM; prefilter_k 0 = score every candidate.
      "lm": {"checkpoint": "", "batch_size": 128, "prefilter_k": 0, "prefilter_lambda": 3.0,
             "prior_weight": 0.0},
  })
  # Seed of the candidate shuffles (integer); same seed = same shuffles for every scorer.
  config.seed = 0
  # If non-empty, also write the instances to this path in the prototype text format.
  config.export_text = ""
  # Show a tqdm progress bar over instances (bool).
  config.progress = True
  # Log JAX devices at start-up (bool); off since baselines never touch JAX.
  config.log_devices = False
  return config
