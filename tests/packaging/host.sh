#!/bin/sh
# packaging_host: examples/host built out of tree against the staged installation (CMake
# find_package and the Makefile's pkg-config route) and run on the installed library with the
# staged echo provider: masked preview, real render, cache counters, log callback, no secret in
# the log, temporary vault removed.
. "$(dirname "$0")/common.sh"
work=$PKG_WORK/host
rm -rf "$work"
mkdir -p "$work/tmp"
chmod 755 "$work"
src=$PKG_SRC/examples/host

step "CMake route: find_package(vaultplug 1 CONFIG)"
"$PKG_CMAKE" -S "$src" -B "$work/cmake" -G "$PKG_GENERATOR" -DCMAKE_C_COMPILER="$PKG_CC" \
    -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-Werror $san_cflags" -DCMAKE_EXE_LINKER_FLAGS="$san_cflags" \
    >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "configure examples/host"; }
"$PKG_CMAKE" --build "$work/cmake" >>"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log"; fail "build examples/host"; }

step "Makefile route: pkg-config vaultplug"
mkdir -p "$work/make"
# shellcheck disable=SC2086
PKG_CONFIG_PATH=$pcpath make -s -C "$work/make" -f "$src/Makefile" VPATH="$src" \
    PKG_CONFIG="pkg-config" CC="$PKG_CC" \
    CFLAGS="-O2 -Wall -Wextra -Werror $san_cflags" LDFLAGS="$san_cflags" >"$work/make.log" 2>&1 ||
    { cat "$work/make.log"; fail "make examples/host"; }

# A canary stands in for the API token: it must reach the rendered request and nothing else.
canary="hostcanary-$$-Zq8v"
for b in cmake/vaultplug-host-example make/vaultplug-host-example; do
    step "run $b"
    uses_stage_lib "$work/$b" LD_LIBRARY_PATH="$libdir" || fail "$b does not use the installed library"
    out=$work/$(dirname "$b").out
    err=$work/$(dirname "$b").err
    HOST_EXAMPLE_TOKEN=$canary TMPDIR=$work/tmp LD_LIBRARY_PATH=$libdir "$work/$b" \
        --plugin-dir "$provdir" --log-level trace "$src/request.tmpl" >"$out" 2>"$err" ||
        { cat "$out" "$err"; fail "$b exited with $?"; }
    preview=$(sed -n '/^--- preview/,/^--- rendered/p' "$out")
    rendered=$(sed -n '/^--- rendered/,/^--- cache/p' "$out")
    mask=$(printf '\342\200\242\342\200\242\342\200\242\342\200\242\342\200\242\342\200\242')
    echo "$preview" | grep -qF "Authorization: Bearer $mask" || { cat "$out"; fail "preview not masked"; }
    echo "$preview" | grep -qF "X-Db-Password: $mask" || { cat "$out"; fail "preview shows echo value"; }
    echo "$preview" | grep -q "$canary" && fail "the preview shows the vault secret"
    echo "$preview" | grep -q "echo:db/main" && fail "the preview shows the provider's secret"
    echo "$rendered" | grep -qF "Authorization: Bearer $canary" || { cat "$out"; fail "vault secret not rendered"; }
    echo "$rendered" | grep -qF "X-Db-Password: echo:db/main" || { cat "$out"; fail "echo reference not rendered"; }
    echo "$rendered" | grep -qF '"db_password": "echo:json/db"' || { cat "$out"; fail "echo #json-key not rendered"; }
    echo "$rendered" | grep -qF "Host: api.example.com" || { cat "$out"; fail "environment not rendered"; }
    # Two real renders of the same template: the second is served from the cache.
    stats=$(grep -E '^hits [0-9]+, misses [0-9]+, fetches [0-9]+' "$out") || { cat "$out"; fail "no cache counters"; }
    hits=$(echo "$stats" | sed 's/^hits \([0-9]*\),.*/\1/')
    fetches=$(echo "$stats" | sed 's/.*fetches \([0-9]*\),.*/\1/')
    { [ "$hits" -ge 1 ] && [ "$fetches" -ge 1 ]; } || fail "cache counters: $stats"
    # The log callback saw the provider at work, and never the secret.
    grep -q "$canary" "$err" && fail "the secret appears in a log line"
    grep -q '^\[debug\] echo: ' "$err" || { cat "$err"; fail "no provider log line reached the callback"; }
    lines=$(sed -n 's/^log lines: //p' "$out")
    [ "$lines" -eq "$(grep -c '^\[' "$err")" ] || fail "log line count $lines does not match stderr"
    [ -z "$(ls -A "$work/tmp")" ] || fail "the temporary vault was left behind: $(ls -A "$work/tmp")"
done
echo "ok"
