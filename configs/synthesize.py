"""synthesize job: synthetic (broken, fixed) pairs from valid code and train's edit statistics.

  python -m repair_rank.main --config configs/synthesize.py --workdir workdir/synthetic/pairs
  # from any Python code: --config.sources="('corpus',)" --config.corpus_dirs="('DIR',)"
  # then ranking instances from them, as for the real train split:
  python -m repair_rank.main --config configs/build_data.py:train \
      --workdir workdir/synthetic/instances --config.source_dir=workdir/synthetic/pairs \
      --config.k=200 --config.time_budget=0.3
  # and train on both: configs/finetune.py --config.extra_train_instances="('PATH',)"
"""
import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Returns the default synthesize config (`arg` is unused)."""
  del arg
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "synthesize"
  # Synthetic pairs to write (pairs).
  config.num_pairs = 4000
  # Seed of the numpy Generator drawing distances, sources, edits and positions.
  config.seed = 0
  # Valid code to corrupt, each pair's corpus drawn uniformly among these: "train" (the
  # fixed side of the train pairs), "stdlib" (snippets of the Python standard library,
  # resampled to train's lengths) and/or "corpus" (units of `corpus_dirs`). Never valid/test.
  config.sources = ("train",)
  # Directories (or .py files) of the "corpus" source: every .py file under them, cut into
  # functions, classes and blocks of top-level statements (units), deduplicated, none whose
  # text appears in valid or test (tuple of paths; () = none).
  config.corpus_dirs = ()
  # [min, max] tokens of a corpus unit (tokens).
  config.unit_tokens = (4, 80)
  # Corpus files lexed and cut per shard (files): the unit of work and resumption.
  config.files_per_shard = 64
  # How corpus shards run: "beam" (Apache Beam; pip install -e ".[beam]") or "pool" (a local
  # process pool); same pairs either way (repair_rank/data/pipelines.py).
  config.runner = "beam"
  # Worker processes of the DirectRunner or the pool (0 = the machine's cores).
  config.workers = 0
  # Beam pipeline options as on a command line; "" = the DirectRunner with `workers`
  # processes (README, "Beyond one machine").
  config.beam_options = ""
  # Largest token edit distance of a pair; d is drawn from train's histogram over 1..this.
  config.max_distance = 3
  # Edit statistics to invert (path to an edit_stats JSON); "" = fitted on the train pairs
  # within max_distance, the pairs the synthetic ones stand in for.
  config.edit_stats = ""
  # Draw positions by line class (start / middle / end of a line) as humans' repairs are
  # placed (bool); False = uniformly among a token's occurrences or the insertion slots.
  config.position_model = True
  # Drop pairs whose broken sequence equals a valid or test broken sequence (bool).
  config.exclude_eval_overlap = True
  # Corruptions tried per pair before giving up with an error (attempts).
  config.max_attempts = 1000
  # Standard-library files read for the "stdlib" source (files; 0 = all).
  config.stdlib_max_files = 0
  # Show a tqdm progress bar (bool).
  config.progress = True
  # Log JAX devices at start-up (bool); off: this job never uses JAX.
  config.log_devices = False
  return config
