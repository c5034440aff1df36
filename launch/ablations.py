"""Issue 4's ablation table: one finetune per ablation on a shared short schedule, all on test.

  nice -n 5 taskset -c 1 .venv/bin/python launch/ablations.py --root /work/runs/ablations \
      --instances /work/runs/eval_instances/test.jsonl \
      [--synthetic_instances /work/runs/synthetic/train_synthetic.jsonl.gz]

Each trained row is the finetune job (`python -m repair_rank.main --config
configs/finetune.py`: the small model, the bundled train/valid instances and
pretrained encoder) with the shared schedule below plus the row's one override,
in `<root>/<row>/`; it keeps the best checkpoint by valid MRR and exports a
scorer bundle. Every row, trained or not, is then scored on `--instances` by
the existing scorers of `repair_rank.ranking.registry` through `repair_rank.ranking.evaluate`, the
code path of every number in BENCHMARKS.md: trained rows as the `model` baseline
alone (prior_weight 0) and with the Markov + distance prior (prior_weight 1),
both ranking only the prior's top `--prefilter_k` (as the bundled scorer does).

The defaults (150 steps, 3 validations) are issue 4's plan; on a shared 2-core CPU
the table was made with `--num_steps 60 --warmup_steps 6 --eval_every_steps 60
--finetune_flag=--config.valid_instances=` (no validation, so the last
checkpoint), since scoring the 921 test queries costs ~7 min per model row.

Resumable: a row whose bundle exists is not retrained (a half-trained one resumes
from its checkpoint), a row whose `test_eval.json` exists is not re-scored. The
table (`<root>/ablations.md`) and every number (`<root>/ablations.json`) are
rewritten after each row. Report on test; choose nothing on it.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import time
from typing import Any

from repair_rank.ranking import evaluate
from repair_rank.ranking import metrics
from repair_rank.ranking import registry
from repair_rank.data import instances as instances_lib

REPO = pathlib.Path(__file__).resolve().parents[1]
FINETUNE_CONFIG = REPO / "configs" / "finetune.py"
# The other engineer's finetune field for extra (synthetic) training instances.
SYNTHETIC_FIELD = "extra_train_instances"

# (name, what it ablates, finetune overrides). None = no training (scored as is).
TRAINED_ROWS = (
    ("reference", "defaults: pretrained, encoder fine-tuned, edit channel, TAU 1.0", ()),
    ("scratch", "encoder from scratch (no pretraining)", ("--config.pretrained_checkpoint=",)),
    ("frozen", "pretrained encoder frozen", ("--config.freeze_encoder=True",)),
    ("no_edit_channel", "without the edit channel", ("--config.model.edit_channel=False",)),
    ("tau_0.3", "TAU 0.3 (reference: 1.0)", ("--config.tau=0.3",)),
    ("synthetic", "plus synthetic training instances", None),  # Overrides from the flags.
)
ROW_ORDER = ("markov_distance", "zero_shot_lm", "reference", "scratch", "frozen",
             "no_edit_channel", "tau_0.3", "synthetic", "scorer_default")
DESCRIPTIONS = {
    "markov_distance": "Markov + distance prior (λ = 3), no model",
    # No "|" in cells: it would split the markdown column.
    "zero_shot_lm": "bundled pretrained LM's log P(candidate given broken), no finetuning",
    "scorer_default": "the bundled scorer's params (longer CPU training); first stage "
                      "markov_distance with its bundle's λ = 2",
    **{name: what for name, what, _ in TRAINED_ROWS},
}


def parse_args() -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", required=True, help="one workdir per row is made under it")
  parser.add_argument("--instances", required=True, help="test ranking instances (JSONL or text)")
  parser.add_argument("--synthetic_instances", default="",
                      help=f"extra training instances for the synthetic row "
                           f"(--config.{SYNTHETIC_FIELD}); empty = skip that row")
  parser.add_argument("--rows", nargs="+", default=list(ROW_ORDER), choices=ROW_ORDER)
  parser.add_argument("--num_steps", type=int, default=150)
  parser.add_argument("--warmup_steps", type=int, default=15)
  parser.add_argument("--eval_every_steps", type=int, default=50)
  parser.add_argument("--prefilter_k", type=int, default=64,
                      help="the prior's top k are scored by the model, the rest rank below")
  parser.add_argument("--seed", type=int, default=0, help="seed of the candidate shuffles")
  parser.add_argument("--finetune_flag", action="append", default=[],
                      help="extra --config.key=value for every trained row (smoke tests)")
  parser.add_argument("--progress", action="store_true", help="tqdm bars while scoring")
  return parser.parse_args()


def schedule_flags(args: argparse.Namespace) -> list[str]:
  """The finetune flags every trained row shares."""
  return [f"--config.num_steps={args.num_steps}", f"--config.warmup_steps={args.warmup_steps}",
          f"--config.eval_every_steps={args.eval_every_steps}", "--config.progress=False",
          *args.finetune_flag]


def synthetic_overrides(args: argparse.Namespace) -> tuple[str, ...] | None:
  """The synthetic row's overrides, or None (with the reason printed) when it cannot run."""
  if not args.synthetic_instances:
    print("synthetic: skipped, no --synthetic_instances given", flush=True)
    return None
  if not pathlib.Path(args.synthetic_instances).exists():
    print(f"synthetic: skipped, {args.synthetic_instances} does not exist", flush=True)
    return None
  # Loaded by path, as main.py's config flag does; the field may not have landed yet.
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location("ablation_finetune_config", FINETUNE_CONFIG)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if SYNTHETIC_FIELD not in module.get_config():
    print(f"synthetic: skipped, configs/finetune.py has no field {SYNTHETIC_FIELD!r} yet",
          flush=True)
    return None
  return (f"--config.{SYNTHETIC_FIELD}={args.synthetic_instances}",)


