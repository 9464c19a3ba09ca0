#!/usr/bin/env bash
# Installs what is missing, builds Graft into build/ and opens it.
#   ./run.sh              the Graft window
#   ./run.sh --headless   the same engine through graft-cli: devices, the model catalog,
#                         the demo task's data and a GEMM benchmark
set -euo pipefail
cd "$(dirname "$0")"
source .ci/packages.sh

headless=false
if [ "${1:-}" = "--headless" ]; then
  headless=true
  shift
fi

packages=("${GRAFT_PACKAGES_ENGINE[@]}")
[ "$headless" = false ] && packages+=("${GRAFT_PACKAGES_GUI[@]}")
graft_ensure_packages "${packages[@]}"

build=${GRAFT_BUILD_DIR:-build}
gui=true
[ "$headless" = true ] && [ ! -f "$build/build.ninja" ] && gui=false
if [ -f "$build/build.ninja" ]; then
  [ "$headless" = false ] && meson configure "$build" -Dgui=true >/dev/null
else
  meson setup "$build" -Dgui="$gui"
fi
ninja -C "$build"

if [ "$headless" = true ]; then
  cli="$build/app/cli/graft-cli"
  "$cli" devices
  echo
  "$cli" models graft-fmnist-resnet10
  "$cli" models check graft-fmnist-resnet10 --classes 5 --channels 1 --size 28
  echo
  "$cli" demo-dataset "$build/demo" --per-class 20
  echo
  exec "$cli" bench gemm --sizes=256,512 --seconds=0.3 "$@"
fi

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: run Graft from a desktop session, under xvfb-run, or use ./run.sh --headless" >&2
  exit 1
fi
export GSETTINGS_SCHEMA_DIR="$PWD/$build/data"
export GRAFT_UNINSTALLED=1
# Without a session bus (a bare X server) the accessibility bridge can only complain.
[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && export GTK_A11Y=none
exec "$build/app/graft" "$@"
