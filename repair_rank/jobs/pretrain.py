"""The pretrain job: stage 1 on the bundled train pairs, evaluated on valid.

  python -m repair_rank.main --config configs/pretrain.py --workdir workdir/pretrain

The stage: `repair_rank.training.pretrain`; the loop: `repair_rank.training.loop`.
"""
import ml_collections

from repair_rank.training import pretrain


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """The pretrain job: train on the bundled train pairs, evaluate on valid."""
  max_len = config.model.max_len
  valid = pretrain.read_sequences("valid", max_len)[:config.max_eval_sequences or None]
  pretrain.train(config, workdir, train_sequences=pretrain.read_sequences("train", max_len),
                 valid_sequences=valid)
