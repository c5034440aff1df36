#!/usr/bin/env bash
# Pretrain and finetune the full model on a Cloud TPU VM: one host or a pod slice.
#
#   launch/tpu_vm.sh create   # create the TPU VM (every host of the slice)
#   launch/tpu_vm.sh setup    # copy this checkout to every host, install it with jax[tpu]
#   launch/tpu_vm.sh train    # pretrain, then finetune from it, on all hosts together
#   launch/tpu_vm.sh ssh      # a shell on host 0 (look at $WORKDIR, run tensorboard)
#   launch/tpu_vm.sh delete   # delete the TPU VM (it bills while it exists)
#
# Settings, as environment variables (defaults in brackets):
#   TPU_NAME [repair-rank]   ZONE [us-central2-b]   ACCELERATOR [v4-8]
#   RUNTIME [tpu-ubuntu2204-base]   PROJECT [gcloud's default project]
#   BUCKET  a GCS bucket (no gs://) mounted with gcsfuse at /mnt/gcs on every host;
#           required on a pod slice (several hosts), where the workdir must be one
#           directory all hosts see: every process takes part in the orbax checkpoints.
#   WORKDIR [/mnt/gcs/repair_rank with BUCKET, else ~/repair_rank/workdir on host 0]
#   PRETRAIN_FLAGS, FINETUNE_FLAGS  extra --config.key=value overrides for each job
#
# Each host runs the same command (`--worker=all`); with --config.distributed=True
# jax.distributed.initialize finds the coordinator, process count and index from
# the TPU metadata, so no addresses are needed. Example, a v4-32 slice (4 hosts):
#   BUCKET=my-bucket ACCELERATOR=v4-32 launch/tpu_vm.sh create
#   BUCKET=my-bucket ACCELERATOR=v4-32 launch/tpu_vm.sh setup
#   BUCKET=my-bucket ACCELERATOR=v4-32 PRETRAIN_FLAGS="--config.num_steps=40000" \
#       launch/tpu_vm.sh train
set -euo pipefail

TPU_NAME="${TPU_NAME:-repair-rank}"
ZONE="${ZONE:-us-central2-b}"
ACCELERATOR="${ACCELERATOR:-v4-8}"
RUNTIME="${RUNTIME:-tpu-ubuntu2204-base}"
BUCKET="${BUCKET:-}"
if [[ -n "${BUCKET}" ]]; then
  WORKDIR="${WORKDIR:-/mnt/gcs/repair_rank}"
else
  WORKDIR="${WORKDIR:-\$HOME/repair_rank/workdir}"  # Expanded on the TPU host.
fi
PRETRAIN_FLAGS="${PRETRAIN_FLAGS:-}"
FINETUNE_FLAGS="${FINETUNE_FLAGS:-}"
GCLOUD_FLAGS=(--zone="${ZONE}")
if [[ -n "${PROJECT:-}" ]]; then
  GCLOUD_FLAGS+=(--project="${PROJECT}")
fi
REPO="$(cd "$(dirname "$0")/.." && pwd)"

on_all_hosts() {
  gcloud compute tpus tpu-vm ssh "${TPU_NAME}" "${GCLOUD_FLAGS[@]}" --worker=all --command="$1"
}

hosts() {
  gcloud compute tpus tpu-vm describe "${TPU_NAME}" "${GCLOUD_FLAGS[@]}" \
      --format="value(networkEndpoints[].ipAddress)" | tr ';' '\n' | grep -c .
}

case "${1:-}" in
  create)
    gcloud compute tpus tpu-vm create "${TPU_NAME}" "${GCLOUD_FLAGS[@]}" \
        --accelerator-type="${ACCELERATOR}" --version="${RUNTIME}"
    ;;
  setup)
    # The tracked sources and bundled data, without local environments or outputs.
    scratch="$(mktemp -d)"
    trap 'rm -rf "${scratch}"' EXIT
    archive="${scratch}/repair_rank.tar.gz"
    tar -C "${REPO}" --exclude=.venv --exclude=.git --exclude=workdir \
        --exclude="*.egg-info" --exclude=__pycache__ \
        -czf "${archive}" .
    gcloud compute tpus tpu-vm scp "${archive}" "${TPU_NAME}:~/repair_rank.tar.gz" \
        "${GCLOUD_FLAGS[@]}" --worker=all
    # jax[tpu] pulls libtpu; installed together with the package so versions agree.
    on_all_hosts "set -euo pipefail
      sudo apt-get -qq update && sudo apt-get -qq install -y python3-venv
      mkdir -p ~/repair_rank && tar -C ~/repair_rank -xzf ~/repair_rank.tar.gz
      cd ~/repair_rank && python3 -m venv .venv
      .venv/bin/pip install -q -U pip && .venv/bin/pip install -q -e . 'jax[tpu]'
      .venv/bin/python -c 'import jax; print(jax.process_index(), jax.local_devices())'"
    if [[ -n "${BUCKET}" ]]; then
      # gcsfuse renames directories only up to --rename-dir-limit entries; orbax
      # finalises each checkpoint by renaming its temporary directory.
      on_all_hosts "set -euo pipefail
        repo=gcsfuse-\$(lsb_release -c -s)
        curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg \
            | sudo tee /usr/share/keyrings/cloud.google.asc > /dev/null
        echo \"deb [signed-by=/usr/share/keyrings/cloud.google.asc] https://packages.cloud.google.com/apt \$repo main\" \
            | sudo tee /etc/apt/sources.list.d/gcsfuse.list > /dev/null
        sudo apt-get -qq update && sudo apt-get -qq install -y gcsfuse
        sudo mkdir -p /mnt/gcs && sudo chown \$USER /mnt/gcs
        mountpoint -q /mnt/gcs || gcsfuse --implicit-dirs --rename-dir-limit=100000 ${BUCKET} /mnt/gcs"
    fi
    ;;
  train)
    if [[ -z "${BUCKET}" && "$(hosts)" -gt 1 ]]; then
      echo "${TPU_NAME} has several hosts: set BUCKET (and run setup) for a shared workdir" >&2
      exit 1
    fi
    # Both jobs run on every host, in step; the finetune job starts from the pretrained encoder.
    main="cd ~/repair_rank && .venv/bin/python -m repair_rank.main"
    on_all_hosts "set -euo pipefail
      ${main} --config configs/pretrain.py:full --workdir ${WORKDIR}/pretrain \
          --config.distributed=True ${PRETRAIN_FLAGS}
      ${main} --config configs/finetune.py:full --workdir ${WORKDIR}/finetune \
          --config.distributed=True --config.pretrained_checkpoint=${WORKDIR}/pretrain \
          ${FINETUNE_FLAGS}"
    echo "done: ${WORKDIR}/finetune/scorer_bundle on host 0 (launch/tpu_vm.sh ssh)"
    ;;
  ssh)
    gcloud compute tpus tpu-vm ssh "${TPU_NAME}" "${GCLOUD_FLAGS[@]}" --worker=0
    ;;
  delete)
    gcloud compute tpus tpu-vm delete "${TPU_NAME}" "${GCLOUD_FLAGS[@]}" --quiet
    ;;
  *)
    awk 'NR > 1 && !/^#/ {exit} NR > 1 {print}' "$0" >&2
    exit 2
    ;;
esac
