#!/bin/sh
# vaultfs_e2e.sh TEST VAULTPLUG WORKDIR - the vault file on disk, through the real command: a
# symlinked vault path, directories others can write, the cache key under concurrent first use.
# Same conventions as cli_e2e.sh: a private VAULTPLUG_HOME, the echo provider of the build tree,
# stdin from /dev/null unless a test pipes into it; exit 0 = pass.
set -u
t=$1
vp=$2
work=$3/vaultfs_$t
. "$(dirname "$0")/clilib.sh"

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
dirperm)
    # A vault directory group or others can write is refused, reads and writes alike, exit 5,
    # naming the directory and the fix.
    new_vault
    runin one vault set a
    expect 0 "set (0700)"
    for m in 777 1777 770 750; do
        chmod "$m" "$VAULTPLUG_HOME"
        [ "$m" = 770 ] && chgrp daemon "$VAULTPLUG_HOME"
        runin two vault set b
        if [ "$m" = 750 ]; then
            expect 0 "set in a 0750 directory"
            continue
        fi
        expect 5 "set in a $m directory"
        grep -q "chmod go-w $VAULTPLUG_HOME" "$err" || fail "$m: no fix named"
        run vault get a
        expect 5 "get in a $m directory"
        grep -q "$VAULTPLUG_HOME" "$err" || fail "$m: the directory is not named"
        echo 'x={{ vault.a }}' >"$work/t.tmpl"
        run render "$work/t.tmpl"
        expect 5 "render in a $m directory"
        chmod 700 "$VAULTPLUG_HOME"
        run vault get a
        expect 0 "get after chmod 700"
        [ "$(cat "$out")" = one ] || fail "the value changed"
    done
    chgrp root "$VAULTPLUG_HOME"
    chmod 700 "$VAULTPLUG_HOME"
    # init refuses too, and creates nothing.
    mkdir -m 777 "$work/open"
    VAULTPLUG_VAULT=$work/open/v.vpv run vault init
    expect 5 "init in a 0777 directory"
    grep -q "chmod go-w $work/open" "$err" || fail "init: no fix named"
    [ -z "$(ls "$work/open")" ] || fail "init left files: $(ls "$work/open")"
    # The directory of a link counts as well as the real one.
    ln -s "$VAULTPLUG_HOME/vault.vpv" "$work/open/link.vpv"
    VAULTPLUG_VAULT=$work/open/link.vpv run vault get a
    expect 5 "get through a link in a 0777 directory"
    grep -q "$work/open" "$err" || fail "link dir not named"
    ;;
config_dirperm)
    # The user's config directory: a config.json others could have written is not read.
    mkdir -p "$VAULTPLUG_HOME"
    chmod 700 "$VAULTPLUG_HOME"
    echo '{"cache_ttl_minutes": 5}' >"$VAULTPLUG_HOME/config.json"
    run config show
    expect 0 "config show (0700)"
    for m in 777 1777 770; do
        chmod "$m" "$VAULTPLUG_HOME"
        [ "$m" = 770 ] && chgrp daemon "$VAULTPLUG_HOME"
        run config show
        expect 5 "config show with a $m directory"
        grep -q "chmod go-w $VAULTPLUG_HOME" "$err" || fail "$m: no fix named"
        run cache ttl 7
        expect 5 "cache ttl with a $m directory"
        grep -q '"cache_ttl_minutes": 5' "$VAULTPLUG_HOME/config.json" || fail "$m: config changed"
        chgrp root "$VAULTPLUG_HOME"
        chmod 700 "$VAULTPLUG_HOME"
    done
    # The file itself others can write.
    chmod 666 "$VAULTPLUG_HOME/config.json"
    run config show
    expect 5 "config show with a 0666 config.json"
    grep -q "chmod go-w $VAULTPLUG_HOME/config.json" "$err" || fail "0666 file: no fix named"
    chmod 600 "$VAULTPLUG_HOME/config.json"
    # No config file there yet: nothing is read, so only writing is refused.
    rm "$VAULTPLUG_HOME/config.json"
    chmod 777 "$VAULTPLUG_HOME"
    run config show
    expect 0 "config show, no file, 0777"
    run cache ttl 7
    expect 5 "cache ttl creating the file in a 0777 directory"
    [ -e "$VAULTPLUG_HOME/config.json" ] && fail "cache ttl created the file"
    chmod 700 "$VAULTPLUG_HOME"
    run cache ttl 7
    expect 0 "cache ttl (0700)"
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
