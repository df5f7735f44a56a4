#!/usr/bin/env bash
# Installs what cachet's build, tests and benches need on Debian bookworm, and nothing that is
# already there: the README's commands call it, so a fresh machine needs no manual step.
set -euo pipefail

packages=(cmake ninja-build g++ clang libclang-rt-14-dev libgtest-dev libbenchmark-dev
          libboost1.81-dev libboost-json1.81-dev redis-server redis-tools python3
          libssl-dev openssl prometheus-cpp-dev libhiredis-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "cachet: missing packages: ${missing[*]}; run this script as root or install them" >&2
  exit 1
fi
echo "cachet: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
