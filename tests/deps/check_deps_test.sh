#!/bin/sh
# check_deps_test.sh CHECK_DEPS WORKDIR - scripts/check_deps.sh catches what it must: on a small
# fake core of two modules (low, and high which may use low) an include against the direction,
# a symbol used against the direction, and a circle in the declared table each fail the check
# with a message naming them; the clean tree passes.
set -u
check=$1
work=$2/check-deps
rm -rf "$work"
fail() { echo "FAIL: $*"; cat "$work/out" 2>/dev/null; exit 1; }

# tree DEPS_LOW LOW_C: a fake core with low's allowed deps and low/a.c's text, built.
tree() {
    rm -rf "$work/core" "$work/build"
    mkdir -p "$work/core/src/low" "$work/core/src/high" "$work/build/core/vp_core_low.dir/src/low" \
        "$work/build/core/vp_core_high.dir/src/high"
    cat >"$work/core/CMakeLists.txt" <<CM
set(VP_MODULES low high)
set(VP_MODULE_DEPS_low $1)
set(VP_MODULE_DEPS_high low)
CM
    printf 'int a(void);\n' >"$work/core/src/low/a.h"
    printf '%s\n' "$2" >"$work/core/src/low/a.c"
    printf 'int b(void);\n' >"$work/core/src/high/b.h"
    printf '#include "b.h"\n#include "a.h"\nint b(void) { return a(); }\n' >"$work/core/src/high/b.c"
    cc -c -I"$work/core/src/low" -I"$work/core/src/high" "$work/core/src/low/a.c" \
        -o "$work/build/core/vp_core_low.dir/src/low/a.c.o" || fail "cannot compile low"
    cc -c -I"$work/core/src/low" -I"$work/core/src/high" "$work/core/src/high/b.c" \
        -o "$work/build/core/vp_core_high.dir/src/high/b.c.o" || fail "cannot compile high"
}
run() {
    sh "$check" "$work/core" "$work/build" >"$work/out" 2>&1
    rc=$?
}

tree '""' '#include "a.h"
int a(void) { return 1; }'
run
[ $rc -eq 0 ] || fail "a clean tree fails the check (exit $rc)"

tree '""' '#include "a.h"
#include "b.h"
int a(void) { return 1; }'
run
[ $rc -eq 1 ] || fail "an include against the direction passes (exit $rc)"
grep -q 'low/a.c (low) includes b.h of module high' "$work/out" || fail "include not named"

tree '""' '#include "a.h"
int b(void);
int a(void) { return b(); }'
run
[ $rc -eq 1 ] || fail "a symbol used against the direction passes (exit $rc)"
grep -q 'a.c (low) uses b of module high' "$work/out" || fail "symbol not named"

tree 'high' '#include "a.h"
int a(void) { return 1; }'
run
[ $rc -eq 1 ] || fail "a circle in the declared table passes (exit $rc)"
grep -q 'circle' "$work/out" || fail "circle not named"

run_bad_args() { sh "$check" >"$work/out" 2>&1; rc=$?; }
run_bad_args
[ $rc -eq 2 ] || fail "no arguments: exit $rc, want 2"
echo "check_deps ok: clean tree passes; include, symbol and declared circle each caught"
