"""The baselines job: ranking instances ranked by named scorers in every view, one report each.

  python -m repair_rank.main --config configs/baselines.py --workdir workdir/baselines

Any name `repair_rank.ranking.registry` resolves: the baselines, "model" and "lm".
"""
import pathlib

from absl import logging
import ml_collections

from repair_rank.data import instances as instances_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.ranking import registry


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Evaluates each baseline of `config.baselines` in every view; writes one JSON report each."""
  for name in config.baselines:
    if name not in registry.names():
      raise ValueError(f"config.baselines: unknown baseline {name!r}; "
                       f"known: {', '.join(registry.names())}")
  instances = instances_lib.read(config.instances, config.get("format") or None)
  n_generated = sum(inst.generated_rank is not None for inst in instances)
  logging.info("Read %d ranking instances from %s (generator found the truth in %d).",
               len(instances), config.instances, n_generated)
  if config.get("export_text"):
    instances_lib.write_text(config.export_text, instances)
    logging.info("Wrote the instances in the prototype's text format to %s", config.export_text)

  out_dir = pathlib.Path(workdir) / "baselines"
  for name in config.baselines:
    options = config.baseline_options.get(name)
    options = options.to_dict() if options is not None else {}
    reports = evaluate.evaluate(instances, registry.get(name, **options), seed=config.seed,
                                progress=config.progress)
    for view in evaluate.VIEWS:
      print(metrics.format_table(reports[view], title=f"\n{name} / {view}"), flush=True)
    path = out_dir / f"{name}.json"
    metrics.save_report(path, {
        "baseline": name,
        "options": options,
        "instances": str(config.instances),
        "n_instances": len(instances),
        "n_generated": n_generated,
        "seed": config.seed,
        "views": reports,
    })
    logging.info("Wrote %s", path)
