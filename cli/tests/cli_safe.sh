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
. "$(dirname "$0")/clilib.sh"
CANARY="canary-51c0e2aa-do-not-leak"
# CLI_SAFE_ALL=1 reports every failing check instead of stopping at the first (to see which
# ones an older build fails).
VP_TEST_ALL=${CLI_SAFE_ALL:-${VP_TEST_ALL:-}}

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
rekey_delivery)
    setup_vault
    undone="the vault was not re-keyed; the old key still works"

    echo "+ vaultplug vault rekey >/dev/full"
    "$vp" vault rekey >/dev/full 2>"$err"
    rc=$?
    expect 9 "rekey to /dev/full"
    says "No space left on device" "/dev/full"
    says "$undone" "/dev/full"
    intact "/dev/full"

    echo "+ vaultplug vault rekey >&-"
    "$vp" vault rekey >&- 2>"$err"
    rc=$?
    expect 9 "rekey with stdout closed"
    says "standard output is closed" "stdout closed"
    says "$undone" "stdout closed"
    intact "stdout closed"

    # A reader that exits without reading: whether the key reaches the pipe before or after
    # it is gone, the key was not taken. With SIGPIPE left at its default, and ignored.
    for sig in default ignored; do
        echo "+ vaultplug vault rekey | true   (SIGPIPE $sig)"
        if [ $sig = default ]; then
            { env --default-signal=PIPE "$vp" vault rekey 2>"$err"; echo $? >"$work/rc"; } | true
        else
            (trap '' PIPE; { "$vp" vault rekey 2>"$err"; echo $? >"$work/rc"; } | true)
        fi
        rc=$(cat "$work/rc")
        expect 9 "rekey into a closed pipe (SIGPIPE $sig)"
        says "went away before it took the new key" "closed pipe ($sig)"
        says "$undone" "closed pipe ($sig)"
        intact "closed pipe ($sig)"
        echo "+ vaultplug vault rekey | (sleep 1)   (SIGPIPE $sig: never read)"
        if [ $sig = default ]; then
            { env --default-signal=PIPE "$vp" vault rekey 2>"$err"; echo $? >"$work/rc"; } | sleep 1
        else
            (trap '' PIPE; { "$vp" vault rekey 2>"$err"; echo $? >"$work/rc"; } | sleep 1)
        fi
        rc=$(cat "$work/rc")
        expect 9 "rekey into a pipe nobody reads (SIGPIPE $sig)"
        says "$undone" "unread pipe ($sig)"
        intact "unread pipe ($sig)"
    done

    # The file size limit (SIGXFSZ ignored): EFBIG. Messages go through a pipe, which the limit
    # does not affect.
    echo "+ (ulimit -f 0; vaultplug vault rekey >key)"
    ( (ulimit -f 0; trap '' XFSZ; "$vp" vault rekey >"$work/key-fsize"; echo "rc=$?" >&2) 2>&1 |
        cat >"$err")
    rc=$(sed -n 's/^rc=//p' "$err")
    expect 9 "rekey over RLIMIT_FSIZE"
    says "File too large" "RLIMIT_FSIZE"
    says "$undone" "RLIMIT_FSIZE"
    intact "RLIMIT_FSIZE"

    # A full disk: a small tmpfs for the key file.
    if small_fs full 64k; then
        fill "$mnt"
        echo "+ vaultplug vault rekey >full-disk/key"
        "$vp" vault rekey >"$mnt/key" 2>"$err"
        rc=$?
        expect 9 "rekey onto a full disk"
        says "No space left on device" "full disk"
        says "$undone" "full disk"
        intact "full disk"
        umount "$mnt"
        mnt=""
    else
        echo "SKIP (part): cannot mount a tmpfs here; the full disk was covered by RLIMIT_FSIZE"
    fi

    echo "+ vaultplug vault rekey >/dev/null"
    "$vp" vault rekey >/dev/null 2>"$err"
    rc=$?
    expect 2 "rekey to /dev/null"
    says "would be lost" "/dev/null"
    intact "/dev/null"

    # Delivered, but the commit fails (the vault's own disk is full): the printed key is void.
    if small_fs vfs 256k; then
        (
            export VAULTPLUG_HOME="$mnt/home"
            "$vp" vault init >"$work/k-small" 2>/dev/null || fail "init on the small fs"
            K=$(cat "$work/k-small")
            head -c 60000 /dev/zero | tr '\0' x | VAULTPLUG_VAULT_KEY=$K "$vp" -q vault set big ||
                fail "set big"
            fill "$mnt"
            echo "+ vaultplug vault rekey >key   (vault on a full disk)"
            VAULTPLUG_VAULT_KEY=$K "$vp" vault rekey >"$work/k-new" 2>"$err"
            rc=$?
            expect 9 "rekey whose commit fails"
            says "Discard the key printed above" "commit failure"
            N=$(key_of "$work/k-new")
            [ -n "$N" ] || fail "the key was not delivered before the commit"
            VAULTPLUG_VAULT_KEY=$N "$vp" vault list >/dev/null 2>&1 && fail "the void key opens"
            [ "$(VAULTPLUG_VAULT_KEY=$K "$vp" vault get big | wc -c)" = 60000 ] ||
                fail "the old key no longer opens the vault after a failed commit"
        ) || exit 1
        umount "$mnt"
        mnt=""
    else
        echo "SKIP (part): cannot mount a tmpfs: the failed-commit case is not run"
    fi

    # And when it works: the key is in the file, with its newline, before the old one dies.
    echo "+ vaultplug vault rekey >key"
    "$vp" vault rekey >"$work/newkey" 2>"$err"
    rc=$?
    expect 0 "rekey to a file"
    N=$(cat "$work/newkey")
    [ "$(wc -c <"$work/newkey")" = 49 ] || fail "the key file is not the key and a newline"
    says "Re-encrypted the vault" "rekey success"
    VAULTPLUG_VAULT_KEY="$KEY" "$vp" vault list >/dev/null 2>&1 && fail "old key still opens"
    KEY=$N
    export VAULTPLUG_VAULT_KEY="$KEY"
    intact "after rekey"
    # A slow reader takes it: the command waits for it.
    echo "+ vaultplug vault rekey | (sleep 1; cat)"
    { "$vp" -q vault rekey 2>"$err"; echo $? >"$work/rc"; } | (sleep 1; cat >"$work/newkey2")
    rc=$(cat "$work/rc")
    expect 0 "rekey to a slow reader"
    KEY=$(cat "$work/newkey2")
    export VAULTPLUG_VAULT_KEY="$KEY"
    intact "after rekey through a pipe"
    no_canary "rekey"
    ;;

