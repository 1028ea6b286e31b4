#!/usr/bin/env bash
# The main job, one command on a fresh Debian machine (as root, or with sudo for apt-get):
# installs the dependencies, builds (dev preset), creates a temporary local vault and stores a
# secret in it, starts the mock cloud (AWS, GCP, HashiCorp Vault, Azure on loopback, seeded from
# examples/mockcloud-seed.json), and renders examples/request.http with examples/env.json:
# first with secrets masked, then for real. Everything it creates lives in a temporary
# directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# VP_DEMO_BUILD=DIR runs an existing build instead (with VP_DEMO_NO_BUILD=1: no install, no
# build step), which is how the test suite runs this script.
if [ -z "${VP_DEMO_NO_BUILD:-}" ]; then
    scripts/deps.sh
    cmake --preset dev >/dev/null
    cmake --build --preset dev -j "${VP_JOBS:-$(nproc)}" >/dev/null
fi

vp=${VP_DEMO_BUILD:-$PWD/build/dev}/cli/vaultplug
mockcloud=${VP_DEMO_BUILD:-$PWD/build/dev}/tests/mockcloud/vaultplug-mockcloud
work=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A vault of our own, not the user's: VAULTPLUG_HOME holds the vault, the cache and the config.
export VAULTPLUG_HOME=$work/home
show() {
    echo "\$ $*"
}

show vaultplug vault init
"$vp" vault init --quiet >"$work/vault-key" 2>/dev/null
echo "(the key it printed went to a 0600 file; it is shown once and cannot be recovered)"
chmod 600 "$work/vault-key"
export VAULTPLUG_VAULT_KEY
VAULTPLUG_VAULT_KEY=$(tr -d '\n' <"$work/vault-key")

show "printf '%s' 'tok_live_4f8a2c' | vaultplug vault set api_token"
printf '%s' 'tok_live_4f8a2c' | "$vp" vault set api_token --quiet
echo

# The mock cloud prints the variables that point each provider at it (endpoints and a
# credential per cloud, used through each provider's default credential chain).
show vaultplug-mockcloud --seed examples/mockcloud-seed.json
"$mockcloud" --seed examples/mockcloud-seed.json --env-out "$work/mock.env" >"$work/mock.out" \
    2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do
    grep -q '^ready$' "$work/mock.out" 2>/dev/null && break
    kill -0 "$mock_pid" 2>/dev/null || { cat "$work/mock.err" >&2; exit 1; }
    sleep 0.1
done
grep -q '^ready$' "$work/mock.out" || { echo "mock cloud did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/mock.env"
echo "(serving AWS Secrets Manager, GCP Secret Manager, HashiCorp Vault and Azure Key Vault on loopback)"
echo

show vaultplug refs examples/request.http --env examples/env.json
"$vp" refs examples/request.http --env examples/env.json
echo

show vaultplug render examples/request.http --env examples/env.json --mask
"$vp" render examples/request.http --env examples/env.json --mask
echo

show vaultplug render examples/request.http --env examples/env.json
"$vp" render examples/request.http --env examples/env.json
