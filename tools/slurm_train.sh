#!/usr/bin/env bash
# Train on a Slurm cluster, one task per GPU:
#   [GPUS=16] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options]
# GPUS in all (default 8), spread over nodes of GPUS_PER_NODE.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [train.py options]" >&2
    exit 2
fi
exec "$(dirname "$0")/slurm_run.sh" "$1" "$2" train.py "$3" "${@:4}"
