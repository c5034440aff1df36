"""The evaluate job, end to end: broken code -> generator -> the endpoint over HTTP -> metrics.

  python -m repair_rank.main --config configs/evaluate.py --workdir workdir/e2e \\
      --config.scorer=markov_distance --config.limit=50

Each broken sequence goes through the generator (`data.generation`), then the
candidates are scored by the endpoint (`config.endpoint`, or one started
in-process on a free port), then ranked (`ranking.end_to_end`). Also reported:
generator recall and the time of each stage. Outputs in the workdir:

  end_to_end.json              metrics by distance and length, times, settings
  end_to_end_instances.jsonl   the generated instances (reusable as config.instances)
  end_to_end_examples.jsonl    per pair: the truth's rank and the top candidates
"""
import pathlib
import time
from typing import Any, Optional

from absl import logging
import ml_collections
import numpy as np

from repair_rank import paths
from repair_rank.data import generation as generation_lib
from repair_rank.data import instances as instances_lib
from repair_rank.data import jsonl
from repair_rank.data import stackoverflow
from repair_rank.ranking import end_to_end
from repair_rank.ranking import metrics
from repair_rank.ranking import registry
from repair_rank.serving import client as client_lib
from repair_rank.serving import server as server_lib

REPORT_FILE = "end_to_end.json"
INSTANCES_FILE = "end_to_end_instances.jsonl"
EXAMPLES_FILE = "end_to_end_examples.jsonl"


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
    instances, stats = generation_lib.generate_instances(
        pairs, max_distance=config.max_distance, k=config.k,
        time_budget=config.time_budget or None, workers=config.workers,
        progress=config.progress)
    wall = time.perf_counter() - start
    instances_lib.write_jsonl(workdir / INSTANCES_FILE, instances)
    generation = {"max_distance": config.max_distance, "k": config.k,
                  "time_budget": config.time_budget, "workers": config.workers,
                  "wall_seconds": wall,
                  "seconds": end_to_end.percentiles([s["seconds"] for s in stats])}
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
      client_lib.wait_until_healthy(url, timeout_s=config.request_timeout_s)
    else:
      try:
        server = server_lib.server_from_config(config, port=0).start()
      except registry.ScorerUnavailableError as e:
        raise SystemExit(f"evaluate_end_to_end: {e}") from None
      url = server.url
    settings["endpoint"] = config.endpoint or f"in-process ({url})"
    logging.info("Scoring %d instances through %s", len(instances), url)
    client = client_lib.HttpScoreFn(url, timeout_s=config.request_timeout_s)
    result, examples = end_to_end.evaluate_end_to_end(instances, client, seed=config.seed,
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
