"""The build_data job: ranking instances from the StackOverflow pairs, per split.

  python -m repair_rank.main --config configs/build_data.py --workdir workdir/instances

Outputs and resumption: `repair_rank.data.generation`.
"""
import json
import pathlib

from absl import logging
import ml_collections

from repair_rank.data import generation
from repair_rank.data import ranking_dataset
from repair_rank.data import stackoverflow


def format_summary(split: str, summary: dict) -> str:
  lines = [f"{split}: {'rows':8} {'n':>6} {'recall@k':>9} {'markov P@1':>11}"]
  for row, values in summary.items():
    if isinstance(values, dict) and "recall" in values:
      lines.append(f"{'':{len(split) + 2}}{row:8} {values['n']:6d} "
                   f"{values['recall']:9.3f} {values['markov_p@1']:11.3f}")
  times = summary["seconds_per_pair"]
  lines.append(f"{'':{len(split) + 2}}seconds per pair: median {times['median']:.2f}, "
               f"p90 {times['p90']:.2f}, max {times['max']:.2f}")
  return "\n".join(lines)


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Builds ranking instances for each split of `config.splits`."""
  output_dir = pathlib.Path(config.output_dir or workdir)
  output_dir.mkdir(parents=True, exist_ok=True)
  summaries = {}
  for split in config.splits:
    summaries[split] = generation.build_split(split, output_dir, config)
    print(format_summary(split, summaries[split]), flush=True)
  summary_path = output_dir / "summary.json"
  previous = json.loads(summary_path.read_text()) if summary_path.exists() else {}
  previous.update(summaries)
  summary_path.write_text(json.dumps(previous, indent=2))
  if config.tfds:
    if all((output_dir / f"{stem}.jsonl").exists() for stem in stackoverflow.SPLIT_FILES.values()):
      builder = ranking_dataset.build(output_dir / "tensorflow_datasets", source_dir=output_dir)
      logging.info("TFDS ranking instances at %s", builder.data_dir)
    else:
      logging.warning("TFDS dataset not built: it needs train, valid and test instances "
                      "in %s", output_dir)
