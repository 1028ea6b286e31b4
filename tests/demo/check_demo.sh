#!/bin/sh
# check_demo.sh SOURCE_DIR BUILD_DIR WORK_DIR - run scripts/demo.sh on this build and check what
# a person would look at: every secret masked in the first render, every value in the second,
# and the secrets nowhere else in the output.
set -u
src=$1
build=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
VP_DEMO_BUILD=$build VP_DEMO_NO_BUILD=1 bash "$src/scripts/demo.sh" >"$work/out" 2>"$work/err"
rc=$?
fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat "$work/out"
    echo "--- stderr"; cat "$work/err"
    exit 1
}
[ $rc -eq 0 ] || fail "demo.sh exited $rc"
# Split the output at the second render's command line.
awk '/^\$ vaultplug render .* --mask$/{m=1} /^\$ vaultplug render [^-]*--env [^ ]*$/{m=2} {print > ("'"$work"'/part" m)}' "$work/out"
masked=$work/part1
real=$work/part2
[ -s "$masked" ] && [ -s "$real" ] || fail "the two renders are not in the output"
for v in tok_live_4f8a2c aws-db-pw-7Hq2 sk_test_gcp_51Hx9 vault-hmac-3f9a azure-whk-88c1; do
    grep -q -- "$v" "$real" || fail "value $v missing from the real render"
    grep -q -- "$v" "$masked" && fail "value $v shown in the masked render"
    grep -q -- "$v" "$work/err" && fail "value $v on stderr"
done
n=$(grep -c '••••••' "$masked")
[ "$n" -eq 5 ] || fail "expected 5 masked lines, got $n"
grep -q '"region": "EU-WEST-1"' "$real" || fail "environment values not rendered"
grep -q '{"sku": "PEN-7", "qty": 10}$' "$real" || fail "for loop not rendered"
echo "demo ok: 5 secrets from the local vault and 4 clouds, masked then real"
