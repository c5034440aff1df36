"""End-to-end evaluation job: broken code -> generator -> the endpoint over HTTP -> metrics.

  python -m repair_rank.main --config configs/evaluate.py --workdir workdir/e2e \\
      --config.scorer=markov_distance --config.limit=50

DESIGN.md "Two evaluations": a truth the generator did not propose is a miss at
every k. Each broken sequence goes through `candidates.generate` (via
`build_data.build_instance`), then the candidates are scored by the endpoint
(`config.endpoint`, or one started in-process on a free port), then ranked by
`evaluate.rank_instances(end_to_end=True)`. Also reported: the ranking view
restricted to the pairs whose truth was generated, generator recall, and the
time of each stage. Outputs in the workdir:

  end_to_end.json              metrics by distance and length, times, settings
  end_to_end_instances.jsonl   the generated instances (reusable as config.instances)
  end_to_end_examples.jsonl    per pair: the truth's rank and the top candidates
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

from repair_rank import build_data
from repair_rank import evaluate
from repair_rank import metrics
from repair_rank import paths
from repair_rank import serve
from repair_rank.data import instances as instances_lib
from repair_rank.data import jsonl
from repair_rank.data import stackoverflow

REPORT_FILE = "end_to_end.json"
INSTANCES_FILE = "end_to_end_instances.jsonl"
EXAMPLES_FILE = "end_to_end_examples.jsonl"
# Candidates kept per pair in the examples file (best first by the scorer).
N_EXAMPLE_CANDIDATES = 3


class TimedScoreFn:
  """Wraps a `ScoreFn`: records each call's wall time and top candidates, in call order."""

  def __init__(self, score_fn: evaluate.ScoreFn):
    self.score_fn = score_fn
    self.seconds: list[float] = []
    self.n_candidates: list[int] = []
    self.top: list[list[list[str]]] = []

  def __call__(self, query: list[str], candidates: list[list[str]]) -> np.ndarray:
    start = time.perf_counter()
    scores = self.score_fn(query, candidates)
    self.seconds.append(time.perf_counter() - start)
    self.n_candidates.append(len(candidates))
    order = serve.best_first(scores)[:N_EXAMPLE_CANDIDATES]
    self.top.append([candidates[i] for i in order])
    return scores


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
  return build_data.build_instance(pair, **options)


def percentiles(values: Sequence[float]) -> dict[str, Optional[float]]:
  """Total, mean, p50, p90 and p99 of per-query seconds (None when empty)."""
  if not values:
    return {"total": 0.0, "mean": None, "p50": None, "p90": None, "p99": None}
  array = np.asarray(values, dtype=np.float64)
  return {"total": float(array.sum()), "mean": float(array.mean()),
          "p50": float(np.percentile(array, 50)), "p90": float(np.percentile(array, 90)),
          "p99": float(np.percentile(array, 99))}


def evaluate_end_to_end(instances: Sequence[instances_lib.RankingInstance],
                        score_fn: evaluate.ScoreFn, *, seed: int, progress: bool = True
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
  """(metric views and scoring times, per-instance examples) of `score_fn` end to end."""
  timed = TimedScoreFn(score_fn)
  start = time.perf_counter()
  results = evaluate.rank_instances(instances, timed, seed=seed, end_to_end=True,
                                    progress=progress)
  wall = time.perf_counter() - start
  n_scored = sum(timed.n_candidates)
  scoring = {"seconds": percentiles(timed.seconds), "wall_seconds": wall,
             "queries": len(timed.seconds), "candidates": n_scored,
             "candidates_per_second": n_scored / sum(timed.seconds) if timed.seconds else None}
  views = {"end_to_end": metrics.report(results),
           "ranking_generated": metrics.report(evaluate.generated_subset(results))}
  calls = iter(timed.top)
  examples = []
  for inst, result in zip(instances, results):
    top = next(calls) if result.generated else []
    examples.append({"id": inst.id, "distance": inst.distance, "length": inst.length,
                     "rank": result.rank, "n_candidates": result.n_candidates,
                     "query": " ".join(inst.query), "truth": " ".join(inst.truth),
                     "top": [" ".join(c) for c in top]})
  return {"views": views, "scoring": scoring}, examples


def _read_pairs(config: ml_collections.ConfigDict) -> tuple[str, list[dict[str, Any]]]:
  path = config.pairs or str(paths.split_path("test"))
  return path, stackoverflow.spread(stackoverflow.read_pairs(path), config.limit)


def run(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Generates, scores over HTTP, and writes the end-to-end report to the workdir."""
  workdir = pathlib.Path(workdir)
  settings: dict[str, Any] = {"scorer": config.scorer, "seed": config.seed}
  sources: dict[str, str] = {}
  if config.instances:
    instances = stackoverflow.spread(instances_lib.read(config.instances), config.limit)
    sources["instances"] = config.instances
    generation: dict[str, Any] = {"skipped": True}
  else:
    pairs_path, pairs = _read_pairs(config)
    sources["pairs"] = pairs_path
    logging.info("Generating candidates for %d pairs of %s", len(pairs), pairs_path)
    start = time.perf_counter()
    instances, stats = generate_instances(
        pairs, max_distance=config.max_distance, k=config.k,
        time_budget=config.time_budget or None, workers=config.workers,
        progress=config.progress)
    wall = time.perf_counter() - start
    instances_lib.write_jsonl(workdir / INSTANCES_FILE, instances)
    generation = {"max_distance": config.max_distance, "k": config.k,
                  "time_budget": config.time_budget, "workers": config.workers,
                  "wall_seconds": wall,
                  "seconds": percentiles([s["seconds"] for s in stats])}
  n_candidates = [len(inst.candidates) for inst in instances]
  generation.update({
      "candidates_mean": float(np.mean(n_candidates)) if instances else None,
      "candidates_median": float(np.median(n_candidates)) if instances else None,
      "recall": (sum(inst.generated_rank is not None for inst in instances) / len(instances)
                 if instances else None)})

  server = None
  try:
    if config.endpoint:
      url = config.endpoint
      serve.wait_until_healthy(url, timeout_s=config.request_timeout_s)
    else:
      try:
        server = serve.server_from_config(config, port=0).start()
      except serve.ScorerUnavailableError as e:
        raise SystemExit(f"evaluate_end_to_end: {e}") from None
      url = server.url
    settings["endpoint"] = config.endpoint or f"in-process ({url})"
    logging.info("Scoring %d instances through %s", len(instances), url)
    client = serve.HttpScoreFn(url, timeout_s=config.request_timeout_s)
    result, examples = evaluate_end_to_end(instances, client, seed=config.seed,
                                           progress=config.progress)
    client.close()
  finally:
    if server is not None:
      server.shutdown()

  report = {**settings, **sources, "n_instances": len(instances),
            "generation": generation, **result}
  metrics.save_report(workdir / REPORT_FILE, report)
  jsonl.write_jsonl(workdir / EXAMPLES_FILE, examples)
  for view, rows in result["views"].items():
    print(metrics.format_table(rows, title=f"\n{config.scorer} / {view}"), flush=True)
  gen_seconds = generation.get("seconds", {}).get("mean")
  print(f"\ngenerator recall {generation['recall']}; per query: generation "
        f"{_fmt(gen_seconds)} s, scoring {_fmt(result['scoring']['seconds']['mean'])} s "
        f"(mean); report {workdir / REPORT_FILE}", flush=True)


def _fmt(value: Optional[float]) -> str:
  return "-" if value is None else f"{value:.3f}"
