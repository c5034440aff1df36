"""Ranking instances from (broken, fixed) pairs: the generator's candidates for each.

The library of the build_data job (`repair_rank.jobs.build_data`) and of the
end-to-end evaluation. For every (broken, fixed) pair of each split, the
candidate generator proposes up to k valid repairs of the broken sequence
(best first by the Markov model); the instance is (query=broken, truth=fixed,
candidates). `build_split` writes, under the output directory (the job's
`config.output_dir`, default: the workdir):

  <split>.jsonl            ranking instances (repair_rank.data.instances)
  <split>.txt              the same in the prototype's text format
  <split>.stats.jsonl      per pair: seconds, candidates, the truth's rank in
                           the generator's order (null: missed)
  summary.json             recall of the truth by distance, time per snippet
  crossfit/                with `crossfit_folds`: each fold's held-out n-gram and
                           edit statistics (repair_rank.data.crossfit)
  tensorflow_datasets/     the instances as a TFDS dataset, once all splits exist

Work is split into shards of `config.shard_size` pairs, each written atomically
under shards/<split>/ with a name fixed by its index and skipped once it exists,
so an interrupted or retried build resumes where it stopped and writes the same
files. The shards run as an Apache Beam pipeline (`config.runner="beam"`: the
DirectRunner on all cores, or any runner through `config.beam_options`) or on a
local process pool (`"pool"`), repair_rank.data.pipelines; with a load-independent
budget (`max_expansions`, no `time_budget`) both give the same files, except
for the measured seconds in the stats.
"""
import functools
import multiprocessing
import pathlib
import time
from typing import Any, Optional, Sequence

from absl import logging
import ml_collections
import numpy as np
import tqdm

from repair_rank import paths
from repair_rank.data import crossfit
from repair_rank.data import instances as instances_lib
from repair_rank.data import jsonl
from repair_rank.data import pipelines
from repair_rank.data import stackoverflow
from repair_rank.generator import edit_stats as edit_stats_lib
from repair_rank.generator import ngram
from repair_rank.generator import search


def build_instance(pair: dict[str, Any], *, max_distance: int, k: int,
                   time_budget: float | None, max_expansions: int | None = None,
                   model: ngram.NgramModel | None = None,
                   stats: edit_stats_lib.EditStats | None = None, keep: int = 0
                   ) -> tuple[instances_lib.RankingInstance, dict]:
  """One pair's ranking instance, with the prior's parts, and its generation stats.

  `model`/`stats` (default: the bundled ones) drive the generator and the
  stored prior parts. `keep` > 0 keeps only the `keep` candidates the
  noisy-channel prior ranks best (in the generator's order), the lists a
  ranker behind that prior ever sees.
  """
  model = ngram.load_default() if model is None else model
  stats = edit_stats_lib.load_default() if stats is None else stats
  query = pair["broken"].split()
  truth = tuple(pair["fixed"].split())
  start = time.perf_counter()
  found = search.generate_scored(query, max_distance=max_distance, k=k,
                                         time_budget=time_budget, max_expansions=max_expansions,
                                         model=model, stats=stats)
  seconds = time.perf_counter() - start
  parts = [(c.log_prob, edit_stats_lib.channel_log_rate(stats, query, c.tokens)) for c in found]
  generated = len(found)
  generated_rank = next((i for i, c in enumerate(found) if c.tokens == truth), None)
  if keep and len(found) > keep:
    prior = np.array([lp + edit_stats_lib.CHANNEL_WEIGHT * ch for lp, ch in parts])
    kept = np.sort(np.argsort(-prior, kind="stable")[:keep])
    found, parts = [found[i] for i in kept], [parts[i] for i in kept]
  instance = instances_lib.RankingInstance(
      id=pair["id"], query=tuple(query), truth=truth,
      candidates=tuple(c.tokens for c in found), distance=pair["distance"],
      parts=tuple(parts),
      truth_parts=(model.log_prob(truth), edit_stats_lib.channel_log_rate(stats, query, truth)))
  generation = {"id": pair["id"], "distance": pair["distance"], "length": len(query),
                "seconds": round(seconds, 4), "n_candidates": generated,
                "generated_rank": generated_rank}
  return instance, generation


@functools.lru_cache(maxsize=1)
def _fold_models(directory: str, fold: int):
  """One worker's cross-fitted models, loaded once per fold it builds."""
  return crossfit.load_fold_models(pathlib.Path(directory), fold)


def _build_shard(job: tuple[pathlib.Path, list[dict], int | None], *,
                 crossfit_dir: str = "", **options) -> int:
  """Builds one shard's instances and stats files; returns the number of pairs.

  With cross-fitting, all the shard's pairs are of fold `fold`, built with the
  models fitted without that fold.
  """
  shard_path, pairs, fold = job
  if shard_path.exists():  # built by an earlier attempt (a retried bundle, a re-run)
    return len(pairs)
  model = stats = None
  if fold is not None:
    model, stats = _fold_models(crossfit_dir, fold)
  built = [build_instance(pair, model=model, stats=stats, **options) for pair in pairs]
  (model or ngram.load_default()).clear_cache()  # its per-context cache grows with every pair
  stats_path = shard_path.with_suffix(".stats.jsonl")
  jsonl.write_jsonl(stats_path, [generation for _, generation in built])
  # The instances file is written last: its existence marks the shard done.
  instances_lib.write_jsonl(shard_path, [instance for instance, _ in built])
  return len(pairs)


