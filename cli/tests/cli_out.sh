#!/bin/sh
# cli_out.sh TEST VAULTPLUG WORKDIR ANSIDIR MOCKCLOUD SRCDIR - what the `vaultplug` command
# prints: provider text with terminal escapes (ANSIDIR holds the cliansi test provider), `refs`
# output fed back to `get` against the mock cloud, `cache stats`, `config show`, options after
# the command name, small message slips and exit statuses. Exit 0 = pass, 77 = skipped.
set -u
t=$1
vp=$2
work=$3/out-$t
ansi=$4
mockcloud=$5
src=$6
. "$(dirname "$0")/clilib.sh"
ESC=$(printf '\033')
BEL=$(printf '\007')
CR=$(printf '\r')

# no_raw FILE...: no ESC, BEL or CR byte, and no line that starts with "fake line"
no_raw() {
    for f in "$@"; do
        grep -q "$ESC\|$BEL\|$CR" "$f" && fail "a raw control character reached $f"
        grep -q '^fake line' "$f" && fail "a forged line in $f"
    done
    return 0
}
new_vault() {
    run vault init
    expect 0 "vault init"
    VAULTPLUG_VAULT_KEY=$(cat "$out")
    export VAULTPLUG_VAULT_KEY
}
mock_pid=
stop_mock() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    mock_pid=
}
trap stop_mock EXIT
start_mock() {
    "$mockcloud" --seed "$src/examples/mockcloud-seed.json" --env-out "$work/mock.env" \
        >"$work/mock.out" 2>"$work/mock.err" &
    mock_pid=$!
    i=0
    while [ $i -lt 100 ]; do
        grep -q '^ready$' "$work/mock.out" 2>/dev/null && break
        kill -0 "$mock_pid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    grep -q '^ready$' "$work/mock.out" || { cat "$work/mock.err"; echo "FAIL: no mock cloud"; exit 1; }
    # shellcheck disable=SC1091
    . "$work/mock.env"
}

case $t in
escapes)
    # A provider whose version, description, log line and failure message carry an OSC title,
    # a clear-screen and CR LF + a forged line: shown escaped everywhere, UTF-8 kept.
    export VAULTPLUG_PLUGIN_PATH="$ansi"
    run providers
    expect 0 "providers"
    no_raw "$out" "$err"
    grep -q 'cliansi' "$out" || fail "cliansi not listed"
    grep -qF '\x1b]0;pwned\x07\x1b[2J\r\nfake line' "$out" || fail "description/version not escaped as \\x1b...\\r\\n"
    grep -qF '\u009b31m' "$out" || fail "a C1 control (U+009B) not escaped"
    grep -q 'café' "$out" || fail "UTF-8 text not kept"
    # The columns still line up: the CAPS column of cliansi starts where the header's does.
    hcol=$(head -1 "$out" | awk '{print index($0, "CAPS")}')
    rcol=$(grep '^cliansi' "$out" | awk '{print index($0, "threadsafe")}')
    [ "$hcol" = "$rcol" ] || fail "CAPS column at $rcol, header at $hcol"
    run providers --json
    expect 0 "providers --json"
    no_raw "$out"
    # JSON keeps the real text (json-c escapes it as \u001b), and is valid: cmake parses it.
    grep -qF '\u001b]0;pwned\u0007' "$out" || fail "JSON does not carry the escaped text"
    cat >"$work/j.cmake" <<'CM'
