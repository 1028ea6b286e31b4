#!/bin/sh
# cli_safe.sh TEST VAULTPLUG WORKDIR MODSDIR LIBVAULTPLUG PROVIDERDIR - the command's write paths
# when the world is hostile: a new vault key that cannot be delivered (full device, full disk,
# file size limit, closed pipe, closed stdout) must leave the vault as it was; `render -o` writes
# only regular files; limits and key errors give the documented statuses; the binaries are
# linked with full RELRO and the running command cannot dump core. Exit 0 = pass, 77 = skipped.
set -u
t=$1
vp=$2
work=$3/safe-$t
mods=$4
lib=${5:-}
provdir=${6:-}
mnt=""
cleanup() {
    [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM
umask 077 # key files written here are private; the one test of a readable one sets 022
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
out=$work/stdout
err=$work/stderr
: >"$out"
: >"$err"

for v in $(env | sed -n 's/^\(VAULTPLUG_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset XDG_CONFIG_HOME XDG_DATA_HOME
export VAULTPLUG_HOME="$work/home"
export VAULTPLUG_SYSTEM_CONFIG="$work/etc-config.json"
export NO_COLOR=1
CANARY="canary-51c0e2aa-do-not-leak"

# CLI_SAFE_ALL=1 reports every failing check instead of stopping at the first (to see which
# ones an older build fails).
nfail=0
fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat "$out"
    echo "--- stderr"; cat "$err"
    [ -n "${CLI_SAFE_ALL:-}" ] || exit 1
    nfail=$((nfail + 1))
    return 0
}
run() {
    echo "+ vaultplug $*"
    "$vp" "$@" <"/dev/null" >"$out" 2>"$err"
    rc=$?
}
expect() { [ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1"; }
says() { grep -q -- "$1" "$err" || fail "$2: stderr does not say '$1'"; }
no_canary() {
    grep -rq "$CANARY" "$out" "$err" && fail "canary leaked: $*"
    return 0
}
# A mounted tmpfs of SIZE at $work/DIR (sets $mnt), or 1 if mounting is not permitted.
small_fs() {
    mkdir -p "$work/$1"
    if mount -t tmpfs -o "size=$2,mode=700" tmpfs "$work/$1" 2>/dev/null; then
        mnt=$work/$1
        return 0
    fi
    return 1
}
fill() { dd if=/dev/zero of="$1/fill" bs=1024 count=100000 2>/dev/null; return 0; }

# A vault with secrets; $KEY opens it.
setup_vault() {
    run vault init
    expect 0 "vault init"
    KEY=$(cat "$out")
    export VAULTPLUG_VAULT_KEY="$KEY"
    printf '%s-1' "$CANARY" | "$vp" -q vault set s1 || fail "set s1"
    printf '%s-2' "$CANARY" | "$vp" -q vault set s2 || fail "set s2"
}
# The vault still opens with $KEY and every secret reads back.
intact() {
    for n in 1 2; do
        v=$(VAULTPLUG_VAULT_KEY="$KEY" "$vp" vault get "s$n" 2>&1) ||
            fail "$1: the old key no longer opens the vault ($v)"
        [ "$v" = "$CANARY-$n" ] || fail "$1: s$n reads back wrong"
    done
    [ "$(VAULTPLUG_VAULT_KEY="$KEY" "$vp" vault list)" = "s1
s2" ] || fail "$1: vault list differs"
}
key_of() { grep -o 'vpk1_[A-Za-z0-9_-]\{43\}' "$1" | head -n 1; }

case $t in
render_output)
    export VAULTPLUG_PLUGIN_PATH="$mods"
    d=$work/o
    mkdir -p "$d"
    printf 'orig\n' >"$d/target"
    ln -s target "$d/link"
    mkfifo "$d/fifo"
    mkdir "$d/dir"
    ln -s /proc/self/fd/1 "$d/fd1"
    printf 'x={%% vault "clifault://%s" %%}\n' "$CANARY" >"$work/t.tmpl"
    have_dev=0
    mknod "$d/dev" c 1 3 2>/dev/null && have_dev=1
    [ $have_dev = 1 ] || echo "SKIP (part): mknod is not permitted; no device node case"
    for f in link:"symbolic link (to target)" fifo:"FIFO" dir:"directory" \
        fd1:"symbolic link (to /proc/self/fd/1)" dev:"character device"; do
        name=${f%%:*}
        what=${f#*:}
        [ $name = dev ] && [ $have_dev = 0 ] && continue
        before=$(ls -l "$d/$name" | cut -c1)
        run render "$work/t.tmpl" -o "$d/$name"
        expect 2 "render -o $name"
        says "$d/$name is a $what" "render -o $name"
        says "nothing was written" "render -o $name"
        [ -s "$out" ] && fail "render -o $name printed on stdout"
        [ "$(ls -l "$d/$name" | cut -c1)" = "$before" ] || fail "$name was replaced"
        no_canary "render -o $name"
    done
    [ "$(cat "$d/target")" = orig ] || fail "the link's target was written through"
    ls "$d" | grep -q '\.vp' && fail "a temporary file was left behind"
    grep -rq "$CANARY" "$d" "$VAULTPLUG_HOME" 2>/dev/null && fail "the secret landed in a file"
    # A regular file is replaced (atomically) and a new one is created.
    run render "$work/t.tmpl" -o "$d/target"
    expect 0 "render -o regular file"
    grep -q "x=ok:$CANARY" "$d/target" || fail "regular file not written"
    run render "$work/t.tmpl" -o "$d/new"
    expect 0 "render -o new file"
    [ "$(stat -c %a "$d/new")" = 600 ] || fail "new output not 0600"
    [ "$(stat -c %h "$d/new")" = 1 ] || fail "new output has a second link"
    ls "$d" | grep -q '\.vp' && fail "a temporary file was left behind"
    ;;

hardening)
    command -v readelf >/dev/null 2>&1 || { echo "SKIP: readelf missing"; exit 77; }
    set -- "$vp" "$lib" "$mods/clifault.so"
    for p in "$provdir"/*.so; do
        [ -f "$p" ] && set -- "$@" "$p"
    done
    [ $# -ge 4 ] || fail "no provider found in $provdir"
    for f in "$@"; do
        echo "+ readelf -d -l $f"
        readelf -d "$f" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' || fail "$f: no BIND_NOW"
        readelf -lW "$f" | grep -q GNU_RELRO || fail "$f: no GNU_RELRO"
    done
    echo "+ vaultplug get clifault://dumpable/x"
    "$vp" --plugin-dir "$mods" get clifault://dumpable/x >"$out" 2>"$err" || fail "get dumpable"
    [ "$(cat "$out")" = "dumpable=0" ] || fail "the running command can dump core"
    ;;

*)
    echo "unknown test $t"
    exit 2
    ;;
esac
[ "$nfail" = 0 ] || { echo "$nfail checks failed"; exit 1; }
echo "ok"