init_reset_delivery)
    echo "+ vaultplug vault init >/dev/full"
    "$vp" vault init >/dev/full 2>"$err"
    rc=$?
    expect 9 "init to /dev/full"
    says "no vault was created" "init /dev/full"
    [ -e "$VAULTPLUG_HOME/vault.vpv" ] && fail "init created a vault whose key was lost"
    echo "+ vaultplug vault init >&-"
    "$vp" vault init >&- 2>"$err"
    rc=$?
    expect 9 "init with stdout closed"
    [ -e "$VAULTPLUG_HOME/vault.vpv" ] && fail "init with stdout closed created a vault"
    ( (ulimit -f 0; trap '' XFSZ; exec "$vp" vault init >"$work/k0") 2>&1 | cat >"$err")
    says "File too large" "init RLIMIT_FSIZE"
    [ -e "$VAULTPLUG_HOME/vault.vpv" ] && fail "init over RLIMIT_FSIZE created a vault"

    # -q: the key on stdout and nothing else.
    run -q vault init
    expect 0 "init -q"
    [ -s "$err" ] && fail "init -q printed on stderr"
    KEY=$(cat "$out")
    echo "$KEY" | grep -Eq '^vpk1_[A-Za-z0-9_-]{43}$' || fail "init -q stdout is not the key"
    export VAULTPLUG_VAULT_KEY="$KEY"
    printf '%s-1' "$CANARY" | "$vp" -q vault set s1 || fail "set s1"
    printf '%s-2' "$CANARY" | "$vp" -q vault set s2 || fail "set s2"

    undone="the vault was not reset; nothing was changed"
    echo "+ vaultplug vault reset --yes >/dev/full"
    "$vp" vault reset --yes >/dev/full 2>"$err"
    rc=$?
    expect 9 "reset to /dev/full"
    says "$undone" "reset /dev/full"
    intact "reset /dev/full"
    echo "+ vaultplug vault reset --yes >&-"
    "$vp" vault reset --yes >&- 2>"$err"
    rc=$?
    expect 9 "reset with stdout closed"
    intact "reset stdout closed"
    echo "+ vaultplug vault reset >/dev/null"
    "$vp" vault reset >/dev/null 2>"$err"
    rc=$?
    expect 2 "reset to /dev/null"
    says "would be lost" "reset /dev/null"
    intact "reset /dev/null"
    (trap '' PIPE; { "$vp" vault reset --yes 2>"$err"; echo $? >"$work/rc"; } | true)
    rc=$(cat "$work/rc")
    expect 9 "reset into a closed pipe"
    says "$undone" "reset closed pipe"
    intact "reset closed pipe"
    if small_fs full 64k; then
        fill "$mnt"
        "$vp" vault reset --yes >"$mnt/key" 2>"$err"
        rc=$?
        expect 9 "reset onto a full disk"
        says "$undone" "reset full disk"
        intact "reset full disk"
        umount "$mnt"
        mnt=""
    else
        echo "SKIP (part): cannot mount a tmpfs here"
    fi
    run -q vault reset --yes
    expect 0 "reset -q --yes"
    [ -s "$err" ] && fail "reset -q printed on stderr"
    NEW=$(cat "$out")
    [ "$(VAULTPLUG_VAULT_KEY=$NEW "$vp" vault list)" = "" ] || fail "reset kept secrets"
    # A key file others can read is worth a warning, even with -q.
    echo "+ (umask 022; vaultplug -q vault reset --yes >key)"
    (umask 022 && "$vp" -q vault reset --yes >"$work/k644" 2>"$err")
    rc=$?
    expect 0 "reset into a 0644 file"
    says "k644 can be read by other users (mode 644); chmod 600 it" "readable key file"
    run vault reset --yes
    expect 0 "reset --yes"
    says "permanently deleted" "reset notice"
    rm -f "$VAULTPLUG_HOME/vault.vpv"
    run vault reset --yes
    expect 3 "reset without a vault"
    says "no vault at" "reset without a vault"
    [ -s "$out" ] && fail "a key was printed for a reset that cannot happen"
    no_canary "init/reset"
    ;;

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

