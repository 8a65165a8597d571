#!/usr/bin/env bash
# Run a tool under srun with one task per GPU; the slurm_*.sh scripts call
# it. mmengine reads the rank and world size from Slurm's variables and
# MASTER_PORT (default 29500).
#   tools/slurm_run.sh PARTITION JOB_NAME TOOL.py [tool arguments]
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
TOOL=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
# SRUN_ARGS is a list of options: split on purpose
# shellcheck disable=SC2086
PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" \
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    python -u "$HERE/$TOOL" "${@:4}" --launcher slurm
