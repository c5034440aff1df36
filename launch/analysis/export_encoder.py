"""Writes a pretraining run's params (no optimiser state) as a small encoder checkpoint.

  PYTHONPATH=. python launch/analysis/export_encoder.py workdir/pretrain_cpu \
      repair_rank/assets/pretrained_default [--step 6500]

The output is what `configs/finetune.py --config.pretrained_checkpoint` and the `lm`
baseline read (a checkpoints/<step>/ directory and model_config.json), a third of the
training checkpoint's size: the bundled encoder is committed this way, and a later session
can finetune from it (or pretrain further from its params) without the run's workdir.
"""
import argparse
import pathlib
import shutil

from repair_rank.model import checkpoints


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("workdir", type=pathlib.Path, help="a pretraining workdir")
  parser.add_argument("out", type=pathlib.Path, help="the encoder directory to (re)write")
  parser.add_argument("--step", type=int, default=None, help="default: the latest")
  args = parser.parse_args()
  manager = checkpoints.read_manager(args.workdir / "checkpoints")
  step = manager.latest_step() if args.step is None else args.step
  params = checkpoints.load_params(args.workdir, step)
  checkpoints.check_finite(params, f"{args.workdir} step {step}")
  if args.out.exists():
    shutil.rmtree(args.out)
  out = checkpoints.checkpoint_manager(args.out / "checkpoints", keep=1)
  checkpoints.save(out, step, {"params": params})
  shutil.copy(args.workdir / "model_config.json", args.out / "model_config.json")
  print(f"{args.out}: params of {args.workdir} at step {step}")


if __name__ == "__main__":
  main()
