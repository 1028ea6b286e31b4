# mockrun.sh - sourced by the command's tests against the mock cloud (cache_identity.sh,
# isolated.sh) once $vp, $mock, $seed and $work are set: a fresh private $work, fail(), the
# mock cloud started from $seed with a request trace ($work/mock.log) and its variables
# exported, and a private vaultplug setup (VAULTPLUG_SYSTEM_CONFIG is $work/sys.json, absent
# until a test writes it). The mock is stopped on exit.
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; }
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    [ -f "$work/out" ] && { echo "--- stdout"; cat "$work/out"; }
    [ -f "$work/err" ] && { echo "--- stderr"; cat "$work/err"; }
    exit 1
}

"$mock" --seed "$seed" --env-out "$work/mock.env" --trace "$work/mock.log" >"$work/mock.out" \
    2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do
    grep -q '^ready$' "$work/mock.out" 2>/dev/null && break
    sleep 0.1
done
grep -q '^ready$' "$work/mock.out" || fail "mock cloud did not start: $(cat "$work/mock.err")"
. "$work/mock.env"
export VAULTPLUG_SYSTEM_CONFIG=$work/sys.json VAULTPLUG_HOME=$work/home HOME=$work/userhome
export VAULTPLUG_CONFIG=$work/noconfig.json
unset VAULTPLUG_PLUGIN_PATH VAULTPLUG_ENABLED_PROVIDERS VAULTPLUG_CACHE_TTL
mkdir -p "$HOME"
