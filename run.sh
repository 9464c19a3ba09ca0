#!/usr/bin/env bash
# Installs what is missing, builds Graft into build/ and opens it.
#   ./run.sh              the Graft window
#   ./run.sh --headless   the same workflow through graft-cli: devices, the model catalog,
#                         the demo task's images imported into a project, trained from
#                         scratch, head only and fine-tuned whole with the metrics of
#                         each, the runs listed, and each transfer run compared with the
#                         one from scratch
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
  project="$build/demo-project"
  "$cli" import "$build/demo" --project "$project"
  echo
  # The demo recipe (tests/bench/transfer.py): 28-pixel images shown whole, one-cycle SGD,
  # 30 epochs, each start at the learning rate that suits it.
  recipe=(--model graft-fmnist-resnet10 --epochs 30 --batch-size 25 --augment none)
  for start in "--scratch --lr 0.01" "--unfreeze head --lr 0.1" "--unfreeze all --lr 0.05"; do
    # shellcheck disable=SC2086
    "$cli" train "$project" $start "${recipe[@]}" "$@"
    echo
  done
  "$cli" runs "$project"
  runs=$("$cli" runs "$project" --json |
         python3 -c 'import json, sys; print(" ".join(r["id"] for r in json.load(sys.stdin)["runs"][-3:]))')
  read -r scratch_run head_run all_run <<<"$runs"
  echo
  "$cli" compare "$project" "$scratch_run" "$head_run"
  echo
  exec "$cli" compare "$project" "$scratch_run" "$all_run"
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
