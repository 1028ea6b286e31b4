#!/bin/sh
# vaultfs_e2e.sh TEST VAULTPLUG WORKDIR - the vault file on disk, through the real command: a
# symlinked vault path, the cache key under concurrent first use.
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
symlink)
    # A vault reached through a symlink (the file, or a directory on the way) is one vault: the
    # link is resolved once and the lock, temp file and rename all happen at the real file.
    new_vault
    real=$VAULTPLUG_HOME/vault.vpv
    mkdir -p "$work/links"
    chmod 700 "$work/links"
    link=$work/links/vault.vpv
    ln -s "$real" "$link"
    runin one vault set a
    expect 0 "set through the real path"
    VAULTPLUG_VAULT=$link runin two vault set b
    expect 0 "set through the link"
    [ -L "$link" ] || fail "the link was replaced by a file"
    ls "$work/links" | grep -q 'vault.vpv.lock' && fail "a lock file next to the link"
    run vault list
    expect 0 "list through the real path"
    grep -qx b "$out" || fail "the real vault lacks what was set through the link"
    VAULTPLUG_VAULT=$link run vault list
    grep -qx a "$out" || fail "the link does not show what was set through the real path"
    # A directory symlink on the way.
    ln -s "$VAULTPLUG_HOME" "$work/homelink"
    VAULTPLUG_VAULT=$work/homelink/vault.vpv runin three vault set c
    expect 0 "set through a directory link"
    [ -L "$work/homelink" ] || fail "directory link replaced"
    run vault get c
    [ "$(cat "$out")" = three ] || fail "set through the directory link is not in the vault"
    # Concurrent writers through both paths: nothing lost.
    pids=
    for i in 1 2 3 4 5 6; do
        (printf v | "$vp" vault set "real$i" >/dev/null 2>"$work/e.r$i") &
        pids="$pids $!"
        (printf v | VAULTPLUG_VAULT=$link "$vp" vault set "link$i" >/dev/null 2>"$work/e.l$i") &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || fail "a concurrent writer failed: $(cat "$work"/e.*)"; done
    run vault list
    for i in 1 2 3 4 5 6; do
        grep -qx "real$i" "$out" || fail "lost real$i"
        grep -qx "link$i" "$out" || fail "lost link$i"
    done
    [ -L "$link" ] || fail "the link was replaced by a file (concurrent)"
    [ "$(ls "$work/links")" = vault.vpv ] || fail "files left next to the link: $(ls "$work/links")"
    # init through a dangling link creates the vault at the link's target (relative targets
    # resolve from the link's directory); the link stays a link.
    mkdir -m 700 "$work/target"
    ln -s ../target/v.vpv "$work/links/dangling.vpv"
    VAULTPLUG_VAULT=$work/links/dangling.vpv run vault init
    expect 0 "init through a dangling link"
    [ -L "$work/links/dangling.vpv" ] || fail "init replaced the dangling link"
    [ -f "$work/target/v.vpv" ] && [ ! -L "$work/target/v.vpv" ] || fail "target not created"
    [ "$(ls "$work/target" | tr '\n' ' ')" = "v.vpv v.vpv.lock " ] ||
        fail "not the vault and its lock next to the target: $(ls "$work/target")"
    VAULTPLUG_VAULT_KEY=$(cat "$out") VAULTPLUG_VAULT=$work/target/v.vpv run vault list
    expect 0 "list the new vault through its real path"
    # A link whose target directory is missing: a clear message naming the target.
    ln -s "$work/nowhere/v.vpv" "$work/links/nowhere.vpv"
    VAULTPLUG_VAULT=$work/links/nowhere.vpv run vault init
    expect 3 "init through a link into a missing directory"
    grep -q "symbolic link to $work/nowhere/v.vpv, whose directory does not exist" "$err" ||
        fail "the message does not name the target"
    [ -e "$work/nowhere" ] && fail "init created the missing directory"
    ;;
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
