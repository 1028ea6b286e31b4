#!/bin/sh
# packaging_sdk: a third party builds the echo provider against the staged installation, with
# CMake and with pkg-config, and the installed CLI (on the installed library) loads it. Also
# checks find_package(vaultplug) version compatibility: 1 is found, 2 is refused.
. "$(dirname "$0")/common.sh"
work=$PKG_WORK/sdk
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"

step "echo out of tree: find_package(vaultplug-sdk 1)"
"$PKG_CMAKE" -S "$PKG_SRC/sdk/examples/echo" -B "$work/echo-cmake" -G "$PKG_GENERATOR" \
    -DCMAKE_C_COMPILER="$PKG_CC" -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS=-Werror >"$work/echo-cmake.log" 2>&1 ||
    { cat "$work/echo-cmake.log"; fail "configure echo"; }
"$PKG_CMAKE" --build "$work/echo-cmake" >>"$work/echo-cmake.log" 2>&1 ||
    { cat "$work/echo-cmake.log"; fail "build echo"; }
need "$work/echo-cmake/providers/echo.so"
# `cmake --install` of a provider targets the provider directory of the SDK's installation.
DESTDIR=$work/dest "$PKG_CMAKE" --install "$work/echo-cmake" >/dev/null
need "$work/dest$provdir/echo.so" "provider not installed into the SDK's provider directory:"
chmod -R go-w "$work"

step "echo out of tree: pkg-config vaultplug-sdk"
mkdir -m 755 "$work/echo-pc"
# shellcheck disable=SC2046
"$PKG_CC" -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror \
    $(pc --cflags vaultplug-sdk) -shared -o "$work/echo-pc/echo.so" \
    "$PKG_SRC/sdk/examples/echo/echo.c" \
    -Wl,--version-script="$libdir/cmake/vaultplug-sdk/provider.map" -Wl,--no-undefined
# The version script leaves exactly one function visible.
[ "$(nm -D --defined-only "$work/echo-pc/echo.so" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}')" = \
    vaultplug_provider_entry ] || fail "the pkg-config build exports more than the entry point"

for d in echo-cmake/providers echo-pc; do
    step "the installed CLI loads $d/echo.so"
    vp_installed providers --json --plugin-dir "$work/$d" >"$work/p.json" ||
        { cat "$work/p.json"; fail "vaultplug providers"; }
    grep -q "\"path\": \"$work/$d/echo.so\"" "$work/p.json" ||
        { cat "$work/p.json"; fail "$d/echo.so was not the echo loaded"; }
    vp_installed providers --plugin-dir "$work/$d" | grep -Eq '^echo +loaded' ||
        fail "$d/echo.so not loaded"
done

step "find_package(vaultplug 1 CONFIG) brings both targets; 2 is refused"
mkdir -p "$work/probe"
cat >"$work/probe/CMakeLists.txt" <<'CMK'
cmake_minimum_required(VERSION 3.20)
project(probe LANGUAGES C)
find_package(vaultplug ${WANT} CONFIG REQUIRED)
foreach(t vaultplug::vaultplug vaultplug::sdk)
    if(NOT TARGET ${t})
        message(FATAL_ERROR "no target ${t}")
    endif()
endforeach()
if(NOT COMMAND vaultplug_add_provider)
    message(FATAL_ERROR "vaultplug_add_provider() missing")
endif()
message(STATUS "probe: vaultplug ${vaultplug_VERSION} providers in ${VAULTPLUG_PROVIDER_DIR}")
CMK
"$PKG_CMAKE" -S "$work/probe" -B "$work/probe-1" -G "$PKG_GENERATOR" -DWANT=1 \
    -DCMAKE_PREFIX_PATH="$stage" >"$work/probe-1.log" 2>&1 ||
    { cat "$work/probe-1.log"; fail "find_package(vaultplug 1)"; }
grep -q "probe: vaultplug $PKG_VERSION providers in $provdir" "$work/probe-1.log" ||
    { cat "$work/probe-1.log"; fail "version or provider dir"; }
# SameMajorVersion: neither the next major nor an older one (AnyNewerVersion would take it).
for want in $((PKG_SOVERSION + 1)) $((PKG_SOVERSION - 1)); do
    if "$PKG_CMAKE" -S "$work/probe" -B "$work/probe-$want" -G "$PKG_GENERATOR" -DWANT=$want \
        -DCMAKE_PREFIX_PATH="$stage" >"$work/probe-$want.log" 2>&1; then
        fail "find_package(vaultplug $want) accepted version $PKG_VERSION"
    fi
    grep -q "but it set\|not compatible\|Could not find a configuration file" "$work/probe-$want.log" ||
        { cat "$work/probe-$want.log"; fail "find_package(vaultplug $want) failed for another reason"; }
done
echo "ok"
