#!/usr/bin/env bash
# One GPU lease (issue 21): pretrain three sizes on train + the synthetic standard-library pairs,
# finetune each behind the learned first stage, then distil the full model into the small one
# that the CPU serves. Valid numbers land in each run's metrics.jsonl; test is evaluated later,
# once, on the bundle chosen on valid. Meanwhile the machine's CPUs build the test instances
# (a load-independent budget, so the same lists as on any machine).
#
#   OUT=results launch/gpu_distill.sh            # on the GPU machine (python3 with jax[cuda])
#   QUICK=1 OUT=/tmp/q launch/gpu_distill.sh     # a dry run of every stage, minutes on a CPU
#
# Settings (environment): PYTHON [python3], RESULTS [workdir/gpu], OUT [$RESULTS/out] (what to
# bring back: logs, the small bundles, the small encoder, teacher residuals, test instances),
# WORKERS [12] (test-instance build processes), QUICK [0].
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
R="${RESULTS:-workdir/gpu}"
OUT="${OUT:-$R/out}"
mkdir -p "$R" "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
EXTRA="('data/synthetic/stdlib_pairs.jsonl.gz',)"
MID=(--config.model.dim=256 --config.model.heads=4 --config.model.layers=4 --config.model.mlp_dim=1024)
if [[ "${QUICK:-0}" == 1 ]]; then
  PRE_STEPS=20; FT_STEPS=10; SECS=(60 60 60 60 60 60 60); LIMIT=(--config.limit=8)
  QUICK_FT=(--config.max_valid_instances=20 --config.calibrate=False)
  zcat data/instances/train_ranker.jsonl.gz | head -40 > "$R/train_head.jsonl"
  QUICK_TEACH=(--config.train_instances="$R/train_head.jsonl"); BATCH=8
else
  PRE_STEPS=5000; FT_STEPS=2000; LIMIT=(); QUICK_FT=(); QUICK_TEACH=(); BATCH=128
  # Wall-clock budgets (s): pretrain small / mid / full, finetune small / mid / full, distil.
  SECS=(100 110 120 100 100 100 90)
fi

log() { echo "=== $(date -u +%T) $*"; }
run() { "$PY" -m repair_rank.main "$@" --config.progress=False; }
pretrain() {  # name variant seconds [overrides]
  local name=$1 variant=$2 secs=$3; shift 3
  run --config "configs/pretrain.py:${variant}" --workdir "$R/$name/pretrain" \
      --config.extra_train_pairs="$EXTRA" --config.per_device_batch_size=$BATCH \
      --config.num_steps=$PRE_STEPS --config.warmup_steps=$((PRE_STEPS / 20)) \
      --config.eval_every_steps=$((PRE_STEPS / 5)) --config.checkpoint_every_steps=$((PRE_STEPS / 5)) \
      --config.keep_checkpoints=1 --config.max_train_seconds="$secs" "$@" \
      > "$R/$name.pretrain.log" 2>&1
}
finetune() {  # name variant seconds workdir [overrides]
  local name=$1 variant=$2 secs=$3 workdir=$4; shift 4
  run --config "configs/finetune.py:${variant}" --workdir "$workdir" \
      --config.pretrained_checkpoint="$R/$name/pretrain" --config.queries_per_device=16 \
      --config.num_steps=$FT_STEPS --config.warmup_steps=$((FT_STEPS / 20)) \
      --config.eval_every_steps=$((FT_STEPS / 5)) --config.checkpoint_every_steps=$((FT_STEPS / 5)) \
      --config.max_train_seconds="$secs" "${QUICK_FT[@]}" "$@" > "$workdir.log" 2>&1
}
keep_logs() {
  tar czf "$OUT/logs.tar.gz" -C "$R" --exclude='checkpoints' --exclude='scorer_bundle' \
      --exclude='teacher_residuals*' --exclude='test' . 2>/dev/null
}

log "start: $($PY -c 'import jax; print(jax.devices())' 2>&1 | tail -1)"
run --config configs/build_data.py --workdir "$R/test" --config.splits="('test',)" \
    --config.time_budget=0 --config.max_expansions=300 --config.workers="${WORKERS:-12}" \
    --config.runner=pool --config.tfds=False --config.export_text=False "${LIMIT[@]}" \
    > "$R/test_instances.log" 2>&1 &
test_pid=$!

pretrain small small "${SECS[0]}" & small_pid=$!
pretrain mid small "${SECS[1]}" "${MID[@]}" & mid_pid=$!
pretrain full full "${SECS[2]}" & full_pid=$!

wait $small_pid; log "small pretrained (rc $?)"
tar cf "$OUT/small_pretrain.tar" -C "$R/small" pretrain/checkpoints pretrain/model_config.json
finetune small small "${SECS[3]}" "$R/small/finetune" & small_ft=$!
wait $mid_pid; log "mid pretrained (rc $?)"
finetune mid small "${SECS[4]}" "$R/mid/finetune" --config.calibrate=False "${MID[@]}" & mid_ft=$!
wait $full_pid; log "full pretrained (rc $?)"
keep_logs
finetune full full "${SECS[5]}" "$R/full/finetune" --config.calibrate=False
log "full finetuned (rc $?)"
keep_logs

# The small model again, now with the full one's softmax over each group as a soft target.
finetune small small "${SECS[6]}" "$R/small/distilled" --config.teacher="$R/full/finetune" \
    --config.distill_weight=0.5 "${QUICK_TEACH[@]}"
log "small distilled (rc $?)"
cp "$R/small/distilled/teacher_residuals.jsonl.gz" "$OUT/" 2>/dev/null
wait $small_ft; log "small finetuned (rc $?)"
tar cf "$OUT/small_bundles.tar" -C "$R/small" finetune/scorer_bundle distilled/scorer_bundle \
    finetune/metrics.jsonl distilled/metrics.jsonl 2>/dev/null
wait $mid_ft; log "mid finetuned (rc $?)"
wait $test_pid; log "test instances (rc $?)"
cp "$R/test/test.jsonl" "$OUT/test_instances.jsonl" 2>/dev/null && gzip -f "$OUT/test_instances.jsonl"
keep_logs
for run_dir in small/finetune small/distilled mid/finetune full/finetune; do
  echo "--- $run_dir"; grep '"split": "valid"' "$R/$run_dir/metrics.jsonl" 2>/dev/null | tail -2
done
log "done"
