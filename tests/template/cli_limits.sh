#!/bin/sh
# cli_limits.sh VAULTPLUG WORKDIR - the template engine's nesting and chain bounds through the
# `vaultplug` command (reliability findings D2 and D12). Chains of 50,000 operators, filters,
# attribute or index lookups used to crash `render` and `refs` with a stack overflow (exit
# 139); nesting errors exited 9 and counted internal grammar levels ("nesting deeper than 64"
# after 21 parentheses). Now: exit 2 with the position and what to do, and nesting is counted
# as written. Exit 0 = pass.
set -u
vp=$1
work=$2/cli_limits
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
for v in $(env | sed -n 's/^\(VAULTPLUG_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export VAULTPLUG_HOME="$work/home"
export VAULTPLUG_SYSTEM_CONFIG="$work/etc-config.json"
export NO_COLOR=1
out=$work/stdout
err=$work/stderr

fail() {
    echo "FAIL: $*"
    echo "--- stdout"; head -c 2000 "$out"; echo
    echo "--- stderr"; head -c 2000 "$err"; echo
    exit 1
}
# gen FILE PRE LINK N MID CLOSE POST: PRE, LINK n times, MID, CLOSE n times, POST
gen() {
    awk -v pre="$2" -v link="$3" -v n="$4" -v mid="$5" -v cl="$6" -v post="$7" 'BEGIN {
        printf "%s", pre; for (i = 0; i < n; i++) printf "%s", link
        printf "%s", mid; for (i = 0; i < n; i++) printf "%s", cl; print post }' >"$1"
}
# check CMD FILE STATUS TEXT: `vaultplug CMD FILE` exits STATUS and stderr has TEXT
check() {
    echo "+ vaultplug $1 $(basename "$2")"
    "$vp" "$1" "$2" --env "$work/env.json" </dev/null >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq "$3" ] || fail "$1 $(basename "$2"): exit $rc, want $3"
    [ -z "$4" ] || grep -qF "$4" "$err" || fail "$1 $(basename "$2"): no '$4' in the message"
    if [ "$3" -ne 0 ]; then
        [ -s "$out" ] && fail "$1 $(basename "$2"): output on failure"
        grep -q "line 1, column [0-9]" "$err" || fail "$1 $(basename "$2"): no position"
    fi
    return 0
}
echo '{"a": {"b": "x"}, "l": [[1]], "s": "abc"}' >"$work/env.json"

chain="more than 128 operations in a row"
nest="nested more than 64 levels deep"
n=50000
i=0
# chain PRE LINK POST: PRE, then LINK 50,000 times, then POST is refused by render and refs
chain() {
    i=$((i + 1))
    gen "$work/chain$i.t" "$1" "$2" $n "" "" "$3"
    check render "$work/chain$i.t" 2 "$chain"
    check refs "$work/chain$i.t" 2 "$chain"
}
chain "{{ 1" "+1" " }}"
chain "{{ 1" "-1" " }}"
chain "{{ 2" "*1" " }}"
chain "{{ 2" "**1" " }}"
chain "{{ 'a'" " ~ 'a'" " }}"
chain "{{ 'a'" "|upper" " }}"
chain "{{ a" ".b" " }}"
chain "{{ a" ".b" " | upper }}"
chain "{{ l" "[0]" " }}"
chain "{{ 1" " < 2" " }}"
chain "{{ 1" " == 1" " }}"
chain "{{ 1" " and 1" " }}"
chain "{{ 0" " or 0" " }}"
chain "{{ 'a'" " in 'a'" " }}"
chain "{% if 1" " + 1" " %}x{% endif %}"
chain "{% set x = 1" " + 1" " %}"
chain "{% vault 'echo://x'" " ~ 'y'" " %}"
# calls are not part of the language: refused at the first one
gen "$work/call.t" "{{ f" "()" $n "" "" " }}"
check render "$work/call.t" 2 "function calls are not supported"
# Nesting, counted as written: 64 levels work, 65 do not.
gen "$work/par64.t" "{{ " "(" 64 "7" ")" " }}"
check render "$work/par64.t" 0 ""
[ "$(cat "$out")" = 7 ] || fail "64 parentheses: wrong output"
gen "$work/par65.t" "{{ " "(" 65 "7" ")" " }}"
check render "$work/par65.t" 2 "$nest"
check refs "$work/par65.t" 2 "$nest"
gen "$work/par50k.t" "{{ " "(" $n "7" ")" " }}"
check render "$work/par50k.t" 2 "$nest"
gen "$work/if64.t" "" "{% if 1 %}" 64 "x" "{% endif %}" ""
check render "$work/if64.t" 0 ""
gen "$work/if65.t" "" "{% if 1 %}" 65 "x" "{% endif %}" ""
check render "$work/if65.t" 2 "$nest"
gen "$work/not65.t" "{{ " "not " 65 "1" "" " }}"
check render "$work/not65.t" 2 "$nest"
# an elif chain is not nesting
gen "$work/elif.t" "{% if 0 %}a" "{% elif 0 %}b" $n "{% elif 1 %}yes{% endif %}" "" ""
check render "$work/elif.t" 0 ""
[ "$(cat "$out")" = yes ] || fail "elif chain: wrong output"
# a chain at the limit renders; its references are listed
gen "$work/at.t" "{{ 1" "+1" 128 "" "" " }}"
check render "$work/at.t" 0 ""
[ "$(cat "$out")" = 129 ] || fail "chain at the limit: wrong output"
gen "$work/atref.t" "{% vault 'echo://x'" " ~ 'y'" 128 "" "" " %}"
check refs "$work/atref.t" 0 ""
grep -q "^echo://xyyyyyyyy" "$out" || fail "refs of a chain at the limit"
echo "PASS"
