"""fit_prior job: the learned first stage (the channel prior's parts, recombined listwise).

  python -m repair_rank.main --config configs/fit_prior.py --workdir workdir/prior
  # then ship it: cp workdir/prior/learned_prior.json repair_rank/assets/
"""
import ml_collections

from repair_rank import paths


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Fits on the bundled cross-fitted train instances, validates on the bundled valid set."""
  del arg  # No variants.
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "fit_prior"
  # Ranking instances with prior parts to fit on (path; configs/build_data.py:ranker builds
  # them, cross-fitted; default: the bundled ones, data/instances/README.md).
  config.train_instances = str(paths.DATA_DIR / "instances" / "train_ranker.jsonl.gz")
  # More train instances appended to train_instances (tuple of paths), e.g. synthetic ones.
  config.extra_train_instances = ()
  # Ranking instances to compare the learned and the channel prior on ("" = none).
  config.valid_instances = str(paths.DATA_DIR / "instances" / "valid_ranker.jsonl.gz")
  # Train only on pairs at most this far apart (token edits; 0 = all).
  config.max_train_distance = 3
  # Candidates the learned stage scores: the channel prior's top this many (count).
  config.list_size = 64
  # The channel prior's weight on the edit channel (nats per nat), which orders that list.
  config.channel_weight = 1.75
  # Random candidates from beyond the list added to each training list (count).
  config.random_negatives = 0
  # Softmax temperature of the listwise loss (unitless).
  config.tau = 1.0
  # L2 penalty on the standardised weights (per weight, squared).
  config.l2 = 1e-3
  # Full-batch Adam steps, and their learning rate.
  config.steps = 2000
  config.learning_rate = 0.05
  # Features kept at weight 0 (names from repair_rank.ranking.learned_prior.FEATURE_NAMES):
  # the candidate's rank in the channel prior's list hurt on valid (BENCHMARKS.md).
  config.drop = ("log_rank", "log_rank_in_distance")
  # Width of a GELU hidden layer beside the linear score (units; 0 = linear only). 32, the
  # bundled stage since session 18, lifts valid MRR 0.732 -> 0.788 (BENCHMARKS.md, session 16).
  config.hidden = 32
  # Query weights in the loss: "none", or "test" (each distance weighs its share of test).
  config.balance = "none"
  # Seed of the random negatives and of the validation shuffles.
  config.seed = 0
  # Show tqdm progress bars while validating (bool).
  config.progress = False
  # Log JAX devices at start-up (bool).
  config.log_devices = False
  return config
