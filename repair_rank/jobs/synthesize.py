"""The synthesize job: synthetic training pairs for the ranker (issue 4, item 5).

Corrupts valid code with the inverses of the edits humans made on train
(repair_rank.data.synthetic) and writes, under the workdir:

  train.jsonl     the pairs, in the StackOverflow pairs format (`read_pairs`)
  summary.json    the settings, attempts by outcome, and statistics of the
                  synthetic pairs against the real train pairs within max_distance
  README.md       the same comparison as a table

so the build_data job makes ranking instances from them like from the real
split: `--config.source_dir=<workdir> --config.splits="('train',)"`.
"""
import json
import pathlib

from absl import logging
import ml_collections
import numpy as np
import tqdm

from repair_rank.data import corpora
from repair_rank.data import jsonl
from repair_rank.data import stackoverflow
from repair_rank.data import synthetic
from repair_rank.generator import edit_stats as edit_stats_lib

SOURCES = ("train", "stdlib")


def load_sources(config: ml_collections.ConfigDict, fixed_lengths: list[int],
                 max_length: int) -> dict[str, list[list[str]]]:
  """The valid token sequences of each named source."""
  unknown = set(config.sources) - set(SOURCES)
  if unknown or not config.sources:
    raise ValueError(f"config.sources={config.sources!r}: name one or more of {SOURCES}")
  sources = {}
  if "train" in config.sources:
    sources["train"] = corpora.read_split("train", "fixed")
  if "stdlib" in config.sources:
    # Its own generator: the snippets do not depend on the synthesis draws.
    rng = np.random.default_rng([config.seed, 1])
    files = corpora.stdlib_sequences(max_files=config.stdlib_max_files or None)
    snippets = []
    for sequence in files:
      snippets += synthetic.snippets(
          sequence, lambda: fixed_lengths[int(rng.integers(len(fixed_lengths)))], max_length)
    sources["stdlib"] = synthetic.match_lengths(snippets, fixed_lengths, rng)
    logging.info("stdlib: %d files, %d snippets, %d kept to match train's lengths",
                 len(files), len(snippets), len(sources["stdlib"]))
  return sources


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
  sources = load_sources(config, [len(f) for _, f in near], limits.fixed_lengths[1])
  exclude = set()
  if config.exclude_eval_overlap:
    for split in ("valid", "test"):
      exclude.update(" ".join(s) for s in corpora.read_split(split, "broken"))

  with tqdm.tqdm(total=config.num_pairs, desc="synthesize", unit="pair",
                 disable=not config.progress) as bar:
    pairs, report = synthetic.synthesize(
        sources, model, limits, num_pairs=config.num_pairs, seed=config.seed,
        max_attempts=config.max_attempts, exclude=exclude, progress=bar.update)
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
      "report": report, "real": real_stats, "synthetic": synthetic_stats}
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
