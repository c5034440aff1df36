"""The synthesize job: synthetic training pairs for the ranker (issue 4, item 5).

Corrupts valid code with the inverses of the edits humans made on train
(repair_rank.data.synthetic): train's fixed code, the standard library, and/or
any directories of .py files (`config.corpus_dirs`) cut into snippet-sized
units like StackOverflow posts (`synthetic.units`), deduplicated, none whose
text is a valid or test sequence. Corpus files are lexed and cut as a Beam
pipeline (or a process pool: `config.runner`) in shards under
corpus_shards/<source>/ (resumable); the corruption itself is one seeded
sequential draw (about a millisecond a pair), so the pairs are the same
whatever ran the shards. It writes, under the workdir:

  train.jsonl     the pairs, in the StackOverflow pairs format (`read_pairs`)
  summary.json    the settings, attempts by outcome, and statistics of the
                  synthetic pairs against the real train pairs within max_distance
  README.md       the same comparison as a table

so the build_data job makes ranking instances from them like from the real
split: `--config.source_dir=<workdir> --config.splits="('train',)"`.
"""
import json
import pathlib
import time

from absl import logging
import ml_collections
import numpy as np
import tqdm

from repair_rank.data import corpora
from repair_rank.data import jsonl
from repair_rank.data import stackoverflow
from repair_rank.data import synthetic
from repair_rank.generator import edit_stats as edit_stats_lib

SOURCES = ("train", "stdlib", "corpus")


def read_corpus(name: str, files: list, config: ml_collections.ConfigDict, workdir: pathlib.Path,
                cut: str) -> list[list[list[str]]]:
  """Each file's sequences, lexed and cut by the Beam pipeline (or pool) of `config.runner`."""
  return corpora.read_corpus(
      files, workdir / "corpus_shards" / name, cut=cut, min_tokens=config.unit_tokens[0],
      max_tokens=config.unit_tokens[1], files_per_shard=config.files_per_shard,
      runner=config.runner, workers=config.workers, beam_options=config.beam_options,
      progress=config.progress)


def corpus_units(config: ml_collections.ConfigDict, workdir: pathlib.Path
                 ) -> tuple[list[list[str]], dict]:
  """The snippet-sized units of `config.corpus_dirs`: deduplicated (first in file order),
  none whose text is a valid or test sequence (broken or fixed); and their counts."""
  directories = tuple(config.corpus_dirs)  # ml_collections keeps the field a tuple
  if not directories:
    raise ValueError("config.sources names 'corpus': set config.corpus_dirs to one or more "
                     "directories of .py files")
  files = corpora.python_files(directories)
  per_file = read_corpus("corpus", files, config, workdir, cut="units")
  held_out = {" ".join(s) for split in ("valid", "test") for field in ("broken", "fixed")
              for s in corpora.read_split(split, field)}
  kept, counts = synthetic.distinct_units([u for units in per_file for u in units], held_out)
  counts = {"files": len(files), "read": sum(map(bool, per_file)), **counts}
  if not kept:
    raise ValueError(f"no usable unit of {config.unit_tokens[0]}..{config.unit_tokens[1]} "
                     f"tokens in the .py files of {directories} ({counts})")
  return kept, counts


