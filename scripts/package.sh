#!/bin/sh
# package.sh: build the Debian packages of vaultplug into build/packages/:
#   libvaultplug, libvaultplug-dev (headers, pkg-config, CMake packages, provider SDK, testkit),
#   vaultplug (the command, man pages, bash completion) and vaultplug-provider-<name> for each
#   provider built (WITH_AWS=OFF etc. leave one out).
# Usage: scripts/package.sh [extra cmake -D options...]
# Environment: BUILD_DIR (default build/package), OUT_DIR (default build/packages),
#              PREFIX (default /usr: the installed library looks for providers under it).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build/package}
out=${OUT_DIR:-$src/build/packages}
prefix=${PREFIX:-/usr}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

gen=
if command -v ninja >/dev/null 2>&1; then
    gen="-G Ninja"
fi
# shellcheck disable=SC2086
cmake -S "$src" -B "$build" $gen -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_TESTING=OFF -DVP_BUILD_BENCH=OFF \
    -DVP_BUILD_TESTKIT=ON -DVP_SANITIZE= "$@"
cmake --build "$build" -j "$jobs"
mkdir -p "$out"
rm -f "$out"/*.deb
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out"
rm -rf "$out/_CPack_Packages"
for f in "$out"/*.deb; do
    printf '%s\n' "$f"
    dpkg-deb -f "$f" Depends | sed 's/^/    Depends: /'
done
