#!/bin/sh
# cache_identity.sh VAULTPLUG MOCKCLOUD SEED WORKDIR - the cache kept between runs (cache.vpc) is
# per identity, for every provider, whether a run fetched or only hit the cache (insomnia-fidelity
# C9). For each provider: cache reset -> fetch -> hit (the mock cloud is not asked) -> the same
# reference with a changed credential, endpoint or credential file must not get the cached
# value, and the unchanged identity still hits afterwards.
set -u
vp=$1
mock=$2
seed=$3
work=$4
. "$(dirname "$0")/mockrun.sh"
VAULTPLUG_VAULT_KEY=$("$vp" vault init -q 2>/dev/null) || fail "vault init"
export VAULTPLUG_VAULT_KEY

requests() { wc -l <"$work/mock.log"; }

# get NAME REF WANT: prints the value; fails unless it is WANT
get() {
    "$vp" get "$2" >"$work/out" 2>"$work/err" || fail "$1: get $2 exited $?"
    [ "$(cat "$work/out")" = "$3" ] || fail "$1: got '$(cat "$work/out")', want '$3'"
}
# hit NAME REF WANT: like get, and the mock cloud saw no request
hit() {
    before=$(requests)
    get "$1" "$2" "$3"
    [ "$(requests)" = "$before" ] || fail "$1: expected a cache hit, the mock cloud was asked"
}
# refused NAME REF VALUE: the run must not print VALUE (the cached one) and must fail
refused() {
    "$vp" get "$2" >"$work/out" 2>"$work/err"
    rc=$?
    grep -q -- "$3" "$work/out" && fail "$1: the cached value was served to another identity"
    [ $rc -ne 0 ] || fail "$1: exit 0 with another identity"
    echo "ok: $1 (exit $rc)"
}

# sequence PROVIDER REF VALUE VAR BAD: reset -> fetch -> hit -> hit (a second hit-only run, the
# case of C9) -> VAR=BAD refused -> the original identity still hits.
sequence() {
    p=$1 ref=$2 val=$3 var=$4 bad=$5
    "$vp" cache reset >/dev/null 2>&1 || fail "$p: cache reset"
    get "$p fetch" "$ref" "$val"
    hit "$p hit" "$ref" "$val"
    hit "$p hit again" "$ref" "$val"
    (export "$var=$bad"; refused "$p with $var changed" "$ref" "$val") || exit 1
    hit "$p hit after" "$ref" "$val"
}

sequence aws 'aws://prod/db#password' aws-db-pw-7Hq2 AWS_SECRET_ACCESS_KEY bogusbogusbogus
sequence aws 'aws://prod/db#password' aws-db-pw-7Hq2 AWS_ENDPOINT_URL http://127.0.0.1:1
sequence hashicorp 'hashicorp://secret/orders/signing#hmac_key' vault-hmac-3f9a VAULT_TOKEN hvs.bogus
sequence hashicorp 'hashicorp://secret/orders/signing#hmac_key' vault-hmac-3f9a VAULT_ADDR http://127.0.0.1:1
sequence gcp 'gcp://demo-project/stripe-key' sk_test_gcp_51Hx9 GOOGLE_APPLICATION_CREDENTIALS "$work/nosuch.json"
sequence gcp 'gcp://demo-project/stripe-key' sk_test_gcp_51Hx9 VAULTPLUG_GCP_ENDPOINT http://127.0.0.1:1
azref='azure://demo.vault.azure.net/webhook-token'
sequence azure "$azref" azure-whk-88c1 AZURE_CLIENT_SECRET bogus-secret
sequence azure "$azref" azure-whk-88c1 VAULTPLUG_AZURE_VAULT_URL http://127.0.0.1:1

# A credential file's contents are part of the identity too, in a hit-only run: the GCP service
# account file replaced by another account's key must not read the first account's cached value.
"$vp" cache reset >/dev/null 2>&1
get "gcp file fetch" 'gcp://demo-project/stripe-key' sk_test_gcp_51Hx9
hit "gcp file hit" 'gcp://demo-project/stripe-key' sk_test_gcp_51Hx9
cp "$GOOGLE_APPLICATION_CREDENTIALS" "$work/sa.json"
sed 's/"private_key_id": *"[^"]*"/"private_key_id": "changed"/' "$work/sa.json" >"$work/sa2.json"
cmp -s "$work/sa.json" "$work/sa2.json" && fail "could not change the key file"
(GOOGLE_APPLICATION_CREDENTIALS=$work/sa2.json
 export GOOGLE_APPLICATION_CREDENTIALS
 before=$(requests)
 "$vp" get 'gcp://demo-project/stripe-key' >"$work/out" 2>"$work/err"
 [ "$(requests)" != "$before" ] || fail "gcp: another key file was served from the cache") || exit 1
# Isolated providers (isolate_providers) read their environment in a helper process, which
# reports what was read with each value: their values are kept between runs like the others,
# with the same identity, and a changed token or address does not get them.
printf '{"isolate_providers": true}\n' >"$VAULTPLUG_SYSTEM_CONFIG"
sequence "isolated hashicorp" 'hashicorp://secret/orders/signing#hmac_key' vault-hmac-3f9a \
    VAULT_TOKEN hvs.bogus
sequence "isolated hashicorp" 'hashicorp://secret/orders/signing#hmac_key' vault-hmac-3f9a \
    VAULT_ADDR http://127.0.0.1:1
sequence "isolated aws" 'aws://prod/db#password' aws-db-pw-7Hq2 AWS_SECRET_ACCESS_KEY bogusbogusbogus
# A value fetched in process and one fetched isolated have the same identity: switching
# isolation on or off does not lose the cache.
rm -f "$VAULTPLUG_SYSTEM_CONFIG"
hit "in process after isolated" 'aws://prod/db#password' aws-db-pw-7Hq2
echo "cache identity ok: 4 providers, reset -> fetch -> hit -> changed identity; isolated too"
