#!/usr/bin/env bash
# Train with GPUS processes per node:
#   tools/dist_train.sh CONFIG GPUS [train.py options]
# Several nodes: run it on each node with the same MASTER_ADDR and PORT,
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py options]" >&2
    exit 2
fi
exec "$(dirname "$0")/torchrun.sh" "$2" train.py "$1" "${@:3}"