def build_split(split: str, output_dir: pathlib.Path, config: ml_collections.ConfigDict) -> dict:
  """Builds (or resumes) one split; returns its summary."""
  pairs = stackoverflow.read_pairs(pathlib.Path(config.source_dir or paths.STACKOVERFLOW_DIR)
                                   / f"{split}.jsonl")
  all_pairs = pairs
  if config.get("max_pair_distance", 0):
    pairs = [p for p in pairs if p["distance"] <= config.max_pair_distance]
  pairs = stackoverflow.spread(pairs, config.limit)
  folds = config.get("crossfit_folds", 0) if split == "train" else 0
  shard_dir = output_dir / "shards" / split
  # Shards are only resumable by a build of the same pairs with the same settings.
  manifest = {"ids": [pair["id"] for pair in pairs], "shard_size": config.shard_size,
              "max_distance": config.max_distance, "k": config.k,
              "time_budget": config.time_budget}
  # Absent when unset: older builds stay resumable.
  for field in ("max_expansions", "keep", "crossfit_folds"):
    if config.get(field, 0):
      manifest[field] = config[field]
  pipelines.check_manifest(shard_dir, manifest)
  crossfit_dir = output_dir / "crossfit"
  if folds:
    # Each fold's pairs are built with models fitted on all other train pairs.
    logging.info("fitting the held-out models of %d folds in %s", folds, crossfit_dir)
    crossfit.write_fold_models(all_pairs, folds, crossfit_dir)
    groups = [(fold, [p for p in pairs if crossfit.fold_of(p["id"], folds) == fold])
              for fold in range(folds)]
  else:
    groups = [(None, pairs)]
  shards = []
  for fold, members in groups:
    for i in range(0, len(members), config.shard_size):
      shards.append((shard_dir / f"{len(shards):05d}.jsonl", members[i:i + config.shard_size],
                     fold))
  todo = [shard for shard in shards if not shard[0].exists()]
  logging.info("%s: %d pairs, %d of %d shards to build", split, len(pairs), len(todo), len(shards))
  worker = functools.partial(_build_shard, max_distance=config.max_distance, k=config.k,
                             time_budget=config.time_budget or None,
                             max_expansions=config.get("max_expansions", 0) or None,
                             keep=config.get("keep", 0), crossfit_dir=str(crossfit_dir))
  start = time.perf_counter()
  pipelines.run_shards(worker, todo, runner=config.get("runner", "pool"),
                       workers=config.workers, beam_options=config.get("beam_options", ""),
                       progress=config.progress, desc=f"build_data {split}",
                       name=f"build_data {split}")
  wall_seconds = time.perf_counter() - start
  pipelines.check_written([path for path, _, _ in shards])

  instances, stats = [], []
  for shard_path, _, _ in shards:
    instances.extend(instances_lib.read_jsonl(shard_path))
    stats.extend(record for _, record in jsonl.read_jsonl(shard_path.with_suffix(".stats.jsonl")))
  instances_lib.write_jsonl(output_dir / f"{split}.jsonl", instances)
  jsonl.write_jsonl(output_dir / f"{split}.stats.jsonl", stats)
  if config.export_text:
    instances_lib.write_text(output_dir / f"{split}.txt", instances)
  return recall_summary(stats, wall_seconds)


def recall_summary(stats: list[dict], wall_seconds: float) -> dict:
  """Recall of the truth (in the top k, and first) by distance, and time per snippet."""
  def recall(rows):
    ranks = [r["generated_rank"] for r in rows]
    return {"n": len(rows),
            "recall": float(np.mean([r is not None for r in ranks])) if rows else None,
            "markov_p@1": float(np.mean([r == 0 for r in ranks])) if rows else None}
  by_distance = {}
  for distance in sorted({r["distance"] for r in stats}):
    by_distance[f"d={distance}"] = recall([r for r in stats if r["distance"] == distance])
  seconds = np.array([r["seconds"] for r in stats]) if stats else np.zeros(1)
  return {"all": recall(stats), **by_distance,
          "seconds_per_pair": {"median": float(np.median(seconds)),
                               "p90": float(np.percentile(seconds, 90)),
                               "max": float(seconds.max())},
          "wall_seconds_this_run": round(wall_seconds, 1)}


def generate_instances(pairs: Sequence[dict[str, Any]], *, max_distance: int, k: int,
                       time_budget: Optional[float], workers: int = 1, progress: bool = True
                       ) -> tuple[list[instances_lib.RankingInstance], list[dict[str, Any]]]:
  """One ranking instance and its generation stats per pair (truth not inserted)."""
  build = functools.partial(_build_one, max_distance=max_distance, k=k, time_budget=time_budget)
  bar = functools.partial(tqdm.tqdm, total=len(pairs), desc="generating", unit="pair",
                          disable=not progress)
  if workers > 1 and len(pairs) > 1:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
      built = list(bar(pool.imap(build, pairs, chunksize=4)))
  else:
    built = list(bar(map(build, pairs)))
  return [instance for instance, _ in built], [stats for _, stats in built]


def _build_one(pair: dict[str, Any], **options) -> tuple[instances_lib.RankingInstance, dict]:
  if not pair["broken"].split():  # nothing to repair: no candidates, a miss
    instance = instances_lib.RankingInstance(
        id=pair["id"], query=(), truth=tuple(pair["fixed"].split()), candidates=(),
        distance=pair["distance"])
    return instance, {"id": pair["id"], "seconds": 0.0, "n_candidates": 0,
                      "generated_rank": None}
  return build_instance(pair, **options)
