# shellcheck shell=bash
# Sourced by run.sh and test.sh: installs the Debian packages Graft needs, only those
# that are missing, so a second run costs a few dpkg queries.

GRAFT_PACKAGES_ENGINE=(
  meson ninja-build pkg-config gcc libc6-dev python3
  glslc libvulkan-dev libvulkan1 mesa-vulkan-drivers
  libglib2.0-dev libglib2.0-bin libjson-c-dev libopenblas-dev
  libsoup-3.0-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev dataset-fashion-mnist
)
GRAFT_PACKAGES_GUI=(
  libgtk-4-dev libadwaita-1-dev adwaita-icon-theme librsvg2-common
  desktop-file-utils appstream gettext
)
# ./test.sh --sanitize: clang, its sanitizer and libFuzzer runtimes (libclang-rt-14-dev,
# which clang does not pull in), and llvm-symbolizer for readable stack traces.
GRAFT_PACKAGES_FUZZ=(
  clang libclang-rt-14-dev llvm
)
GRAFT_PACKAGES_TEST=(
  xvfb xauth
  python3-torch python3-torchvision python3-sklearn
)

graft_missing_packages () {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' \
      || printf '%s\n' "$pkg"
  done
}

graft_ensure_packages () {
  local missing sudo=()
  mapfile -t missing < <(graft_missing_packages "$@")
  [ "${#missing[@]}" -eq 0 ] && return 0

  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "Graft needs these packages: ${missing[*]}" >&2
      echo "Install them as root (apt-get install ${missing[*]}) and run this again." >&2
      return 1
    fi
    sudo=(sudo)
  fi

  echo "Installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}