def train_row(name: str, overrides: tuple[str, ...], workdir: pathlib.Path,
              args: argparse.Namespace) -> dict[str, Any]:
  """Runs (or resumes, or skips) one row's finetune; returns its record."""
  record_path = workdir / "ablation_row.json"
  flags = [*schedule_flags(args), *overrides]
  record = {"row": name, "finetune_flags": flags}
  if record_path.exists():
    previous = json.loads(record_path.read_text())
    if previous["finetune_flags"] != flags:
      raise SystemExit(f"{name}: {workdir} was trained with {previous['finetune_flags']}, "
                       f"not {flags}; use another --root")
    record = previous
  bundle = workdir / "scorer_bundle" / "scorer.json"
  if bundle.exists():
    print(f"{name}: already trained ({workdir})", flush=True)
    return record
  workdir.mkdir(parents=True, exist_ok=True)
  metrics.save_report(record_path, record)
  command = [sys.executable, "-m", "repair_rank.main", "--config", str(FINETUNE_CONFIG),
             "--workdir", str(workdir), *flags]
  print(f"{name}: training: {' '.join(command)}", flush=True)
  start = time.perf_counter()
  with open(workdir / "finetune.log", "a", encoding="utf-8") as log:
    subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
  # A resumed row adds this run's time to the interrupted one's.
  record["train_seconds"] = record.get("train_seconds", 0.0) + time.perf_counter() - start
  metrics.save_report(record_path, record)
  return record


def _share_transformer_scores(score_fn: evaluate.ScoreFn, cache: dict) -> evaluate.ScoreFn:
  """score_fn (a Scorer) with its transformer pass memoised in `cache`.

  The first stage keeps the same top k whatever the prior weight, so the two
  variants of a row send the same candidates to the transformer: encoding them
  once halves the row's cost without changing a score.
  """
  scorer = score_fn  # The registry's `model` and `lm` scorers are Scorer objects.
  score_all = scorer.score_all

  def memoised(query, candidates):
    key = (tuple(query), tuple(map(tuple, candidates)))
    if key not in cache:
      cache[key] = score_all(query, candidates)
    return cache[key]

  scorer.score_all = memoised
  return score_fn


def row_scorers(name: str, workdir: pathlib.Path, args: argparse.Namespace
                ) -> dict[str, tuple[str, dict[str, Any]]]:
  """variant -> (baseline name, its options) of one row."""
  if name == "markov_distance":
    return {"prior": ("markov_distance", {"lam": 3.0})}
  if name == "zero_shot_lm":
    baseline, base = "lm", {"checkpoint": "", "prefilter_k": args.prefilter_k}
  else:
    path = "" if name == "scorer_default" else str(workdir / "scorer_bundle")
    # The bundled scorer's batch buckets for every row (exported bundles lack the 64 one),
    # and one first stage for all (the bundled scorer's own may be another baseline).
    baseline, base = "model", {"path": path, "prefilter_k": args.prefilter_k,
                               "batch_buckets": (8, 32, 64, 128), "prior": "markov_distance"}
  return {"alone": (baseline, {**base, "prior_weight": 0.0}),
          "with prior": (baseline, {**base, "prior_weight": 1.0})}


