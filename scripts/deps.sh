#!/usr/bin/env bash
# Installs the Debian packages Grove needs, only those missing (idempotent). Sourced by the
# quickstart and test scripts: `install_packages build` or `install_packages build test` (or `windows`).
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost-dev libboost-system-dev libssl-dev
  liblua5.4-dev libsqlite3-dev libzstd-dev zlib1g-dev libsodium-dev libcurl4-openssl-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libhowardhinnant-date-dev tzdata
  libexpat1-dev
  librabbitmq-dev
  libpq-dev
  libjemalloc-dev
)
# The unit tests and benchmarks (GROVE_TESTS, GROVE_BENCH), and what the integration tests run.
TEST_PACKAGES=(libgtest-dev libgmock-dev libbenchmark-dev python3 procps curl openssl rabbitmq-server python3-pika postgresql python3-aiosmtpd ngircd
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
  # One dpkg-query for all (one per package took seconds on a loaded machine).
  local installed
  installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${wanted[@]}" 2>/dev/null |
    awk '$NF == "installed" && $(NF-1) == "ok" { print $1 }')" || true
  for p in "${wanted[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "grove: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Configures a build directory $1 (Release unless $2 says otherwise; extra CMake flags after).
configure_grove() {
  local dir="$1" type="${2:-Release}"
  shift 2 || shift $#
  cmake -S "$GROVE_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
}

# Builds the targets named after the build directory $1 (all when none is named).
build_targets() {
  local dir="$1"
  shift
  # ccache keys on paths relative to the tree, so a fresh clone reuses what an earlier one built.
  CCACHE_BASEDIR="$GROVE_ROOT" CCACHE_NOHASHDIR=1 ninja -C "$dir" -j "$(nproc)" "$@"
}

# Configures and builds everything into $1 (Release unless $2 says otherwise; extra CMake flags
# after).
build_grove() {
  configure_grove "$@"
  build_targets "$1"
}