file(READ "${F}" j)
string(JSON n LENGTH "${j}" providers)
message("${n}")
CM
    cmake -DF="$out" -P "$work/j.cmake" >/dev/null 2>&1 || fail "providers --json is not valid JSON"
    # A failure message of the provider, through get and render.
    run get cliansi://fail/x
    expect 6 "get of a failing reference"
    no_raw "$out" "$err"
    grep -qF 'cliansi: \x1b]0;pwned\x07\x1b[2J\r\nfake line' "$err" || fail "get error not escaped"
    printf 'a={%% vault "cliansi://fail/x" %%}\n' >"$work/t.tmpl"
    run render "$work/t.tmpl"
    expect 6 "render of a failing reference"
    no_raw "$out" "$err"
    grep -qF '\x1b]0;pwned' "$err" || fail "render error not escaped"
    # Its log line (-v shows warnings from providers) is escaped too.
    run -v get cliansi://ok/x
    expect 0 "get ok"
    no_raw "$err"
    grep -qF '[cliansi] log: \x1b]0;pwned' "$err" || fail "log line not escaped"
    ;;

refs_get)
    # Every three-argument tag of the bundled providers: `refs` prints a URI, `get` of that URI
    # gives what rendering the tag gives.
    for p in aws gcp hashicorp azure; do
        "$vp" providers --available --json 2>/dev/null | grep -q "\"name\": \"$p\"" || {
            echo "SKIP: provider $p not built"
            exit 77
        }
    done
    start_mock
    cat >"$work/t.tmpl" <<'T'
{% vault 'aws', '', '{"SecretId":"prod/db","SecretType":"kv","SecretKey":"password"}' %}
{% vault 'aws', '', '{"SecretId":"prod/db","VersionStage":"AWSCURRENT"}' %}
{% vault 'gcp', '', '{"secretName":"demo-project/stripe-key","version":"latest"}' %}
{% vault 'gcp', '', '{"secretName":"stripe-key"}' %}
{% vault 'hashicorp', '', '{"secretEnginePath":"secret","secretName":"orders/signing","secretKey":"hmac_key","kvVersion":2}' %}
{% vault 'hashicorp', '', '{"secretName":"secret/orders/signing","secretKey":"hmac_key"}' %}
{% vault 'azure', '', '{"secretIdentifier":"https://demo.vault.azure.net/secrets/webhook-token"}' %}
{% vault 'azure', '', '{"vault":"demo","name":"webhook-token"}' %}
T
    run render "$work/t.tmpl"
    expect 0 "render"
    cp "$out" "$work/rendered"
    [ "$(wc -l <"$work/rendered")" -eq 8 ] || fail "expected 8 rendered lines"
    run refs "$work/t.tmpl"
    expect 0 "refs"
    cp "$out" "$work/refs"
    [ "$(wc -l <"$work/refs")" -eq 8 ] || fail "expected 8 references"
    grep -q '?SecretId=\|://?' "$work/refs" && fail "refs still prints a pseudo-URI"
    grep -q '^aws://prod/db#password	1:[0-9]*$' "$work/refs" || fail "aws kv tag not aws://prod/db#password"
    i=0
    while IFS="$(printf '\t')" read -r uri pos; do
        i=$((i + 1))
        want=$(sed -n "${i}p" "$work/rendered")
        run get "$uri"
        expect 0 "get $uri (from line $pos)"
        [ "$(cat "$out")" = "$want" ] || fail "get $uri gave '$(cat "$out")', the tag renders '$want'"
    done <"$work/refs"
    # JSON: the same URI in "uri", the form named.
    run refs "$work/t.tmpl" --json
    grep -q '"form": "tag3"' "$out" || fail "no form in refs --json"
    grep -q '"uri": "aws://prod/db#password"' "$out" || fail "no uri for a tag3 reference"
    # A tag of a provider without a URI mapping keeps its identity, with a note.
    printf '%s\n' "{% vault 'echo', '', '{\"a\":\"b\"}' %}" >"$work/e.tmpl"
    run refs "$work/e.tmpl"
    expect 0 "refs of an unmapped tag"
    grep -q '^echo://?a=b' "$out" || fail "identity of an unmapped tag"
    grep -q 'no URI form' "$err" || fail "no note for an unmapped tag"
    ;;

