"""build_data job: ranking instances (query, truth, generator candidates) per split.

  python -m repair_rank.main --config configs/build_data.py --workdir workdir/instances
  # quick look: --config.splits="('valid',)" --config.limit=50
"""
import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Full build by default; `configs/build_data.py:train` is the cheaper training-set build."""
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "build_data"
  # Splits to build, by bundled file stem: train, valid, test.
  config.splits = ("valid", "test", "train")
  # Directory of the source pairs ({split}.jsonl); "" = the bundled StackOverflow data.
  config.source_dir = ""
  # Where instances go; "" = the workdir.
  config.output_dir = ""
  # Largest token edit distance searched for candidates.
  config.max_distance = 3
  # Most candidates kept per pair (best first by the Markov model).
  config.k = 1000
  # Seconds the generator may spend per pair on distances 2..max (0 = no limit).
  config.time_budget = 2.0
  # Partial repairs the generator may extend per pair (0 = no limit): with time_budget=0, a
  # budget that does not depend on the machine or its load, for datasets that must come out
  # the same everywhere (the wall-clock budget finds fewer repairs on a busy machine).
  config.max_expansions = 0
  # Keep only the candidates the noisy-channel prior ranks in its top `keep` (0 = all k):
  # the lists a ranker behind that first stage ever sees, in a fraction of the bytes.
  config.keep = 0
  # Build train with each fold's n-gram and edit statistics fitted without that fold's
  # pairs (k-fold cross-fitting, repair_rank/data/crossfit.py; 0 = the bundled models).
  config.crossfit_folds = 0
  # Only pairs whose distance is at most this (0 = all); test has none above 3.
  config.max_pair_distance = 0
  # Pairs per shard: the unit of work, checkpointing and resumption.
  config.shard_size = 32
  # How shards run (repair_rank/data/pipelines.py): "beam", an Apache Beam pipeline (needs
  # pip install -e ".[beam]"), or "pool", a local process pool. Same files either way.
  config.runner = "beam"
  # Worker processes of the DirectRunner or the pool (0 = the machine's cores).
  config.workers = 0
  # Beam pipeline options, as on a command line; "" = the DirectRunner with `workers`
  # processes. E.g. "--runner=FlinkRunner --flink_master=HOST:8081 --environment_type=..."
  # (README, "Beyond one machine"); output_dir must then be a path all workers see.
  config.beam_options = ""
  # Use only `limit` pairs of each split, evenly spread (0 = all); for quick runs.
  config.limit = 0
  # Also write each split in the prototype text format (<split>.txt).
  config.export_text = True
  # Build the TFDS dataset of instances once train, valid and test all exist.
  config.tfds = True
  # Show a tqdm progress bar per split (runner "pool"; Beam reports progress its own way).
  config.progress = True
  # Log JAX devices at start-up (the job never uses JAX).
  config.log_devices = False
  if arg == "train":
    # Training negatives need not be complete: a tighter budget keeps the
    # 9k-pair build short.
    config.splits = ("train",)
    config.time_budget = 0.5
  elif arg == "ranker":
    # The ranker's bundled training and selection sets (data/instances/README.md): every
    # pair at distance <= 3, a load-independent budget, train cross-fitted over 5 folds.
    config.splits = ("valid", "train")
    config.time_budget = 0.0
    config.max_expansions = 300
    config.keep = 128
    config.crossfit_folds = 5
    config.max_pair_distance = 3
    config.tfds = False
  elif arg:
    raise ValueError(f"unknown build_data variant {arg!r}; known: train, ranker")
  return config
