#!/usr/bin/env bash
# Installs what is missing, builds Graft into build/ and runs every test.
#   ./test.sh                   everything (UI tests under Xvfb, Vulkan on lavapipe)
#   ./test.sh --engine-only     the engine, graft-cli and their tests, built without GTK
#   ./test.sh --sanitize        the data and fuzz suites built with clang, AddressSanitizer,
#                               UndefinedBehaviorSanitizer and libFuzzer (build-sanitize/)
#   ./test.sh -- ARGS…          extra arguments for meson test (e.g. --suite compute)
set -euo pipefail
cd "$(dirname "$0")"
source .ci/packages.sh

gui=true
sanitize=false
meson_test_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --engine-only) gui=false ;;
    --sanitize) gui=false; sanitize=true ;;
    --) shift; meson_test_args=("$@"); break ;;
    *) echo "usage: ./test.sh [--engine-only | --sanitize] [-- MESON-TEST-ARGS…]" >&2; exit 2 ;;
  esac
  shift
done

# The sanitizer stage: only the suites that read untrusted files (data, fuzz), and only
# what they need built (meson test builds the dependencies of the tests it runs). Every
# report is fatal: a memory error, a leak, undefined behaviour.
if [ "$sanitize" = true ]; then
  graft_ensure_packages "${GRAFT_PACKAGES_ENGINE[@]}" "${GRAFT_PACKAGES_FUZZ[@]}"
  build=${GRAFT_BUILD_DIR:-build-sanitize}
  options=(-Dgui=false -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false)
  if [ -f "$build/build.ninja" ]; then
    meson configure "$build" "${options[@]}" >/dev/null
  else
    CC=clang meson setup "$build" "${options[@]}"
  fi
  rm -f "$build/meson-logs/testlog.json"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
  exec meson test -C "$build" --print-errorlogs --num-processes 1 \
    --suite data --suite fuzz "${meson_test_args[@]}"
fi

packages=("${GRAFT_PACKAGES_ENGINE[@]}" "${GRAFT_PACKAGES_TEST[@]}")
[ "$gui" = true ] && packages+=("${GRAFT_PACKAGES_GUI[@]}")
graft_ensure_packages "${packages[@]}"

build=${GRAFT_BUILD_DIR:-build}
[ "$gui" = false ] && build=${GRAFT_BUILD_DIR:-build-engine}
if [ -f "$build/build.ninja" ]; then
  meson configure "$build" -Dgui="$gui" >/dev/null
else
  meson setup "$build" -Dgui="$gui"
fi
rm -f "$build/meson-logs/testlog.json"
ninja -C "$build"

# lavapipe runs compute shaders on the CPU cores; the tests demand it, a display and PyTorch.
export LP_NUM_THREADS="${LP_NUM_THREADS:-$(nproc)}"
export GRAFT_TEST_REQUIRE_VULKAN=1
# The reference suite holds Graft against PyTorch (Debian's python3-torch).
export GRAFT_TEST_REQUIRE_TORCH=1
export GRAFT_TEST_REQUIRE_DISPLAY="$gui"
exec xvfb-run -a -s "-screen 0 1600x1000x24" \
  meson test -C "$build" --print-errorlogs --num-processes 1 "${meson_test_args[@]}"
