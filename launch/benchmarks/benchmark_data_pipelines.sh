#!/usr/bin/env bash
# Throughput of the data jobs' pipelines (BENCHMARKS.md, "Data pipelines on Beam"):
# build_data on valid pairs and on synthetic pairs, and synthesize from a corpus
# directory, each with Beam's DirectRunner at 1 and 2 workers (build_data also with
# the process pool). Prints one line per run: job, runner, workers, pairs, wall and CPU
# seconds (the job with its workers).
#
#   launch/benchmarks/benchmark_data_pipelines.sh [OUT]      # PAIRS=32 SYNTHETIC=10000 CORPUS=DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-workdir/benchmark_data_pipelines}
PY=${PY:-.venv/bin/python}
PAIRS=${PAIRS:-32}            # pairs per build_data run
SYNTHETIC=${SYNTHETIC:-10000} # pairs per synthesize run
CORPUS=${CORPUS:-$($PY -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')/idlelib}  # 125 files
rm -rf "$OUT" && mkdir -p "$OUT"

# The ranker's load-independent budget (configs/build_data.py:ranker) on PAIRS pairs.
BUILD=(--config.time_budget=0 --config.max_expansions=300 --config.keep=128
       --config.max_pair_distance=3 --config.limit="$PAIRS" --config.shard_size=4
       --config.tfds=False --config.progress=False)

timed() {  # NAME RUNNER WORKERS PAIRS -- COMMAND...: runs it, prints the line
  local name=$1 runner=$2 workers=$3 pairs=$4; shift 5
  # Wall seconds, and CPU seconds (user + system) of the job and its worker processes.
  /usr/bin/time -f "%e %U %S" -o "$OUT/$name.time" "$@" > "$OUT/$name.log" 2>&1
  read -r wall user system < "$OUT/$name.time"
  echo "$name $runner $workers $pairs wall=$wall cpu=$(echo "$user + $system" | bc)"
}

for runner in beam pool; do
  for workers in 1 2; do
    timed "build_valid_${runner}$workers" $runner $workers "$PAIRS" -- \
      $PY -m repair_rank.main --config configs/build_data.py \
      --workdir "$OUT/build_valid_${runner}$workers" --config.splits="('valid',)" "${BUILD[@]}" \
      --config.runner=$runner --config.workers=$workers
  done
done
for workers in 1 2; do
  timed "synthesize_beam$workers" beam $workers "$SYNTHETIC" -- \
    $PY -m repair_rank.main --config configs/synthesize.py --workdir "$OUT/synthesize_beam$workers" \
    --config.sources="('corpus',)" --config.corpus_dirs="('$CORPUS',)" \
    --config.num_pairs="$SYNTHETIC" --config.runner=beam --config.workers=$workers \
    --config.progress=False
done
cmp "$OUT/synthesize_beam1/train.jsonl" "$OUT/synthesize_beam2/train.jsonl"
for workers in 1 2; do
  timed "build_synthetic_beam$workers" beam $workers "$PAIRS" -- \
    $PY -m repair_rank.main --config configs/build_data.py \
    --workdir "$OUT/build_synthetic_beam$workers" --config.source_dir="$OUT/synthesize_beam1" \
    --config.splits="('train',)" "${BUILD[@]}" --config.runner=beam --config.workers=$workers
done
for name in build_valid_beam2 build_valid_pool1 build_valid_pool2; do
  cmp "$OUT/build_valid_beam1/valid.jsonl" "$OUT/$name/valid.jsonl"
done
cmp "$OUT/build_synthetic_beam1/train.jsonl" "$OUT/build_synthetic_beam2/train.jsonl"
echo "outputs identical across runners and workers"