cache_stats)
    new_vault
    run cache stats
    expect 0 "cache stats"
    grep -q ' $' "$out" && fail "trailing spaces"
    head -1 "$out" | grep -q 'THROTTLES  STALE' || fail "THROTTLES and STALE run together"
    # Every row has as many columns as the header.
    awk 'NR == 1 {n = NF} NF != n {exit 1}' "$out" || fail "ragged table"
    grep -q 'count this run only' "$err" || fail "no note that counters are per process"
    run cache stats --json
    expect 0 "cache stats --json"
    grep -q '"per_process": \[' "$out" || fail "JSON does not say which counters are per process"
    grep -q '"kept_cache_loaded": true' "$out" || fail "JSON kept_cache_loaded"
    # Without the key: say why every column is 0.
    unset VAULTPLUG_VAULT_KEY
    run cache stats
    expect 0 "cache stats without the key"
    grep -q 'the vault is locked' "$err" || fail "no hint why the kept cache is not shown"
    run cache stats --json
    grep -q '"kept_cache_loaded": false' "$out" || fail "JSON kept_cache_loaded without key"
    # An unknown provider: the error only, no table.
    run cache stats nosuch
    expect 3 "cache stats nosuch"
    [ -s "$out" ] && fail "a table before the error"
    grep -q "no loaded provider named 'nosuch'" "$err" || fail "no error for nosuch"
    ;;

config_show)
    export VAULTPLUG_AWS_TYPE=temporary
    export VAULTPLUG_AWS_ACCESS_KEY_ID=AKIAEXAMPLEPUBLIC01
    export VAULTPLUG_AWS_SECRET_ACCESS_KEY=canary-aws-secret-1a2b
    export VAULTPLUG_AZURE_ALLOW_HTTP=1
    export VAULTPLUG_GCP_TOKEN_URI=http://127.0.0.1:1/token
    export VAULTPLUG_GCP_ENDPOINT=http://127.0.0.1:1/sm
    export VAULTPLUG_HASHICORP_TOKEN=canary-hc-token-3c4d
    export VAULTPLUG_NOSUCH_API_KEY=canary-nosuch-key-5e6f
    export VAULTPLUG_NOSUCH_REGION=eu-west-9
    run config show
    expect 0 "config show"
    grep -q 'canary-' "$out" "$err" && fail "a secret value is shown"
    for v in AKIAEXAMPLEPUBLIC01 http://127.0.0.1:1/token http://127.0.0.1:1/sm eu-west-9; do
        grep -qF "$v" "$out" || fail "public value $v masked"
    done
    grep -q '^VAULTPLUG_AZURE_ALLOW_HTTP  *1  ' "$out" || fail "the ALLOW_HTTP switch is masked"
    # Names in one column: every value starts at the same column, two spaces after the longest.
    cols=$(awk '{ match($0, /^[^ ]+ +/); print RLENGTH }' "$out" | sort -u)
    [ "$(echo "$cols" | wc -l)" -eq 1 ] || fail "values do not start in one column: $cols"
    grep -q 'VAULTPLUG_AWS_SECRET_ACCESS_KEY  \*\*\*\*\*\*\*\*' "$out" ||
        fail "the longest name is not followed by two spaces"
    # plugin_dirs ends with the installed directory itself.
    grep '^plugin_dirs' "$out" | grep -q '/vaultplug/providers-1"\]' ||
        fail "plugin_dirs does not print the installed directory"
    run config show --json
    grep -q 'canary-' "$out" && fail "a secret in --json"
    grep -q '"value": "1"' "$out" || fail "ALLOW_HTTP masked in --json"
    ;;

options)
    # -v, -vv and -q after the command name, like before it.
    export VAULTPLUG_PLUGIN_PATH="$ansi"
    run get -v cliansi://ok/x
    expect 0 "get -v"
    grep -q '\[cliansi\] log:' "$err" || fail "-v after the command shows no warning line"
    run get -vv cliansi://ok/x
    expect 0 "get -vv"
    grep -q '^vaultplug: debug:' "$err" || fail "-vv after the command shows no debug line"
    run -vv get cliansi://ok/x
    grep -q '^vaultplug: debug:' "$err" || fail "-vv before the command"
    run get --verbose cliansi://ok/x
    expect 0 "get --verbose"
    run render -v -q --help
    expect 0 "render -v -q --help"
    run get -vx cliansi://ok/x
    expect 2 "-vx is no option"
    ;;

