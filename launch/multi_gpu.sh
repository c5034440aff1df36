#!/usr/bin/env bash
# Pretrain and finetune the full model on a GPU host: one process, pmap over all its GPUs.
#
#   launch/multi_gpu.sh setup    # .venv with this package and jax[cuda12]
#   launch/multi_gpu.sh train    # pretrain, then finetune from it
#
# Run from anywhere; it works in this checkout. Settings, as environment variables:
#   WORKDIR [workdir/$VARIANT]  outputs: $WORKDIR/pretrain, $WORKDIR/finetune (scorer_bundle)
#   VARIANT [full]           model size: full (GPU/TPU) or small (the CPU-sized bundled one)
#   PYTHON [.venv/bin/python]  the interpreter with this package's dependencies
#   CUDA_VISIBLE_DEVICES     which GPUs to use (default all); the global batch is
#                            per_device_batch_size (or queries_per_device) x GPUs
#   PRETRAIN_FLAGS, FINETUNE_FLAGS  extra --config.key=value overrides for each job
#
# Several hosts with the same number of GPUs: run `train` on every host with the
# same WORKDIR on a filesystem they all mount (NFS; every process takes part in the
# orbax checkpoints) and
#   COORDINATOR  host:port of process 0, reachable from all hosts (e.g. 10.0.0.1:8476)
#   NUM_PROCESSES  number of hosts;  PROCESS_ID  this host's index, 0 on the coordinator
# for example, on two hosts:
#   host0$ WORKDIR=/nfs/rr COORDINATOR=10.0.0.1:8476 NUM_PROCESSES=2 PROCESS_ID=0 launch/multi_gpu.sh train
#   host1$ WORKDIR=/nfs/rr COORDINATOR=10.0.0.1:8476 NUM_PROCESSES=2 PROCESS_ID=1 launch/multi_gpu.sh train
# Under SLURM (one task per node) set DISTRIBUTED=1 instead: JAX reads the rest from SLURM.
set -euo pipefail

cd "$(dirname "$0")/.."
VARIANT="${VARIANT:-full}"
WORKDIR="${WORKDIR:-workdir/${VARIANT}}"
PYTHON="${PYTHON:-.venv/bin/python}"
PRETRAIN_FLAGS="${PRETRAIN_FLAGS:-}"
FINETUNE_FLAGS="${FINETUNE_FLAGS:-}"
COORDINATOR="${COORDINATOR:-}"

distributed=()
if [[ -n "${COORDINATOR}" ]]; then
  distributed=(--config.distributed=True --config.coordinator_address="${COORDINATOR}"
               --config.num_processes="${NUM_PROCESSES:?set NUM_PROCESSES with COORDINATOR}"
               --config.process_id="${PROCESS_ID:?set PROCESS_ID with COORDINATOR}")
elif [[ "${DISTRIBUTED:-0}" == 1 ]]; then
  distributed=(--config.distributed=True)
fi

case "${1:-}" in
  setup)
    python3 -m venv .venv
    .venv/bin/pip install -q -U pip
    # jax[cuda12] brings CUDA and cuDNN as pip wheels; only the NVIDIA driver must be installed.
    .venv/bin/pip install -q -e . "jax[cuda12]"
    .venv/bin/python -c "import jax; print(jax.default_backend(), jax.local_devices())"
    ;;
  train)
    # PRETRAIN_FLAGS / FINETUNE_FLAGS are split on spaces on purpose (several overrides).
    # shellcheck disable=SC2086
    "${PYTHON}" -m repair_rank.main --config "configs/pretrain.py:${VARIANT}" \
        --workdir "${WORKDIR}/pretrain" ${distributed[@]+"${distributed[@]}"} ${PRETRAIN_FLAGS}
    # shellcheck disable=SC2086
    "${PYTHON}" -m repair_rank.main --config "configs/finetune.py:${VARIANT}" \
        --workdir "${WORKDIR}/finetune" ${distributed[@]+"${distributed[@]}"} \
        --config.pretrained_checkpoint="${WORKDIR}/pretrain" ${FINETUNE_FLAGS}
    echo "done: ${WORKDIR}/finetune/scorer_bundle"
    ;;
  *)
    awk 'NR > 1 && !/^#/ {exit} NR > 1 {print}' "$0" >&2
    exit 2
    ;;
esac
