#!/usr/bin/env bash
# Template rendering: vaultplug (bench/bench_render) against Nunjucks under Node
# (bench/nunjucks_render.js), same four templates and values, same run; prints both programs'
# figures and the ratios per template and mode. Issue 3's goals: parse+render >= 50x Nunjucks'
# renderString, render of a parsed template >= 5x Nunjucks' compiled Template.render.
# Figures only: this never fails on time.
#
#   scripts/bench_render.sh [seconds-per-measurement [runs]]     (defaults 1 and 3)
#
# The machine may be shared: each run measures both programs back to back, the ratios of every
# run are printed, and the summary gives each ratio's median over the runs.
#
# Builds bench_render with the dev preset (build/dev), or in an existing build directory given
# as VP_BENCH_BUILD_DIR. Installs bench/'s npm dependencies (npm ci) if they are missing; the
# Node script falls back on tests/template's copy of the same Nunjucks version.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-1}
runs=${2:-3}
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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ratios of one run: "<template> <mode> <ratio>" lines
ratios() {
    awk '
        FNR == NR && $1 == "RESULT" { c[$2 " " $3] = $4; next }
        $1 == "RESULT" { j[$2 " " $3] = $4; order[++n] = $2 " " $3 }
        END {
            for (i = 1; i <= n; i++) {
                k = order[i]
                if (!(k in c) || j[k] == 0) continue
                printf "%s %.2f\n", k, c[k] / j[k]
            }
        }' "$1" "$2"
}

for run in $(seq 1 "$runs"); do
    echo "== run $run/$runs: vaultplug"
    "$build/bench/bench_render" --seconds "$seconds" --write-data "$data" | tee "$tmp/c$run" |
        grep -v '^RESULT'
    echo "== run $run/$runs: nunjucks"
    node bench/nunjucks_render.js "$data" --seconds "$seconds" | tee "$tmp/j$run" |
        grep -v '^RESULT'
    ratios "$tmp/c$run" "$tmp/j$run" >"$tmp/r$run"
    echo "== run $run/$runs: ratios"
    awk '{ printf "%-10s %-13s %10.1fx\n", $1, $2, $3 }' "$tmp/r$run"
done

echo "== ratios (vaultplug renders/s / nunjucks renders/s), median of $runs run(s); goal:" \
    "parse+render >= 50, render >= 5"
cat "$tmp"/r* | awk '
    { k = $1 " " $2; if (!(k in n)) order[++m] = k; v[k, ++n[k]] = $3 }
    END {
        for (i = 1; i <= m; i++) {
            k = order[i]; split(k, f, " "); c = n[k]
            for (a = 1; a <= c; a++) x[a] = v[k, a]
            for (a = 1; a <= c; a++)          # insertion sort (a few runs)
                for (b = a; b > 1 && x[b - 1] > x[b]; b--) { t = x[b]; x[b] = x[b - 1]; x[b - 1] = t }
            med = (c % 2) ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2
            all = ""
            for (a = 1; a <= c; a++) all = all sprintf("%s%.1f", a > 1 ? " " : "", x[a])
            goal = (f[2] == "render") ? 5 : 50
            printf "%-10s %-13s %10.1fx  (goal %dx: %s; runs: %s)\n", f[1], f[2], med, goal,
                   (med >= goal) ? "met" : "MISSED", all
        }
    }'
