#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs one libFuzzer target for a bounded time on a scratch copy of its seed corpus (the
# fuzzer adds what it finds to that copy, never to the source tree):
#   run-fuzzer.sh FUZZER SEED-CORPUS SCRATCH SECONDS
# GRAFT_FUZZ_SECONDS, if set, replaces SECONDS. A crash, a sanitizer report, a leak, an
# input slower than 10 s, a single allocation above 128 MiB (a size taken on trust from
# the input) or a process above 2 GiB fails the run; the input that did it is left in
# SCRATCH/artifacts/, and `FUZZER FILE` runs it again. Every such failure exits 1:
# libFuzzer's own codes (77 for a crash) would read as a skip to meson.
set -eu
fuzzer=$1
seeds=$2
scratch=$3
seconds=${GRAFT_FUZZ_SECONDS:-$4}

rm -rf "$scratch"
mkdir -p "$scratch/corpus" "$scratch/artifacts"
cp "$seeds"/* "$scratch/corpus/"
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=128 -timeout=10 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$scratch/artifacts/" "$scratch/corpus"
