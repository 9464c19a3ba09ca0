#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Graft's training step beside PyTorch's, in one run, with the same thread count:
#   tests/bench/compare_train_step.sh [GRAFT_CLI] [--model resnet18] [--batch 32]
#       [--size 224] [--seconds 10] [--rounds 3] [--device cpu|vulkan|…]
#       [--torch-device cpu|cuda]
# The two sides take turns, --rounds times each (--seconds per turn), so that a machine
# whose speed drifts from minute to minute (a shared VM) slows both alike; the last line
# gives each side's median and their ratio.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for both sides: they slow OpenBLAS,
# which both use on the CPU.
set -eu
here=$(dirname "$0")
cli=${GRAFT_CLI:-build/app/cli/graft-cli}
case "${1:-}" in --*|"") ;; *) cli=$1; shift ;; esac
model=resnet18 batch=32 size=224 seconds=10 rounds=3 device=cpu torch_device=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --torch-device) torch_device=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
python=${GRAFT_BENCH_PYTHON:-/usr/bin/python3}
threads=$(nproc)
echo "== $model, batch $batch, ${size}×${size}, $threads threads, $rounds rounds =="

# the last "N images/s" of a side's output
rate () { grep -o '[0-9.]* images/s' | tail -n 1 | cut -d ' ' -f 1; }
median () { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

graft_rates="" torch_rates=""
round=1
while [ "$round" -le "$rounds" ]; do
  out=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$cli" bench train-step --model "$model" \
          --batch "$batch" --size "$size" --seconds "$seconds" --device "$device")
  [ "$round" -eq 1 ] && printf '%s\n' "$out" | head -n -1
  printf 'round %s  Graft:   %s\n' "$round" "$(printf '%s\n' "$out" | tail -n 1)"
  graft_rates="$graft_rates $(printf '%s\n' "$out" | rate)"
  out=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" "$here/train_step.py" --model "$model" \
          --batch "$batch" --size "$size" --seconds "$seconds" --device "$torch_device" \
          --threads "$threads")
  printf 'round %s  %s\n' "$round" "$out"
  torch_rates="$torch_rates $(printf '%s\n' "$out" | rate)"
  round=$((round + 1))
done

g=$(echo "$graft_rates" | median)
t=$(echo "$torch_rates" | median)
echo "median images/s: Graft $g, PyTorch $t, ratio $(awk -v g="$g" -v t="$t" 'BEGIN { printf "%.2f", g / t }')"
