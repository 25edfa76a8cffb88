#!/usr/bin/env bash
# Installs the Debian 12 packages Colony needs to build, run and test. Idempotent: does
# nothing (and needs no network) when everything is already installed.
#   scripts/install-deps.sh          # build + run
#   scripts/install-deps.sh --test   # also what the test suite uses
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libcaf-dev libboost-dev libboost-program-options-dev libboost-system-dev
  libssl-dev nlohmann-json3-dev prometheus-cpp-dev libgtest-dev librocksdb-dev
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(
    clang libclang-rt-dev
    mosquitto mosquitto-clients
    python3 python3-pytest python3-paho-mqtt python3-yaml
    openssl curl
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
