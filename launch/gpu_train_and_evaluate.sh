#!/usr/bin/env bash
# Both model sizes on one accelerator, each within a wall-clock budget: pretrain, finetune on
# top of the noisy-channel prior, choose the ensemble weight on valid, evaluate once on test.
# What produced the GPU rows of BENCHMARKS.md.
#
#   VALID=<valid instances> TEST=<test instances> launch/gpu_train_and_evaluate.sh
#
# Settings, as environment variables:
#   VALID, TEST        ranking instances (build_data output, .jsonl[.gz]); required
#   EXTRA              more train instances (e.g. synthetic ones); default none
#   RESULTS [workdir/gpu]   outputs: $RESULTS/<variant>/{pretrain,finetune,selected_bundle,test}
#   PYTHON [.venv/bin/python]
#   VARIANTS ["small full"]
#   <VARIANT>_PRETRAIN_SECONDS, <VARIANT>_FINETUNE_SECONDS   budgets per stage [300, 300]
#   <VARIANT>_PRETRAIN_STEPS, <VARIANT>_FINETUNE_STEPS       schedules' lengths [6000, 2000]
# Budget and steps go together: the schedule decays over the steps, the budget cuts it
# short if the machine is slower than expected (a checkpoint is written either way).
set -euo pipefail

cd "$(dirname "$0")/.."
: "${VALID:?set VALID to valid ranking instances}" "${TEST:?set TEST to test ranking instances}"
RESULTS="${RESULTS:-workdir/gpu}"
export PYTHON="${PYTHON:-.venv/bin/python}"
EXTRA="${EXTRA:-}"

for variant in ${VARIANTS:-small full}; do
  upper="${variant^^}"
  seconds_pretrain="${upper}_PRETRAIN_SECONDS"; seconds_finetune="${upper}_FINETUNE_SECONDS"
  steps_pretrain="${upper}_PRETRAIN_STEPS"; steps_finetune="${upper}_FINETUNE_STEPS"
  out="${RESULTS}/${variant}"
  echo "=== ${variant}: $(date -u +%T)"
  extra=()
  [[ -n "${EXTRA}" ]] && extra=("--config.extra_train_instances=('${EXTRA}',)")
  VARIANT="${variant}" WORKDIR="${out}" \
  PRETRAIN_FLAGS="--config.progress=False --config.max_train_seconds=${!seconds_pretrain:-300}
                  --config.num_steps=${!steps_pretrain:-6000}" \
  FINETUNE_FLAGS="--config.progress=False --config.max_train_seconds=${!seconds_finetune:-300}
                  --config.num_steps=${!steps_finetune:-2000} --config.eval_every_steps=500
                  --config.checkpoint_every_steps=500 --config.prior=markov_channel
                  --config.prior_weight=3.0 --config.valid_instances=${VALID}
                  --config.max_valid_instances=0 ${extra[*]}" \
    launch/multi_gpu.sh train
  echo "=== ${variant} trained: $(date -u +%T)"
  "${PYTHON}" launch/analysis/tune_scorer.py --model "${out}/finetune" --instances "${VALID}" \
      --priors markov_channel --weights 0 1 2 3 4 6 --bundle "${out}/selected_bundle" --select
  "${PYTHON}" -m repair_rank.main --config configs/evaluate.py --workdir "${out}/test" \
      --config.model_path="${out}/selected_bundle" --config.instances="${TEST}"
  echo "=== ${variant} evaluated: $(date -u +%T)"
done