slips)
    # --env names the missing file once.
    printf 'x\n' >"$work/t.tmpl"
    run render "$work/t.tmpl" --env "$work/nosuch.json"
    expect 3 "--env of a missing file"
    n=$(grep -o 'nosuch.json' "$err" | wc -l)
    [ "$n" -eq 1 ] || fail "the file is named $n times"
    # ... and a bad file still names it (the library's message does not).
    printf '{bad' >"$work/bad.json"
    run render "$work/t.tmpl" --env "$work/bad.json"
    expect 2 "--env of a bad file"
    grep -q 'bad.json' "$err" || fail "the bad file is not named"
    run refs --help
    grep -q '"form"' "$out" || fail "refs --help omits form"
    run --help
    grep -q 'VAULTPLUG_SYSTEM_CONFIG' "$out" || fail "--help omits VAULTPLUG_SYSTEM_CONFIG"
    # demo.sh shows the command it runs.
    grep -q 'show vaultplug refs examples/request.http --env examples/env.json$' "$src/scripts/demo.sh" ||
        fail "demo.sh displays another refs command than it runs"
    # The GCP key file message has one colon.
    if "$vp" providers --available --json 2>/dev/null | grep -q '"name": "gcp"'; then
        GOOGLE_APPLICATION_CREDENTIALS=$work/nosuch-key.json run get gcp://p/s
        grep -q 'GOOGLE_APPLICATION_CREDENTIALS::' "$err" && fail "doubled colon"
        grep -q 'GOOGLE_APPLICATION_CREDENTIALS: cannot read' "$err" || fail "gcp key file message"
    fi
    ;;

exit_codes)
    # cache ttl where the configuration cannot be written: permission (5), not internal (9).
    # (As root, where mode bits do not stop us, a directory the kernel refuses: /sys.)
    mkdir -p "$VAULTPLUG_HOME"
    chmod 500 "$VAULTPLUG_HOME"
    if touch "$VAULTPLUG_HOME/probe" 2>/dev/null; then
        rm -f "$VAULTPLUG_HOME/probe"
        touch /sys/vaultplug-probe 2>/dev/null && { echo "SKIP: no unwritable directory"; exit 77; }
        export VAULTPLUG_CONFIG=/sys/vaultplug-test-config.json
    fi
    run cache ttl 3
    chmod 700 "$VAULTPLUG_HOME"
    expect 5 "cache ttl where the configuration cannot be written"
    grep -q 'Permission denied' "$err" || fail "no reason"
    unset VAULTPLUG_CONFIG
    # A value over the host's cap names the limit, and a limit exits 2 like a bad value.
    VAULTPLUG_PLUGIN_PATH="$ansi" run get cliansi://huge/x
    expect 2 "value over the cap"
    grep -q 'the limit for a secret value is 16777216 bytes (16 MiB)' "$err" ||
        fail "the limit is not named"
    # The three tables agree with the code: 2 covers limits.
    run --help
    grep -q '2  usage error, invalid input or a limit exceeded' "$out" || fail "--help table"
    grep -q '| 2 | usage error, invalid input or a limit exceeded' "$src/docs/guide.md" ||
        fail "guide table"
    grep -q 'Usage error, invalid input or a limit exceeded' "$src/docs/man/vaultplug.1" ||
        fail "man page table"
    ;;

