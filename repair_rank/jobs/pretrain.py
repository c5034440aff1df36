"""The pretrain job: stage 1 on the bundled train pairs (and any extra pairs), evaluated on valid.

  python -m repair_rank.main --config configs/pretrain.py --workdir workdir/pretrain

The stage: `repair_rank.training.pretrain`; the loop: `repair_rank.training.loop`.
"""
import time

import ml_collections

from repair_rank import distributed
from repair_rank.data import stackoverflow
from repair_rank.training import pretrain
from repair_rank.training import writer


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """The pretrain job: train on the bundled train pairs, evaluate on valid."""
  start = time.perf_counter()
  max_len = config.model.max_len
  valid = pretrain.read_sequences("valid", max_len)[:config.max_eval_sequences or None]
  train = pretrain.read_sequences("train", max_len)
  for path in config.get("extra_train_pairs", ()):
    train += pretrain.pair_sequences(stackoverflow.read_pairs(path), max_len)
  pretrain.train(config, workdir, train_sequences=train, valid_sequences=valid)
  if distributed.is_primary():
    print(writer.summary(workdir, "pretrain", "loss", time.perf_counter() - start,
                         {"checkpoints": f"{workdir}/checkpoints", "plot": f"{workdir}/metrics.png"},
                         higher_is_better=False),
          flush=True)
