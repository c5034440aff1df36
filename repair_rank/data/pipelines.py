"""Running a data job's shards: an Apache Beam pipeline (default) or a local process pool.

The build_data and synthesize jobs cut their work into shards, each a pure
function of its inputs that writes its own output file atomically (under a name
fixed by its index) and is skipped when that file already exists. So a shard
may run on any worker, any number of times (a Beam retry, a speculative
duplicate, a re-run after a killed build), and the files come out the same; the
driver then reads the shards back in index order. `run_shards` runs them:

  runner="beam"  a Beam pipeline, Create(shards) | Reshuffle | Map(work). With no
                 --runner in `beam_options`, the DirectRunner with `workers`
                 processes; otherwise the options go to the named runner as they
                 are (Dataflow, Flink, Spark: the shards' directory must be one
                 path every worker and the driver see). Needs the `beam` extra.
  runner="pool"  a multiprocessing pool of `workers` processes (no Beam needed).
"""
import json
import multiprocessing
import os
import pathlib
import shlex
from typing import Any, Callable, Sequence

from absl import logging
import tqdm

RUNNERS = ("beam", "pool")
BEAM_MISSING = ("runner='beam' needs apache-beam, which is not installed: "
                "pip install -e '.[beam]' (or run without Beam: --config.runner=pool)")


def import_beam():
  """The apache_beam module, or an ImportError that names the extra to install."""
  try:
    import apache_beam  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(BEAM_MISSING) from e
  return apache_beam


def worker_count(workers: int) -> int:
  """`workers`, or the machine's cores when it is 0 or less."""
  return workers if workers > 0 else (os.cpu_count() or 1)


def pipeline_args(beam_options: str, workers: int) -> list[str]:
  """Beam's command-line options: `beam_options` as given, or, without a --runner
  there, the DirectRunner with `workers` worker processes (0: all cores)."""
  args = shlex.split(beam_options)
  if any(a == "--runner" or a.startswith("--runner=") for a in args):
    return args
  workers = worker_count(workers)
  mode = "multi_processing" if workers > 1 else "in_memory"
  # The worker processes' own INFO lines (one set per worker and bundle) would drown the
  # job's output; beam_options can ask for them back.
  return ["--runner=DirectRunner", f"--direct_num_workers={workers}",
          f"--direct_running_mode={mode}", "--default_sdk_harness_log_level=WARNING", *args]


def check_manifest(directory: pathlib.Path, manifest: dict) -> None:
  """Writes `manifest` (what the shards in `directory` are built from) there, or raises
  if the directory already holds shards of a different build."""
  directory.mkdir(parents=True, exist_ok=True)
  path = directory / "manifest.json"
  if path.exists() and json.loads(path.read_text()) != manifest:
    raise ValueError(f"{directory} holds shards of a different build (other inputs or "
                     "settings); use another output directory or delete it to start afresh")
  path.write_text(json.dumps(manifest))


def check_written(shard_paths: Sequence[pathlib.Path]) -> None:
  """Raises unless every shard's output exists (a runner whose workers wrote elsewhere)."""
  missing = [str(path) for path in shard_paths if not path.exists()]
  if missing:
    raise RuntimeError(f"{len(missing)} shards missing after the pipeline, e.g. {missing[0]}: "
                       "is the output directory a path every worker writes to?")


def run_shards(work: Callable[[Any], Any], shards: Sequence[Any], *, runner: str,
               workers: int, beam_options: str = "", progress: bool = False,
               desc: str = "shards", name: str = "shards") -> None:
  """Runs `work(shard)` once (at least) for every shard; `work` writes the outputs.

  `work` and the shards must pickle (a module-level function, a
  functools.partial of one). `progress`: a tqdm bar of shards (pool runner).
  """
  if runner not in RUNNERS:
    raise ValueError(f"config.runner={runner!r}: one of {RUNNERS}")
  if not shards:
    return
  if runner == "beam":
    beam = import_beam()
    from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
    args = pipeline_args(beam_options, workers)
    logging.info("%s: %d shards on Beam (%s)", name, len(shards), " ".join(args))
    options = pipeline_options.PipelineOptions(args)
    with beam.Pipeline(options=options) as pipeline:
      _ = (pipeline
           | "Shards" >> beam.Create(list(shards))
           # Spreads the shards over workers and checkpoints them, so a retried
           # bundle re-runs its shards, not the Create.
           | "Spread" >> beam.Reshuffle()
           | "Build" >> beam.Map(work))
    return
  workers = min(worker_count(workers), len(shards))
  with tqdm.tqdm(total=len(shards), desc=desc, unit="shard", disable=not progress) as bar:
    if workers > 1:
      with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in pool.imap_unordered(work, shards):
          bar.update(1)
    else:
      for shard in shards:
        work(shard)
        bar.update(1)
