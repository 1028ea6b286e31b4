# clilib.sh - sourced by the command's test scripts (cli_e2e.sh, cli_out.sh, cli_safe.sh,
# vaultfs_e2e.sh) once they have set $vp (the command) and $work (this test's directory):
# a fresh private $work, a clean environment (nothing from the caller's vaultplug setup leaks
# into a test; VAULTPLUG_HOME is private, the administrator's file absent unless a test writes
# it), and the helpers every script uses. Exit 0 = pass.
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

# fail MESSAGE: print it with both streams of the last run and stop; with VP_TEST_ALL set, count
# it and go on (to see every check an older build fails; the script reports $nfail at the end).
nfail=0
fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat "$out"
    echo "--- stderr"; cat "$err"
    [ -n "${VP_TEST_ALL:-}" ] || exit 1
    nfail=$((nfail + 1))
    return 0
}
# run ARGS...: runs vaultplug with stdin from /dev/null, sets $rc
run() {
    echo "+ vaultplug $*"
    "$vp" "$@" </dev/null >"$out" 2>"$err"
    rc=$?
}
# runin INPUT ARGS...: the same with INPUT (printf '%s') on stdin
runin() {
    input=$1
    shift
    echo "+ printf ... | vaultplug $*"
    printf '%s' "$input" | "$vp" "$@" >"$out" 2>"$err"
    rc=$?
}
# expect CODE WHAT: the last run exited CODE
expect() { [ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1"; }
