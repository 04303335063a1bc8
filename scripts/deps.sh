#!/usr/bin/env bash
# Installs the Debian packages Grove needs, only those missing (idempotent). Sourced by the
# quickstart and test scripts: `install_packages build` or `install_packages build test` (or `windows`).
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost-dev libboost-system-dev libssl-dev
  liblua5.4-dev libsqlite3-dev libzstd-dev zlib1g-dev libsodium-dev libcurl4-openssl-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libhowardhinnant-date-dev tzdata
  libgtest-dev libgmock-dev libbenchmark-dev
  libexpat1-dev
  librabbitmq-dev
  libpq-dev
)
TEST_PACKAGES=(python3 procps curl openssl rabbitmq-server python3-pika postgresql python3-aiosmtpd ngircd
  python3-prometheus-client)
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)  # libFuzzer (scripts/fuzz.sh)
# The Windows worker: cross-built with mingw-w64 (scripts/build-windows.sh), tested under Wine.
WINDOWS_PACKAGES=(g++-mingw-w64-x86-64-posix wine64 zip)

install_packages() {
  local wanted=() missing=()
  for group in "$@"; do
    case "$group" in
      build) wanted+=("${BUILD_PACKAGES[@]}") ;;
      test) wanted+=("${TEST_PACKAGES[@]}") ;;
      windows) wanted+=("${WINDOWS_PACKAGES[@]}") ;;
      fuzz) wanted+=("${FUZZ_PACKAGES[@]}") ;;
    esac
  done
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "grove: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Configures and builds into $1 (Release unless $2 says otherwise; extra CMake flags after).
# GROVE_TARGETS, when set, names the only targets to build (the quick start needs only grove).
build_grove() {
  local dir="$1" type="${2:-Release}"
  shift 2 || shift $#
  # ccache keys on paths relative to the tree, so a fresh clone reuses what an earlier one built.
  export CCACHE_BASEDIR="$GROVE_ROOT" CCACHE_NOHASHDIR=1
  cmake -S "$GROVE_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  # shellcheck disable=SC2086  # a list of target names
  ninja -C "$dir" -j "$(nproc)" ${GROVE_TARGETS:-}
}
