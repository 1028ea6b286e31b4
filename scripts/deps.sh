#!/usr/bin/env bash
# Install the Debian packages vaultplug needs to build and test. Idempotent; needs root (or
# prints the command to run) only when something is missing.
set -euo pipefail

PKGS=(
    build-essential cmake ninja-build pkg-config git
    clang libclang-rt-14-dev clang-format
    libcurl4-openssl-dev libjson-c-dev libsodium-dev libssl-dev libyaml-dev
    libmicrohttpd-dev libcmocka-dev
    openssl binutils file tmux procps
    groff-base jq   # the docs test renders the man pages and runs the jq examples
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: missing packages; run as root: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
