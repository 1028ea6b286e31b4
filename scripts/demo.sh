#!/usr/bin/env bash
# The main job: install dependencies, build (dev preset) and show what vaultplug can do with a
# fresh build. Today: list the providers found in the build tree and fetch a value through the
# example `echo` provider. (The full demo - local vault + mock cloud render - grows with the
# template, vault and provider issues.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev -j "${VP_JOBS:-$(nproc)}" >/dev/null
vp=build/dev/cli/vaultplug
echo "\$ vaultplug --version"
"$vp" --version
echo
echo "\$ vaultplug providers"
"$vp" providers
