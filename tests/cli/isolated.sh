#!/bin/sh
# isolated.sh CASE VAULTPLUG MOCKCLOUD SEED WORKDIR - isolate_providers through the command
# against the mock cloud: what works in process works the same in a helper process.
#   tag3  Insomnia's three-argument form (aws and azure tags as in examples/request.http)
#   ls    listing (vaultplug ls)
set -u
case_=$1
vp=$2
mock=$3
seed=$4
work=$5
. "$(dirname "$0")/mockrun.sh"
export VAULTPLUG_CACHE_TTL=0
isolated() { printf '{"isolate_providers": true}\n' >"$VAULTPLUG_SYSTEM_CONFIG"; }
in_process() { rm -f "$VAULTPLUG_SYSTEM_CONFIG"; }
# run NAME CMD...: must exit 0; its stdout in $work/out
run() {
    name=$1
    shift
    "$vp" "$@" >"$work/out" 2>"$work/err" || fail "$name: vaultplug $* exited $?"
}
# same NAME CMD...: the same output isolated as in process
same() {
    what=$1
    shift
    in_process
    run "$what in process" "$@"
    cp "$work/out" "$work/want"
    isolated
    run "$what isolated" "$@"
    cmp -s "$work/out" "$work/want" || {
        diff "$work/want" "$work/out"
        fail "$what: isolated output differs from in process"
    }
    in_process
}

case $case_ in
tag3)
    cat >"$work/t.tmpl" <<'T'
db={% vault 'aws', '', '{"SecretId":"prod/db","SecretType":"kv","SecretKey":"password"}' %}
whk={% vault 'azure', '', '{"secretIdentifier":"https://demo.vault.azure.net/secrets/webhook-token"}' %}
T
    same "three-argument tags" render "$work/t.tmpl"
    printf 'db=aws-db-pw-7Hq2\nwhk=azure-whk-88c1\n' | cmp -s - "$work/out" ||
        fail "three-argument tags: unexpected values"
    # Bad input in the config JSON gets the provider's own message, isolated as in process.
    printf "{%% vault 'aws', '', '{\"SecretId\":\"prod/db\",\"SecretType\":\"xml\"}' %%}\n" \
        >"$work/bad.tmpl"
    isolated
    "$vp" render "$work/bad.tmpl" >"$work/out" 2>"$work/err" && fail "bad SecretType accepted"
    grep -q 'SecretType must be "plaintext" or "kv"' "$work/err" ||
        fail "bad SecretType: not the provider's message"
    # A field too long for the helper protocol is refused with the limit (exit 2), not sent.
    long=$(head -c 70000 /dev/zero | tr '\0' x)
    printf "{%% vault 'aws', '', '{\"SecretId\":\"%s\"}' %%}\n" "$long" >"$work/long.tmpl"
    "$vp" render "$work/long.tmpl" >"$work/out" 2>"$work/err"
    [ $? -eq 2 ] || fail "a 70000-byte SecretId isolated: not exit 2"
    grep -q 'aws: a part of the reference is longer than 65536 bytes' "$work/err" ||
        fail "a 70000-byte SecretId isolated: no clear message"
    in_process
    echo "ok: three-argument aws and azure tags isolated"
    ;;
ls)
    same "ls aws" ls aws://prod/
    grep -qx 'prod/db' "$work/out" || fail "ls aws: prod/db not listed"
    same "ls hashicorp" ls hashicorp://secret/orders/
    grep -qx 'secret/orders/signing' "$work/out" || fail "ls hashicorp: signing not listed"
    same "ls azure" ls --json azure://demo.vault.azure.net/
    grep -q 'webhook-token' "$work/out" || fail "ls azure: webhook-token not listed"
    # A prefix with nothing under it is an empty list, not an error, isolated too.
    same "ls empty" ls aws://no/such/prefix/
    [ ! -s "$work/out" ] || fail "ls empty: listed something"
    echo "ok: ls isolated (aws, hashicorp, azure)"
    ;;
*) fail "unknown case $case_" ;;
esac
