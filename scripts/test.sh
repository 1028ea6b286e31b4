#!/usr/bin/env bash
# The one command that builds vaultplug and runs every test:
#   1. installs missing Debian packages (scripts/deps.sh),
#   2. checks formatting (clang-format) of every C file,
#   3. configures, builds and runs ctest for the presets dev, asan (address+undefined) and
#      tsan (thread),
#   4. builds the libFuzzer targets (fuzz preset, clang) and runs each for a short smoke run.
# Any failure stops the run with a non-zero exit status.
#
# Environment: VP_PRESETS="dev asan tsan" selects presets; VP_FUZZ_SECONDS (default 20) sets
# the fuzz smoke time per target; VP_JOBS the build parallelism (default: number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

jobs=${VP_JOBS:-$(nproc)}
presets=${VP_PRESETS:-"dev asan tsan"}
fuzz_seconds=${VP_FUZZ_SECONDS:-20}

echo "== format check"
mapfile -t cfiles < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
if [ ${#cfiles[@]} -gt 0 ]; then
    clang-format --dry-run --Werror "${cfiles[@]}"
fi

for preset in $presets; do
    echo "== preset $preset: configure + build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j "$jobs"
    echo "== preset $preset: ctest"
    ctest --preset "$preset" -j "$jobs"
done

if command -v clang >/dev/null 2>&1 && [ "$fuzz_seconds" -gt 0 ]; then
    echo "== fuzz smoke (${fuzz_seconds}s per target)"
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz -j "$jobs"
    for bin in build/fuzz/fuzz/fuzz_*; do
        [ -x "$bin" ] || continue
        name=$(basename "$bin")
        corpus=$(mktemp -d)
        [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
        # templates that nest or chain up to the engine's limits take a few KB (libFuzzer's
        # default max_len is 4096, or the largest seed)
        maxlen=
        [ "$name" = fuzz_template ] && maxlen=-max_len=16384
        echo "-- $name"
        "$bin" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 $maxlen "$corpus" \
            >"build/fuzz/$name.log" 2>&1 || { tail -50 "build/fuzz/$name.log"; exit 1; }
        tail -1 "build/fuzz/$name.log"
        rm -rf "$corpus"
    done
else
    echo "== fuzz smoke skipped (clang not found)"
fi
echo "== all tests passed"