ls)
    # `vaultplug ls` against the mock cloud: names (never values) of each of the four clouds,
    # sorted, each one fetchable as it is; --json; the errors a user meets.
    for p in aws gcp hashicorp azure; do
        "$vp" providers --available --json 2>/dev/null | grep -q "\"name\": \"$p\"" || {
            echo "SKIP: provider $p not built"
            exit 77
        }
    done
    start_mock
    run ls aws://
    expect 0 "ls aws://"
    printf 'db-credentials\ndb/credentials\ndb/password\nprod/db\n' >"$work/want"
    cmp -s "$out" "$work/want" || fail "aws names (sorted, all pages)"
    run ls aws://db/
    expect 0 "ls aws://db/"
    printf 'db/credentials\ndb/password\n' >"$work/want"
    cmp -s "$out" "$work/want" || fail "aws prefix db/"
    run get "aws://$(head -1 "$out")#password"
    expect 0 "get of a listed name"
    [ "$(cat "$out")" = docs-db-pw-1 ] || fail "the listed name does not fetch"
    run ls gcp://demo-project/
    expect 0 "ls gcp://demo-project/"
    [ "$(cat "$out")" = demo-project/stripe-key ] || fail "gcp names"
    run ls hashicorp://secret/
    expect 0 "ls hashicorp://secret/"
    [ "$(cat "$out")" = secret/orders/ ] || fail "hashicorp: one level, folder with a slash"
    run ls hashicorp://secret/orders
    expect 0 "ls hashicorp://secret/orders"
    [ "$(cat "$out")" = secret/orders/signing ] || fail "hashicorp folder without its slash"
    run ls azure://demo/
    expect 0 "ls azure://demo/"
    [ "$(cat "$out")" = demo.vault.azure.net/webhook-token ] || fail "azure names"
    # No value anywhere, whatever was listed.
    for v in aws-db-pw-7Hq2 docs-db-pw-2 sk_test_gcp_51Hx9 vault-hmac-3f9a azure-whk-88c1; do
        run ls aws://
        grep -q "$v" "$out" "$err" && fail "a value in ls output"
    done
    # Empty: nothing on stdout, a note on stderr, exit 0; -q drops the note.
    run ls aws://nothing-here/
    expect 0 "empty list"
    [ -s "$out" ] && fail "output for an empty list"
    grep -q 'no secrets under aws://nothing-here/' "$err" || fail "no note for an empty list"
    run ls -q aws://nothing-here/
    [ -s "$err" ] && fail "-q still notes the empty list"
    # --json: one valid document, the prefix and the names.
    run ls --json aws://db/
    expect 0 "ls --json"
    cat >"$work/j.cmake" <<'CM'
file(READ "${F}" j)
string(JSON n LENGTH "${j}" names)
string(JSON a GET "${j}" names 0)
string(JSON p GET "${j}" prefix)
message("${n} ${a} ${p}")
CM
    [ "$(cmake -DF="$out" -P "$work/j.cmake" 2>&1)" = "2 db/credentials aws://db/" ] ||
        fail "ls --json is not {prefix, names}"
    run ls --json aws://nothing-here/
    [ "$(tr -d ' \n' <"$out")" = '{"prefix":"aws://nothing-here/","names":[]}' ] ||
        fail "empty --json"
    # Errors: a provider without list, an unknown scheme, no scheme, an unknown credential,
    # params in a prefix, a mount missing, a denied listing.
    run ls echo://x/
    expect 9 "ls of a provider without list"
    grep -q 'provider echo cannot list secrets' "$err" || fail "no reason for echo"
    run ls nosuch://x/
    expect 3 "unknown scheme"
    run ls db/
    expect 2 "no scheme"
    grep -q "has no scheme" "$err" || fail "no hint for a missing scheme"
    run ls 'aws://db/?region=us-east-1'
    expect 2 "params in a prefix"
    grep -q 'takes no ?parameters' "$err" || fail "no reason for params"
    run ls aws://nobody@db/
    expect 3 "unknown credential"
    run ls hashicorp://
    expect 2 "hashicorp without a mount"
    grep -q 'give the KV mount' "$err" || fail "no hint for the mount"
    run ls
    expect 2 "no argument"
    ;;

*)
    echo "unknown test $t"
    exit 2
    ;;
esac
echo "ok: $t"
exit 0