def evaluate_row(name: str, workdir: pathlib.Path, instances, args: argparse.Namespace,
                 record: dict[str, Any]) -> dict[str, Any]:
  """Scores one row's variants on the instances (or reads them back); returns the record."""
  path = workdir / "test_eval.json"
  if path.exists():
    return json.loads(path.read_text())
  record = dict(record, row=name, instances=str(args.instances), n_instances=len(instances),
                seed=args.seed, variants={})
  cache: dict = {}
  for variant, (baseline, options) in row_scorers(name, workdir, args).items():
    start = time.perf_counter()
    score_fn = registry.get(baseline, **options)
    if baseline in ("model", "lm"):
      score_fn = _share_transformer_scores(score_fn, cache)
    reports = evaluate.evaluate(instances, score_fn, seed=args.seed, progress=args.progress)
    seconds = time.perf_counter() - start
    record["variants"][variant] = {"baseline": baseline, "options": options,
                                   "eval_seconds": seconds, "views": reports}
    row = reports["ranking"]["all"]
    print(f"{name} / {variant}: MRR {row['mrr']:.3f} P@1 {row['p@1']:.3f} "
          f"({seconds:.0f} s)", flush=True)
  metrics.save_report(path, record)
  return record


def _minutes(seconds: float | None) -> str:
  return "–" if seconds is None else f"{seconds / 60:.1f}"


def write_table(root: pathlib.Path, records: dict[str, dict[str, Any]],
                args: argparse.Namespace) -> str:
  """Writes ablations.md and ablations.json under root; returns the markdown."""
  first = next(iter(records.values()), {})
  n_generated = None
  lines = [
      f"Test: {args.instances} ({first.get('n_instances', '?')} queries). Trained rows: the "
      f"small model, finetune {' '.join(f for f in schedule_flags(args) if 'progress' not in f)} "
      "(all else configs/finetune.py defaults), then the best checkpoint by valid MRR (the last "
      "one without validation). Every model row scores only the Markov + "
      f"distance prior's top {args.prefilter_k} (the rest rank below, in the prior's order); "
      "\"alone\" = prior_weight 0, \"with prior\" = model + 1.0 × prior. Ranking view (truth "
      "appended where the generator missed it), pessimistic ties; P@1 gen = P@1 on the queries "
      "whose truth the generator found.",
      "",
      "| row | what | scorer | MRR | P@1 | P@10 | P@1 gen | train min | eval min |",
      "|---|---|---|---:|---:|---:|---:|---:|---:|",
  ]
  for name in ROW_ORDER:
    if name not in records:
      continue
    record = records[name]
    for variant, result in record["variants"].items():
      ranking = result["views"]["ranking"]["all"]
      generated = result["views"]["ranking_generated"]["all"]
      n_generated = generated["n"]
      lines.append(
          f"| {name} | {DESCRIPTIONS[name]} | {variant} | {ranking['mrr']:.3f} | "
          f"{ranking['p@1']:.3f} | {ranking['p@10']:.3f} | {generated['p@1']:.3f} | "
          f"{_minutes(record.get('train_seconds'))} | {_minutes(result['eval_seconds'])} |")
  if n_generated is not None:
    lines.append("")
    lines.append(f"P@1 gen is over the {n_generated} queries whose truth was generated.")
  table = "\n".join(lines) + "\n"
  (root / "ablations.md").write_text(table, encoding="utf-8")
  metrics.save_report(root / "ablations.json", {
      "instances": str(args.instances), "schedule_flags": schedule_flags(args),
      "prefilter_k": args.prefilter_k, "seed": args.seed, "rows": records})
  return table


def main():
  args = parse_args()
  root = pathlib.Path(args.root).resolve()
  root.mkdir(parents=True, exist_ok=True)
  trained = {name: overrides for name, _, overrides in TRAINED_ROWS}
  instances = None
  records: dict[str, dict[str, Any]] = {}
  for name in ROW_ORDER:
    workdir = root / name
    if name not in args.rows:
      # Rows scored by an earlier invocation stay in the table.
      if (workdir / "test_eval.json").exists():
        records[name] = json.loads((workdir / "test_eval.json").read_text())
      continue
    record: dict[str, Any] = {"row": name}
    if name in trained:
      overrides = trained[name] if name != "synthetic" else synthetic_overrides(args)
      if overrides is None:
        continue
      record = train_row(name, overrides, workdir, args)
    if instances is None and not (workdir / "test_eval.json").exists():
      instances = instances_lib.read(args.instances)
      print(f"{len(instances)} instances from {args.instances}", flush=True)
    records[name] = evaluate_row(name, workdir, instances or [], args, record)
    write_table(root, records, args)
  print(write_table(root, records, args))


if __name__ == "__main__":
  main()
