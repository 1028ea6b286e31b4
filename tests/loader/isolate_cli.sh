#!/bin/sh
# isolate_cli.sh TEST VAULTPLUG WORKDIR BROKENDIR PROVIDERDIR - the command beside providers
# that crash or hang (issue 18, item 6; tests/loader/modules/testmod.c variants 16-19) in
# BROKENDIR, with the echo provider of the build tree (PROVIDERDIR). Exit 0 = pass.
set -u
t=$1
vp=$2
work=$3/$t
broken=$4
provs=$5
. "$(dirname "$0")/../../cli/tests/clilib.sh"

# Everything beside echo, the way an administrator would have installed them.
plug=$work/plugins
mkdir -p "$plug"
chmod 700 "$plug"
cp "$provs/echo.so" "$broken"/lt*.so "$plug/"
export VAULTPLUG_PLUGIN_PATH="$plug"
export VAULTPLUG_HTTP_TIMEOUT_MS=500

# elapsed ms of the last `timed` run
timed() {
    s=$(date +%s%N)
    run "$@"
    ms=$((($(date +%s%N) - s) / 1000000))
}

case $t in
lazy)
    # No command that needs no provider initialises one, and get initialises only its own.
    timed get echo://hello
    expect 0 "get echo://x beside crashing and hanging providers"
    [ "$(cat "$out")" = "echo:hello" ] || fail "wrong value"
    [ "$ms" -lt 3000 ] || fail "get echo took $ms ms"
    printf 'a {%% vault "echo://x" %%}\n' >"$work/t.tmpl"
    run refs "$work/t.tmpl"
    expect 0 "refs"
    run cache stats
    expect 0 "cache stats"
    run config show
    expect 0 "config show"
    run vault init
    expect 0 "vault init"
    export VAULTPLUG_VAULT_KEY="$(cat "$out")"
    run vault list
    expect 0 "vault list"
    run render "$work/t.tmpl"
    expect 0 "render of an echo reference"
    ;;
providers)
    timed providers
    expect 0 "providers"
    [ "$ms" -lt 5000 ] || fail "providers took $ms ms"
    grep -Eq '^echo +loaded' "$out" || fail "echo not loaded"
    grep -Eq '^ltinitsegv +failed' "$out" || fail "ltinitsegv not failed"
    # (SIGSEGV; under AddressSanitizer, which catches it, SIGABRT; under ThreadSanitizer an
    # exit with status 66)
    grep -Eq 'reason: init (crashed \(signal (11, Segmentation fault|6, Aborted)\)|exited the process \(status 66\))' "$out" ||
        fail "no crash reason"
    grep -Eq '^ltinithang +failed' "$out" || fail "ltinithang not failed"
    grep -q 'reason: init did not finish within 0.5 s (VP_ETIMEDOUT)' "$out" ||
        fail "no init timeout reason"
    # Their init is fine: only their fetches misbehave.
    grep -Eq '^ltfetchhang +loaded' "$out" || fail "ltfetchhang not loaded"
    grep -Eq '^ltfetchsegv +loaded' "$out" || fail "ltfetchsegv not loaded"
    run providers --json
    expect 0 "providers --json"
    grep -q '"state": "failed"' "$out" || fail "no failed state in JSON"
    ;;
deadlines)
    timed get ltinithang://x
    expect 6 "a provider whose init hangs"
    [ "$ms" -lt 3000 ] || fail "took $ms ms"
    grep -q 'ltinithang: init did not finish within 0.5 s' "$err" || fail "no clear message"
    timed get ltfetchhang://x
    expect 6 "a fetch that ignores cancellation"
    [ "$ms" -lt 3000 ] || fail "took $ms ms"
    grep -q 'ltfetchhang: fetch did not finish by its deadline and ignored cancellation' "$err" ||
        fail "no clear message"
    printf '{%% vault "echo://a" %%} {%% vault "ltfetchhang://b" %%}\n' >"$work/t.tmpl"
    timed render "$work/t.tmpl"
    expect 6 "render with a hanging reference"
    [ "$ms" -lt 3000 ] || fail "took $ms ms"
    run get ltfetchhang://ok
    expect 0 "the same provider's cooperative path"
    timed ls ltfetchhang://x/
    expect 6 "a list that ignores cancellation"
    [ "$ms" -lt 3000 ] || fail "ls took $ms ms"
    grep -q 'ltfetchhang: list did not finish by its deadline and ignored cancellation' "$err" ||
        fail "no clear message for ls"
    ;;
isolated)
    # The administrator switches isolation on: a crash fails only its reference, with the
    # signal, and the next command (or reference) gets a new helper.
    printf '{"isolate_providers": true}\n' >"$VAULTPLUG_SYSTEM_CONFIG"
    run get echo://hi
    expect 0 "get echo://hi, isolated"
    [ "$(cat "$out")" = "echo:hi" ] || fail "wrong value"
    grep -q "unknown setting" "$err" && fail "the command does not know isolate_providers"
    run get ltfetchsegv://boom
    expect 6 "a fetch that crashes, isolated"
    grep -Eq 'ltfetchsegv: (the provider crashed during fetch \(signal (11|6), |its helper process exited \(status 66\) during fetch)' "$err" ||
        fail "no message naming the provider and the signal"
    run get ltfetchsegv://ok
    expect 0 "the same provider again"
    printf 'a={%% vault "ltfetchsegv://boom" %%}\n' >"$work/t.tmpl"
    run render "$work/t.tmpl"
    expect 6 "render with a crashing reference, isolated"
    timed get ltfetchhang://x
    expect 6 "a fetch that hangs, isolated"
    [ "$ms" -lt 3000 ] || fail "took $ms ms"
    grep -q 'its helper process was stopped' "$err" || fail "no clear message"
    # Values are kept between runs when the helper reports everything the provider read
    # (the same process id twice: the second run did not fetch), never when it cannot.
    run vault init
    expect 0 "vault init"
    VAULTPLUG_VAULT_KEY="$(cat "$out")"
    export VAULTPLUG_VAULT_KEY
    run get ltfetchsegv://pid
    expect 0 "get, isolated"
    first=$(cat "$out")
    run get ltfetchsegv://pid
    [ "$(cat "$out")" = "$first" ] || fail "an isolated value was not kept between runs"
    run get ltfetchsegv://pid-many
    expect 0 "get of a value with too many inputs, isolated"
    first=$(cat "$out")
    run get ltfetchsegv://pid-many
    [ "$(cat "$out")" != "$first" ] || fail "a value of unknown inputs was kept between runs"
    run ls ltfetchhang://ok
    expect 0 "ls, isolated"
    [ "$(cat "$out")" = "$(printf 'ok/a\nok/b')" ] || fail "ls, isolated: wrong names"
    timed ls ltfetchhang://x/
    expect 6 "a list that hangs, isolated"
    [ "$ms" -lt 3000 ] || fail "ls took $ms ms"
    grep -q 'ltfetchhang: list did not finish by its deadline; its helper process was stopped' \
        "$err" || fail "no clear message for ls"
    ;;
*)
    echo "unknown test $t"
    exit 2
    ;;
esac
exit "$nfail"
