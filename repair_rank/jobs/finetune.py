"""The finetune job: stage 2 from ranking instances, then the scorer bundle.

  python -m repair_rank.main --config configs/finetune.py --workdir workdir/finetune \\
      --config.pretrained_checkpoint=workdir/pretrain \\
      --config.train_instances=... --config.valid_instances=...

The stage: `repair_rank.training.finetune`; the loop: `repair_rank.training.loop`.
"""
import time

from absl import logging
import ml_collections

from repair_rank import distributed
from repair_rank.data import instances as instances_lib
from repair_rank.ranking import confidence
from repair_rank.ranking import scorer
from repair_rank.training import finetune
from repair_rank.training import writer


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """The finetune job: ranking instances from `config.train_instances`/`valid_instances`."""
  start = time.perf_counter()
  if not config.train_instances:
    raise ValueError("config.train_instances is empty: pass --config.train_instances=PATH "
                     "(ranking instances from the build_data job)")
  train_instances = finetune.read_train_instances(config)
  valid_instances = instances_lib.read(config.valid_instances) if config.valid_instances else []
  logging.info("%d train and %d valid instances", len(train_instances), len(valid_instances))
  finetune.train(config, workdir, train_instances=train_instances, valid_instances=valid_instances)
  # By every process: orbax restores and saves collectively.
  path = finetune.export(workdir, prior=finetune.prior_settings(config),
                         length_buckets=tuple(config.get("bundle_length_buckets", ())))
  if distributed.is_primary():
    logging.info("scorer bundle written to %s", path)
    if config.get("calibrate", True) and valid_instances:
      note = f"confidence fitted on valid, {calibrate(path, valid_instances, config)}"
    else:
      note = f"no confidence: launch/analysis/fit_confidence.py --bundle {path} --write fits it"
    best = config.get("select_on", "mrr")
    print(writer.summary(workdir, "finetune", best, time.perf_counter() - start, {
        "plot": f"{workdir}/metrics.png", "scorer bundle": f"{path} ({note})"}), flush=True)


def calibrate(bundle, valid_instances, config: ml_collections.ConfigDict) -> str:
  """Fits the exported bundle's confidence on valid, as the bundled one was fitted, and
  writes it into the bundle; returns the fitted numbers in words."""
  # Loaded as a bundle being calibrated: its missing confidence is no news (no warning).
  items = confidence.score_lists(valid_instances, scorer.load_bundle(bundle, calibrating=True),
                                 progress=config.get("progress", True))
  calibration = confidence.fit_shipped(items, fitted_on={
      "instances": str(config.valid_instances), "queries": len(items),
      "command": "the finetune job (config.calibrate)"})
  scorer.save_calibration(bundle, calibration)
  return (f"temperature {calibration.temperature:.3f}, none logit "
          f"{calibration.none_logit:.3f}, over {len(items)} lists")
