"""Job `prepare_data`: builds the StackOverflow pairs as a TFDS dataset.

  python -m repair_rank.main --config configs/prepare_data.py --workdir DIR

Writes array_record files under `config.tfds_dir` (default
`<workdir>/tensorflow_datasets`), reads every split back through
`as_data_source()` (no TensorFlow), logs pair counts per split and edit
distance, prints a summary table and saves it as `<workdir>/summary.json`.
"""
import collections
import json
import pathlib
import time
from typing import Any

from absl import logging
import ml_collections

from repair_rank.data import stackoverflow


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Builds (or reuses) the dataset; returns the per-split summary."""
  workdir = pathlib.Path(workdir)
  tfds_dir = pathlib.Path(config.tfds_dir or workdir / "tensorflow_datasets")
  start = time.perf_counter()
  builder = stackoverflow.build(tfds_dir, config.source_dir or None,
                                progress_bar=config.progress_bar)
  logging.info("Prepared %s %s from %s in %.1f s at %s", builder.name, builder.version,
               builder.source_dir, time.perf_counter() - start, builder.data_dir)
  summary = split_counts(builder)
  for split, stats in summary.items():
    logging.info("%s: %d pairs, %d with source text, by distance %s", split,
                 stats["pairs"], stats["with_source"], stats["distance"])
  print(format_table(summary))
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
  return summary


def split_counts(builder: stackoverflow.StackoverflowRepairs) -> dict[str, dict[str, Any]]:
  """Counts pairs, pairs with broken source text and pairs per distance per split.

  Reads the prepared files back (not the JSONL), so the counts check the build.
  """
  summary = {}
  for split in stackoverflow.SPLIT_FILES:
    source = builder.as_data_source(split=split)
    distances = collections.Counter()
    with_source = 0
    for example in source:
      distances[int(example["distance"])] += 1
      with_source += bool(example["has_broken_src"])
    summary[split] = {
        "pairs": len(source),
        "with_source": with_source,
        # JSON object keys are strings; keep them sorted by distance.
        "distance": {str(d): distances[d] for d in sorted(distances)},
    }
  return summary


def format_table(summary: dict[str, dict[str, Any]]) -> str:
  """A plain-text table: one row per split, one column per edit distance."""
  distances = sorted({int(d) for stats in summary.values() for d in stats["distance"]})
  header = ["split", "pairs", "with_src"] + [f"d={d}" for d in distances]
  rows = [header]
  for split, stats in summary.items():
    rows.append([split, str(stats["pairs"]), str(stats["with_source"])] +
                [str(stats["distance"].get(str(d), 0)) for d in distances])
  widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
  lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                     for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
  lines.insert(1, "-" * len(lines[0]))
  return "\n".join(lines)
