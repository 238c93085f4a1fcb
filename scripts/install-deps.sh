#!/bin/sh
# Installs everything mlb needs to build, test and run its demo, from Debian 12's packages.
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  ca-certificates cmake ninja-build g++ clang clang-format libclang-rt-14-dev python3 openssl curl \
  nlohmann-json3-dev libkainjow-mustache-dev libsimdjson-dev libssl-dev \
  libgtest-dev libgmock-dev haproxy \
  libcpprest-dev libboost-dev libboost-filesystem-dev prometheus-cpp-dev libcivetweb-dev \
  podman runc debootstrap prometheus >/dev/null
# The Helm chart test validates manifests with Node.js (kubernetes-models from npm).
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
fi
