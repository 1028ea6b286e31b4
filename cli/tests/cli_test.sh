#!/bin/sh
# cli_test.sh TEST VAULTPLUG WORKDIR - end-to-end checks of the `vaultplug` command.
# Each test prints what it ran and why it failed; exit 0 = pass.
set -u
t=$1
vp=$2
work=$3/$t
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
out=$work/stdout
err=$work/stderr

fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat "$out"
    echo "--- stderr"; cat "$err"
    exit 1
}

# run ARGS...: runs vaultplug, sets $rc
run() {
    echo "+ vaultplug $*"
    "$vp" "$@" >"$out" 2>"$err"
    rc=$?
}

case $t in
providers_lists_echo)
    # From the build tree the build's provider dir is searched with no setup at all.
    run providers
    [ $rc -eq 0 ] || fail "exit $rc"
    grep -Eq '^NAME +STATE +VERSION +ABI +SCHEMES +CAPS' "$out" || fail "no header line"
    grep -Eq '^echo +loaded +1\.0\.0 +1\.1 +echo +threadsafe,batch$' "$out" || fail "echo not loaded"
    ;;
providers_json)
    run providers --json
    [ $rc -eq 0 ] || fail "exit $rc"
    # Valid JSON is checked by CMake's own parser, independent of json-c that wrote it.
    cat >"$work/check.cmake" <<'CM'
file(READ ${F} j)
string(JSON n LENGTH "${j}" providers)
set(found 0)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
    string(JSON name GET "${j}" providers ${i} name)
    if(name STREQUAL "echo")
        string(JSON state GET "${j}" providers ${i} state)
        string(JSON abi GET "${j}" providers ${i} abi)
        string(JSON s0 GET "${j}" providers ${i} schemes 0)
        string(JSON c0 GET "${j}" providers ${i} caps 0)
        string(JSON status GET "${j}" providers ${i} status)
        if(NOT state STREQUAL "loaded" OR NOT abi STREQUAL "1.1" OR NOT s0 STREQUAL "echo"
           OR NOT c0 STREQUAL "threadsafe" OR NOT status STREQUAL "VP_OK")
            message(FATAL_ERROR "echo entry wrong: ${state} ${abi} ${s0} ${c0} ${status}")
        endif()
        set(found 1)
    endif()
endforeach()
if(NOT found)
    message(FATAL_ERROR "echo not listed")
endif()
CM
    cmake -DF="$out" -P "$work/check.cmake" || fail "JSON output invalid or echo entry wrong"
    ;;
providers_broken)
    # A file that is not ELF: dlopen refuses it, the listing says so with the reason.
    mkdir -p "$work/plugins"
    chmod 755 "$work/plugins"
    echo "this is not a shared object" >"$work/plugins/broken.so"
    chmod 644 "$work/plugins/broken.so"
    run providers --plugin-dir "$work/plugins"
    [ $rc -eq 0 ] || fail "exit $rc"
    grep -Eq '^broken +failed' "$out" || fail "broken not listed as failed"
    grep -Eq "reason: cannot load .*broken\.so: .+ \(VP_EIO\)" "$out" || fail "no load reason"
    grep -Eq '^echo +loaded' "$out" || fail "echo should still load"
    run providers --json --plugin-dir "$work/plugins"
    grep -q '"reason": "cannot load' "$out" || fail "no reason in JSON"
    # A group-writable provider is refused by the loader with a clear reason.
    cp "$work/plugins/broken.so" "$work/plugins/lax.so"
    chmod 664 "$work/plugins/lax.so"
    run providers --plugin-dir "$work/plugins"
    grep -Eq '^lax +failed' "$out" || fail "group-writable module not refused"
    grep -Eq 'reason: insecure permissions' "$out" || fail "no permission reason"
    ;;
providers_available)
    mkdir -p "$work/plugins"
    chmod 755 "$work/plugins"
    echo "junk" >"$work/plugins/broken.so"
    chmod 644 "$work/plugins/broken.so"
    run providers --available --plugin-dir "$work/plugins"
    [ $rc -eq 0 ] || fail "exit $rc"
    grep -q '^broken' "$out" && fail "--available lists a failed provider"
    grep -Eq '^echo +loaded' "$out" || fail "echo missing"
    ;;
unknown_command)
    run frobnicate
    [ $rc -eq 2 ] || fail "exit $rc, want 2"
    [ -s "$out" ] && fail "usage errors must not write to stdout"
    grep -q "unknown command 'frobnicate'" "$err" || fail "message"
    grep -q "vaultplug --help" "$err" || fail "no hint"
    run provider
    [ $rc -eq 2 ] || fail "exit $rc, want 2"
    grep -q "Did you mean 'vaultplug providers'" "$err" || fail "no suggestion"
    run help frobnicate
    [ $rc -eq 2 ] || fail "help of an unknown command: exit $rc, want 2"
    ;;
unknown_option)
    run providers --frob
    [ $rc -eq 2 ] || fail "exit $rc, want 2"
    grep -q "unknown option '--frob'" "$err" || fail "message"
    grep -q "vaultplug providers --help" "$err" || fail "no hint"
    run providers --plugin-dir
    [ $rc -eq 2 ] || fail "missing argument: exit $rc, want 2"
    run providers extra
    [ $rc -eq 2 ] || fail "extra argument: exit $rc, want 2"
    run --frob
    [ $rc -eq 2 ] || fail "global unknown option: exit $rc, want 2"
    ;;
help_all)
    run --help
    [ $rc -eq 0 ] || fail "--help exit $rc"
    grep -q "Exit status:" "$out" || fail "no exit status section"
    # Every command listed in the global help has --help and `help CMD`, with examples.
    cmds=$(sed -n '/^Commands:/,/^$/p' "$out" | awk 'NR > 1 && NF { print $1 }')
    [ -n "$cmds" ] || fail "no commands listed"
    for c in $cmds; do
        run "$c" --help
        [ $rc -eq 0 ] || fail "$c --help: exit $rc"
        grep -q "^Usage: vaultplug $c" "$out" || fail "$c --help: no usage line"
        grep -q "^Example" "$out" || fail "$c --help: no examples"
        cp "$out" "$work/a"
        run help "$c"
        [ $rc -eq 0 ] || fail "help $c: exit $rc"
        cmp -s "$out" "$work/a" || fail "help $c differs from $c --help"
    done
    ;;
no_command)
    run
    [ $rc -eq 2 ] || fail "exit $rc, want 2"
    grep -q "^Usage: vaultplug" "$err" || fail "usage on stderr"
    ;;
*)
    echo "unknown test $t"
    exit 2
    ;;
esac
echo "ok"
