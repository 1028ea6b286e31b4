#!/bin/sh
# vaultfs_e2e.sh TEST VAULTPLUG WORKDIR - the vault file on disk, through the real command: the
# cache key under concurrent first use.
# Same conventions as cli_e2e.sh: a private VAULTPLUG_HOME, the echo provider of the build tree,
# stdin from /dev/null unless a test pipes into it; exit 0 = pass.
set -u
t=$1
vp=$2
work=$3/vaultfs_$t
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
out=$work/stdout
err=$work/stderr
: >"$out"
: >"$err"

for v in $(env | sed -n 's/^\(VAULTPLUG_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset ECHO_PREFIX XDG_CONFIG_HOME XDG_DATA_HOME
export VAULTPLUG_HOME="$work/home"
export VAULTPLUG_SYSTEM_CONFIG="$work/etc-config.json"
export NO_COLOR=1

fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat "$out"
    echo "--- stderr"; cat "$err"
    exit 1
}
run() {
    echo "+ vaultplug $*"
    "$vp" "$@" <"/dev/null" >"$out" 2>"$err"
    rc=$?
}
runin() {
    input=$1
    shift
    echo "+ printf ... | vaultplug $*"
    printf '%s' "$input" | "$vp" "$@" >"$out" 2>"$err"
    rc=$?
}
expect() {
    [ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1"
}
new_vault() {
    run vault init
    expect 0 "vault init"
    KEY=$(cat "$out")
    export VAULTPLUG_VAULT_KEY="$KEY"
}

case $t in
cache_race)
    # Concurrent first renders must agree on one cache key: no false "tampered with" warning,
    # and the next render uses the cache.
    echo 'x={% vault "echo://x" %}' >"$work/t.tmpl"
    trial=1
    while [ "$trial" -le 20 ]; do
        rm -rf "$VAULTPLUG_HOME"
        new_vault
        pids=
        for i in 1 2 3 4 5 6 7 8; do
            "$vp" render "$work/t.tmpl" >/dev/null 2>"$work/e$i" &
            pids="$pids $!"
        done
        for p in $pids; do wait "$p" || fail "trial $trial: a render failed: $(cat "$work"/e?)"; done
        cat "$work"/e? >"$err"
        grep -q "tampered" "$err" && fail "trial $trial: false tamper warning during the renders"
        run render "$work/t.tmpl"
        expect 0 "trial $trial: the render after"
        grep -q "tampered" "$err" && fail "trial $trial: false tamper warning after the renders"
        run cache stats echo --json
        grep -q '"entries": *1' "$out" || fail "trial $trial: the cache was not kept"
        trial=$((trial + 1))
    done
    ;;
*)
    echo "unknown test $t"
    exit 2
    ;;
esac
echo PASS
