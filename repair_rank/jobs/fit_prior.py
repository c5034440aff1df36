"""The fit_prior job: the learned first stage, fitted on cross-fitted train lists.

  python -m repair_rank.main --config configs/fit_prior.py --workdir workdir/prior

Fits `ranking.learned_prior` on `config.train_instances` (which must carry the
prior's parts: build them with `configs/build_data.py:ranker`), writes
`<workdir>/learned_prior.json`, and ranks `config.valid_instances` with the
channel prior and the learned one side by side: every view, and the
selection summary reweighted to test's mix of distances and lengths.
"""
import json
import pathlib

from absl import logging
import ml_collections

from repair_rank.data import instances as instances_lib
from repair_rank.ranking import evaluate
from repair_rank.ranking import learned_prior
from repair_rank.ranking import metrics
from repair_rank.ranking import registry
from repair_rank.training import finetune as finetune_lib


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Fits, saves and validates the learned prior."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  train = finetune_lib.read_train_instances(config)
  if config.max_train_distance:
    train = [inst for inst in train if inst.distance <= config.max_train_distance]
  logging.info("%d train instances from %s and %d more files", len(train),
               config.train_instances, len(config.extra_train_instances))
  query_weights = None
  if config.balance == "test":
    # Each distance weighs what it weighs in test (the mix users are measured on).
    query_weights = evaluate.test_distance_weights([inst.distance for inst in train])
  elif config.balance != "none":
    raise ValueError(f"config.balance must be 'none' or 'test', got {config.balance!r}")
  prior, loss = learned_prior.fit(
      train, list_size=config.list_size, channel_weight=config.channel_weight,
      random_negatives=config.random_negatives, tau=config.tau, l2=config.l2,
      steps=config.steps, learning_rate=config.learning_rate, seed=config.seed,
      query_weights=query_weights, drop=tuple(config.drop), hidden=config.hidden)
  path = workdir / "learned_prior.json"
  prior.save(path)
  print(f"learned prior (train loss {loss:.4f}) -> {path}", flush=True)
  for name, weight in zip(learned_prior.FEATURE_NAMES, prior.weights):
    print(f"  {name:28s} {weight:+.4f}")
  if prior.hidden is not None:
    print(f"  + a hidden layer of {len(prior.hidden.b1)} GELU units")
  if not config.valid_instances:
    return
  valid = instances_lib.read(config.valid_instances)
  mix = evaluate.test_mix()
  summary = {}
  for name, options in (("markov_channel", {"weight": config.channel_weight}),
                        ("learned_prior", {"path": str(path)})):
    results = evaluate.rank_instances(valid, registry.get(name, **options), seed=config.seed,
                                      progress=config.progress)
    report = metrics.report(results)
    summary[name] = {"ranking": report, "balanced": metrics.balanced_summary(results, mix)}
    print(metrics.format_table(report, title=f"\n{name} / ranking (valid)"))
    print(metrics.format_table({"test-mix": summary[name]["balanced"]},
                               title=f"{name} / valid reweighted to test's mix"), flush=True)
  (workdir / "valid_report.json").write_text(json.dumps(summary, indent=2))