def load_sources(config: ml_collections.ConfigDict, fixed_lengths: list[int],
                 max_length: int, workdir: pathlib.Path
                 ) -> tuple[dict[str, list[list[str]]], dict]:
  """The valid token sequences of each named source, and the corpus counts."""
  unknown = set(config.sources) - set(SOURCES)
  if unknown or not config.sources:
    raise ValueError(f"config.sources={config.sources!r}: name one or more of {SOURCES}")
  if config.corpus_dirs and "corpus" not in config.sources:
    raise ValueError("config.corpus_dirs is set but config.sources does not name 'corpus'")
  sources, counts = {}, {}
  if "train" in config.sources:
    sources["train"] = corpora.read_split("train", "fixed")
  if "stdlib" in config.sources:
    # Its own generator: the snippets do not depend on the synthesis draws.
    rng = np.random.default_rng([config.seed, 1])
    # Only the files asked for are read (0: all of them).
    files = [seqs[0] for seqs in read_corpus(
        "stdlib", corpora.stdlib_files()[:config.stdlib_max_files or None], config, workdir,
        cut="file") if seqs]
    snippets = []
    for sequence in files:
      snippets += synthetic.snippets(
          sequence, lambda: fixed_lengths[int(rng.integers(len(fixed_lengths)))], max_length)
    sources["stdlib"] = synthetic.match_lengths(snippets, fixed_lengths, rng)
    logging.info("stdlib: %d files, %d snippets, %d kept to match train's lengths",
                 len(files), len(snippets), len(sources["stdlib"]))
  if "corpus" in config.sources:
    sources["corpus"], counts = corpus_units(config, workdir)
    logging.info("corpus: %s", counts)
  return sources, counts


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Writes `config.num_pairs` synthetic pairs and their statistics to the workdir."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  real = list(zip(corpora.read_split("train", "broken"), corpora.read_split("train", "fixed")))
  limits = synthetic.Limits.of(real, config.max_distance)
  near = [(b, f) for b, f in real
          if 1 <= len(edit_stats_lib.edits(b, f)) <= config.max_distance]
  stats = (edit_stats_lib.EditStats.load(config.edit_stats) if config.edit_stats
           else edit_stats_lib.EditStats.fit(near))
  model = synthetic.CorruptionModel.fit(stats, near, positions=config.position_model)
  start = time.perf_counter()
  sources, corpus_counts = load_sources(config, [len(f) for _, f in near],
                                        limits.fixed_lengths[1], workdir)
  exclude = set()
  if config.exclude_eval_overlap:
    for split in ("valid", "test"):
      exclude.update(" ".join(s) for s in corpora.read_split(split, "broken"))

  sources_seconds = time.perf_counter() - start
  with tqdm.tqdm(total=config.num_pairs, desc="synthesize", unit="pair",
                 disable=not config.progress) as bar:
    pairs, report = synthetic.synthesize(
        sources, model, limits, num_pairs=config.num_pairs, seed=config.seed,
        max_attempts=config.max_attempts, exclude=exclude, progress=bar.update)
  seconds = {"sources": round(sources_seconds, 1),
             "synthesis": round(time.perf_counter() - start - sources_seconds, 1)}
  path = workdir / "train.jsonl"
  jsonl.write_jsonl(path, pairs)
  stackoverflow.read_pairs(path)  # The format build_data reads: fail here, not there.

  real_stats = synthetic.statistics(near)
  synthetic_stats = synthetic.statistics(
      [(p["broken"].split(), p["fixed"].split()) for p in pairs])
  table = synthetic.format_comparison(real_stats, synthetic_stats, report)
  attempts = list(report["attempts"].values())
  tried = sum(sum(c.values()) for c in attempts)
  summary = {
      "config": config.to_dict(), "pairs": len(pairs), "limits": {
          "distance_probabilities": dict(zip(map(str, limits.distances),
                                             limits.distance_probabilities)),
          "broken_lengths": limits.broken_lengths, "fixed_lengths": limits.fixed_lengths},
      "rejected_still_valid": sum(c["still_valid"] for c in attempts) / max(tried, 1),
      "corpus_units": corpus_counts, "seconds": seconds, "report": report, "real": real_stats,
      "synthetic": synthetic_stats}
  (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
  (workdir / "README.md").write_text(
      f"# Synthetic pairs\n\n`train.jsonl`: {len(pairs)} synthetic (broken, fixed) pairs "
      f"made by the synthesize job (seed {config.seed}, sources {list(config.sources)}, "
      f"max distance {config.max_distance}); settings in `summary.json`.\n\n"
      "Real (train pairs within max distance) against synthetic; shares unless noted, "
      "lengths in tokens; the attempts table counts corruptions tried per outcome.\n\n"
      f"```\n{table}\n```\n")
  print(table, flush=True)
  logging.info("%d pairs written to %s", len(pairs), path)
