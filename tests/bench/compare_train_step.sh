#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Graft's training step beside PyTorch's, in one run, with the same thread count:
#   tests/bench/compare_train_step.sh [GRAFT_CLI] [--model resnet18] [--batch 32]
#       [--size 224] [--seconds 10] [--device cpu|vulkan|…] [--torch-device cpu|cuda]
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for both sides: they slow OpenBLAS,
# which both use on the CPU.
set -eu
here=$(dirname "$0")
cli=${GRAFT_CLI:-build/app/cli/graft-cli}
case "${1:-}" in --*|"") ;; *) cli=$1; shift ;; esac
model=resnet18 batch=32 size=224 seconds=10 device=cpu torch_device=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --torch-device) torch_device=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
python=${GRAFT_BENCH_PYTHON:-/usr/bin/python3}
threads=$(nproc)
echo "== $model, batch $batch, ${size}×${size}, $threads threads =="
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$cli" bench train-step --model "$model" \
    --batch "$batch" --size "$size" --seconds "$seconds" --device "$device"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" "$here/train_step.py" --model "$model" \
    --batch "$batch" --size "$size" --seconds "$seconds" --device "$torch_device" --threads "$threads"
