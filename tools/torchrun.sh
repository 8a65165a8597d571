#!/usr/bin/env bash
# Run a tool on NPROC processes per node with torchrun; the dist_*.sh
# scripts call it. NNODES, NODE_RANK, MASTER_ADDR and PORT select the node
# of a multi-node job (defaults: one node, 127.0.0.1:29500).
#   tools/torchrun.sh NPROC TOOL.py [tool arguments]
set -euo pipefail
NPROC=$1
TOOL=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" \
exec python -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$HERE/$TOOL" "${@:3}" --launcher pytorch
