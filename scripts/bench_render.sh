#!/usr/bin/env bash
# Template rendering: vaultplug (bench/bench_render) against Nunjucks under Node
# (bench/nunjucks_render.js), same four templates and values, same run; prints both programs'
# figures and the ratios per template and mode. Issue 3's goals: parse+render >= 50x Nunjucks'
# renderString, render of a parsed template >= 5x Nunjucks' compiled Template.render.
# Figures only: this never fails on time.
#
#   scripts/bench_render.sh [seconds-per-measurement]      (default 1)
#
# Builds bench_render with the dev preset (build/dev), or in an existing build directory given
# as VP_BENCH_BUILD_DIR. Installs bench/'s npm dependencies (npm ci) if they are missing; the
# Node script falls back on tests/template's copy of the same Nunjucks version.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-1}
jobs=${VP_JOBS:-$(nproc)}

if [ -n "${VP_BENCH_BUILD_DIR:-}" ]; then
    build=$VP_BENCH_BUILD_DIR
    cmake --build "$build" -j "$jobs" --target bench_render
else
    build=build/dev
    cmake --preset dev >/dev/null
    cmake --build --preset dev -j "$jobs" --target bench_render
fi

if ! command -v node >/dev/null; then
    echo "node is not installed: cannot run the Nunjucks side" >&2
    exit 1
fi
if [ ! -d bench/node_modules/nunjucks ]; then
    echo "== npm ci (bench/)"
    (cd bench && npm ci --no-audit --no-fund) ||
        echo "npm ci failed; using tests/template/node_modules if present" >&2
fi

data=$build/bench/render_data
mkdir -p "$data"
c_out=$(mktemp)
js_out=$(mktemp)
trap 'rm -f "$c_out" "$js_out"' EXIT

echo "== vaultplug"
"$build/bench/bench_render" --seconds "$seconds" --write-data "$data" | tee "$c_out" | grep -v '^RESULT'
echo "== nunjucks"
node bench/nunjucks_render.js "$data" --seconds "$seconds" | tee "$js_out" | grep -v '^RESULT'

echo "== ratios (vaultplug renders/s / nunjucks renders/s; goal: parse+render >= 50, render >= 5)"
awk '
    FNR == NR && $1 == "RESULT" { c[$2 " " $3] = $4; next }
    $1 == "RESULT" { j[$2 " " $3] = $4; order[++n] = $2 " " $3 }
    END {
        for (i = 1; i <= n; i++) {
            k = order[i]; split(k, f, " ")
            if (!(k in c) || j[k] == 0) continue
            r = c[k] / j[k]; goal = (f[2] == "render") ? 5 : 50
            printf "%-10s %-13s %10.1fx  (goal %dx: %s)\n", f[1], f[2], r, goal,
                   (r >= goal) ? "met" : "MISSED"
        }
    }' "$c_out" "$js_out"
