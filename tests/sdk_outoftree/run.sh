#!/bin/sh
# run.sh CMAKE BUILD_DIR SOURCE_DIR WORK_DIR VAULTPLUG GENERATOR CC
# Installs the SDK component of BUILD_DIR into WORK_DIR/stage, builds sdk/examples/echo from
# SOURCE_DIR as a standalone project against it, and checks that the vaultplug command loads the
# module. Then does the same with plain `cc` and pkg-config flags.
set -eu
cmake=$1 build=$2 src=$3 work=$4 vp=$5 gen=$6 cc=$7
stage=$work/stage
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"

step() { echo "== $*"; }
fail() { echo "FAIL: $*"; exit 1; }

step "install the sdk component into $stage"
"$cmake" --install "$build" --prefix "$stage" --component sdk
[ -f "$stage/include/vaultplug/provider.h" ] || fail "provider.h not installed"
[ -f "$stage/include/vaultplug/status.h" ] || fail "status.h not installed"
# The SDK is header-only: nothing of the host library may be in it.
if find "$stage" -name 'libvaultplug*' | grep -q .; then
    fail "the sdk component installs the host library"
fi
cfg=$(find "$stage" -name vaultplug-sdkConfig.cmake | head -n 1)
[ -n "$cfg" ] || fail "vaultplug-sdkConfig.cmake not installed"

step "configure and build echo out of tree"
"$cmake" -S "$src/sdk/examples/echo" -B "$work/echo-build" -G "$gen" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_BUILD_TYPE=Release
"$cmake" --build "$work/echo-build"
so=$work/echo-build/providers/echo.so
[ -f "$so" ] || fail "no $so"
chmod 755 "$work/echo-build" "$work/echo-build/providers"

step "load it with vaultplug providers --plugin-dir"
"$vp" providers --plugin-dir "$work/echo-build/providers" | tee "$work/providers.txt"
grep -Eq '^echo +loaded' "$work/providers.txt" || fail "echo not loaded"
# --plugin-dir comes first in the search path, so this is the out-of-tree module.
"$vp" providers --json --plugin-dir "$work/echo-build/providers" >"$work/providers.json"
grep -q "\"path\": \"$so\"" "$work/providers.json" || fail "the out-of-tree module was not the one loaded"
# vaultplug_add_provider gives third-party modules full RELRO too (bound at load, GOT read-only).
if command -v readelf >/dev/null 2>&1; then
    readelf -d "$so" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' || fail "$so: no BIND_NOW"
    readelf -lW "$so" | grep -q GNU_RELRO || fail "$so: no GNU_RELRO"
fi

step "pkg-config route"
pcdir=$(dirname "$(find "$stage" -name vaultplug-sdk.pc | head -n 1)")
[ -d "$pcdir" ] || fail "vaultplug-sdk.pc not installed"
# --define-prefix: the .pc names the prefix it was configured for; the stage is elsewhere.
cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --define-prefix --cflags vaultplug-sdk) ||
    fail "pkg-config --cflags vaultplug-sdk failed"
echo "cflags: $cflags"
echo "$cflags" | grep -q -- "-I$stage/include" || fail "cflags do not point into the stage"
PKG_CONFIG_PATH=$pcdir pkg-config --exists 'vaultplug-sdk >= 0.1' || fail "version check"
mkdir -m 755 "$work/pc-build"
map=$(dirname "$cfg")/provider.map
# shellcheck disable=SC2086
"$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $cflags -shared \
    -o "$work/pc-build/echo.so" "$src/sdk/examples/echo/echo.c" \
    -Wl,--version-script="$map" -Wl,--no-undefined
"$vp" providers --plugin-dir "$work/pc-build" >"$work/pc.txt"
grep -Eq '^echo +loaded' "$work/pc.txt" || { cat "$work/pc.txt"; fail "pkg-config-built echo not loaded"; }
echo "ok"