limits_and_keys)
    run vault init
    KEY=$(cat "$out")
    export VAULTPLUG_VAULT_KEY="$KEY"
    # Oversized values: exit 2 whatever the size, naming the limit; nothing stored.
    for size in 1048577 10000000; do
        echo "+ head -c $size | vaultplug vault set big"
        head -c $size /dev/zero | tr '\0' a | "$vp" vault set big >"$out" 2>"$err"
        rc=$?
        expect 2 "vault set of $size bytes"
        says "1048576 bytes" "vault set of $size bytes"
        run vault get big
        expect 3 "an oversized value was stored"
    done
    head -c 1048576 /dev/zero | tr '\0' a | "$vp" -q vault set big >"$out" 2>"$err" ||
        fail "a value of exactly 1 MiB is refused"
    # A malformed key is a bad value (2); a well-formed wrong key fails authentication (4).
    echo "+ vaultplug vault list   (truncated key)"
    VAULTPLUG_VAULT_KEY=$(printf '%s' "$KEY" | cut -c1-30) "$vp" vault list >"$out" 2>"$err"
    rc=$?
    expect 2 "a truncated key"
    says "invalid vault key" "a truncated key"
    echo "+ vaultplug vault list   (wrong key)"
    VAULTPLUG_VAULT_KEY="vpk1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$vp" vault list >"$out" 2>"$err"
    rc=$?
    expect 4 "a well-formed wrong key"
    # The key is checked before the value is read: a wrong key fails at once, without waiting
    # for (or consuming) the value.
    echo "+ (sleep 3; printf v) | vaultplug vault set x   (wrong key)"
    (sleep 3; printf v) | VAULTPLUG_VAULT_KEY="vpk1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
        timeout 2 "$vp" vault set x >"$out" 2>"$err"
    rc=$?
    expect 4 "vault set with a wrong key waits for the value"
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
