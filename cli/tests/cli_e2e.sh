#!/bin/sh
# cli_e2e.sh TEST VAULTPLUG WORKDIR MODSDIR - the `vaultplug` command used the way a person (or a
# script) uses it: a private VAULTPLUG_HOME, the echo provider of the build tree and the clifault
# test provider (MODSDIR), stdin from /dev/null unless a test pipes into it. Each test prints what
# it ran and why it failed; exit 0 = pass.
set -u
t=$1
vp=$2
work=$3/$t
mods=$4
. "$(dirname "$0")/clilib.sh"
CANARY="canary-7f3a9c1e-do-not-leak"

no_canary() { # the canary is in neither stream
    grep -q "$CANARY" "$out" "$err" && fail "canary leaked: $*"
    return 0
}
mode_of() { stat -c %a "$1"; }

# jget FILE KEY... - a member of a JSON document, read by CMake's parser (independent of the
# json-c that wrote it); fails the test if the document is not valid JSON.
jget() {
    f=$1
    shift
    cat >"$work/jget.cmake" <<CM
file(READ "\${F}" j)
string(JSON v ERROR_VARIABLE e GET "\${j}" ${*})
if(e)
    message(FATAL_ERROR "\${e}")
endif()
message("\${v}")
CM
    cmake -DF="$f" -P "$work/jget.cmake" 2>&1 || fail "invalid JSON or no member $*"
}

new_vault() {
    run vault init
    expect 0 "vault init"
    KEY=$(cat "$out")
    export VAULTPLUG_VAULT_KEY="$KEY"
}

case $t in
vault_lifecycle)
    run vault init
    expect 0 "vault init"
    KEY=$(cat "$out")
    echo "$KEY" | grep -Eq '^vpk1_[A-Za-z0-9_-]{43}$' || fail "stdout is not exactly the key"
    grep -q "cannot be recovered" "$err" || fail "no warning that the key cannot be recovered"
    grep -q "vpk1_" "$err" && fail "the key is also on stderr"
    [ "$(mode_of "$VAULTPLUG_HOME/vault.vpv")" = 600 ] || fail "vault file not 0600"
    [ "$(mode_of "$VAULTPLUG_HOME")" = 700 ] || fail "data dir not 0700"
    run vault init
    expect 9 "second init"
    grep -q "already exists" "$err" || fail "no 'already exists' message"
    # No key anywhere (and no terminal): a clear message, auth class.
    run vault list
    expect 4 "list without a key"
    grep -q "VAULTPLUG_VAULT_KEY" "$err" || fail "no hint where the key comes from"
    export VAULTPLUG_VAULT_KEY="$KEY"
    runin "$CANARY
" vault set api_token
    expect 0 "vault set"
    no_canary "vault set"
    run vault get api_token
    expect 0 "vault get"
    [ "$(cat "$out")" = "$CANARY" ] || fail "value differs (trailing newline must be dropped)"
    printf 'two\nlines\n\n' | "$vp" vault set multi >"$out" 2>"$err" || fail "set multi"
    run vault get multi
    [ "$(od -An -c "$out" | tr -d ' ')" = 'two\nlines\n' ] || fail "only ONE newline is dropped"
    runin "quiet-value" -q vault set quiet
    expect 0 "set --quiet"
    [ -s "$err" ] && fail "--quiet still printed a message"
    run vault list
    expect 0 "list"
    [ "$(cat "$out")" = "api_token
multi
quiet" ] || fail "list output"
    no_canary "list"
    run vault list --json
    [ "$(jget "$out" secrets 0)" = api_token ] || fail "json list"
    run vault get nope
    expect 3 "get of a missing secret"
    run vault set 'bad name'
    expect 2 "invalid name"
    run vault rm multi
    expect 0 "rm"
    run vault rm multi
    expect 3 "rm again"
    # Key file instead of the variable; a wrong key is an auth failure.
    printf '%s\n' "$KEY" >"$work/key"
    chmod 600 "$work/key"
    unset VAULTPLUG_VAULT_KEY
    run vault get api_token --vault-key-file "$work/key"
    expect 0 "key file"
    run --vault-key-file "$work/key" vault list
    expect 0 "key file as a global option"
    VAULTPLUG_VAULT_KEY=vpk1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA run vault list
    expect 4 "wrong key"
    no_canary "wrong key"
    # Rekey: the new key works, the old one does not.
    export VAULTPLUG_VAULT_KEY="$KEY"
    run vault rekey
    expect 0 "rekey"
    NEW=$(cat "$out")
    [ "$NEW" != "$KEY" ] || fail "rekey printed the old key"
    run vault list
    expect 4 "old key after rekey"
    VAULTPLUG_VAULT_KEY="$NEW" run vault get api_token
    expect 0 "new key after rekey"
    # Reset needs a confirmation; without a terminal that is --yes.
    unset VAULTPLUG_VAULT_KEY
    run vault reset
    expect 2 "reset without --yes"
    run vault reset --yes
    expect 0 "reset --yes"
    R=$(cat "$out")
    grep -q "permanently deleted" "$err" || fail "no reset notice"
    VAULTPLUG_VAULT_KEY="$R" run vault list
    expect 0 "list after reset"
    [ -s "$out" ] && fail "secrets survived the reset"
    ;;
vault_tampered)
    new_vault
    runin "value-1" vault set a
    # Flip every bit of one byte inside the record area (writing a fixed value would change
    # nothing when the byte already holds it, 1 time in 256): the MAC no longer matches.
    f="$VAULTPLUG_HOME/vault.vpv"
    size=$(stat -c %s "$f")
    off=$((size - 40))
    cp "$f" "$work/before"
    byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
    printf "\\$(printf '%03o' $((byte ^ 255)))" | dd of="$f" bs=1 seek=$off conv=notrunc 2>/dev/null
    cmp -s "$f" "$work/before" && fail "the byte was not changed"
    run vault get a
    expect 8 "tampered vault"
    grep -qi "tamper\|corrupt\|damaged\|integrity\|MAC" "$err" || fail "message does not say why"
    ;;
vault_import)
    # The Insomnia fixtures of the vault tests (VP_INSOMNIA_DIR); the Insomnia key on stdin.
    fx=${VP_INSOMNIA_DIR:?}
    new_vault
    runin "$(cat "$fx/wrong_key.txt")" vault import-insomnia "$fx/export_v4.json"
    expect 4 "wrong Insomnia key"
    run vault list
    [ -s "$out" ] && fail "a failed import wrote secrets"
    runin "$(cat "$fx/key.txt")" vault import-insomnia "$fx/export_v4.json"
    expect 0 "import"
    grep -q "imported" "$err" || fail "no summary"
    grep -q "bad name" "$err" || fail "skipped names not reported"
    grep -q "$(cut -c1-20 "$fx/key.txt")" "$out" "$err" && fail "the Insomnia key was echoed"
    run vault get api_token
    [ "$(cat "$out")" = "tok-123456" ] || fail "imported value"
    runin "$(cat "$fx/key.txt")" vault import-insomnia "$fx/export_v4.json"
    expect 0 "import again"
    grep -q "kept (already in the vault" "$err" || fail "clashes not reported"
    run vault import-insomnia "$work/nope.json"
    [ $rc -ne 0 ] || fail "import of a missing file"
    ;;
render)
    new_vault
    runin "$CANARY" vault set api_token
    cat >"$work/base.json" <<'J'
{"host": "api.example.com", "user": {"name": "base", "id": 7}}
J
    cat >"$work/prod.json" <<'J'
{"user": {"name": "prod"}}
J
    cat >"$work/req.http" <<'T'
GET https://{{ host }}/users/{{ user.id }}
X-User: {{ user.name }}
Authorization: Bearer {{ vault.api_token }}
X-Echo: {% vault "echo://demo/value" %}
T
    run render "$work/req.http" --env "$work/base.json" --env "$work/prod.json"
    expect 0 "render"
    grep -q "^GET https://api.example.com/users/7$" "$out" || fail "env values"
    grep -q "^X-User: prod$" "$out" || fail "later --env must win"
    grep -q "^Authorization: Bearer $CANARY$" "$out" || fail "vault value"
    grep -q "^X-Echo: echo:demo/value$" "$out" || fail "provider value"
    grep -q "$CANARY" "$err" && fail "canary on stderr"
    run render "$work/req.http" --env "$work/base.json" --mask
    expect 0 "render --mask"
    no_canary "--mask"
    grep -q "^Authorization: Bearer ••••••$" "$out" || fail "mask"
    grep -q "echo:demo" "$out" && fail "external value shown with --mask"
    # --output: mode 0600, replaced atomically, nothing on stdout.
    echo "old" >"$work/out.txt"
    chmod 644 "$work/out.txt"
    run render "$work/req.http" --env "$work/base.json" -o "$work/out.txt"
    expect 0 "render -o"
    [ -s "$out" ] && fail "render -o wrote to stdout"
    [ "$(mode_of "$work/out.txt")" = 600 ] || fail "output file not 0600"
    grep -q "Bearer $CANARY" "$work/out.txt" || fail "output file content"
    ls "$work" | grep -q 'out.txt.vp' && fail "temporary file left behind"
    # stdin template; the JSON form.
    echo 'v={{ vault.api_token | upper }}' | "$vp" render - --json >"$out" 2>"$err"
    [ "$(jget "$out" masked)" = OFF ] || [ "$(jget "$out" masked)" = false ] || fail "json masked"
    # Errors: undefined variable (usage class), missing template file, bad syntax.
    echo 'x={{ nope.deeper }}' >"$work/undef.t"
    run render "$work/undef.t"
    expect 2 "undefined variable"
    grep -q "line 1" "$err" || fail "no position in the message"
    run render "$work/missing.t"
    expect 3 "missing template"
    echo '{% if %}' >"$work/syntax.t"
    run render "$work/syntax.t"
    expect 2 "syntax error"
    run render "$work/req.http" --output
    expect 2 "--output without a value"
    ;;
render_locked)
    new_vault
    runin "v" vault set api_token
    unset VAULTPLUG_VAULT_KEY
    echo 'a={{ vault.api_token }}' >"$work/t"
    run render "$work/t"
    [ $rc -ne 0 ] || fail "render of a vault value without the key succeeded"
    grep -q "vault is locked" "$err" || fail "no hint that the vault key is missing"
    # A template that does not need the vault renders without the key.
    echo 'b={% vault "echo://x" %}' >"$work/t2"
    run render "$work/t2"
    expect 0 "render without vault use"
    ;;
get_refs)
    run get echo://demo/token
    expect 0 "get"
    [ "$(cat "$out")" = "echo:demo/token" ] || fail "value"
    [ "$(od -An -c "$out" | tr -d ' ' | tail -c 3)" != '\n' ] || fail "newline added on a pipe"
    run get 'echo://json/db#password'
    expect 0 "get #key"
    run get echo://missing/x
    expect 3 "missing"
    run get echo://denied/x
    expect 5 "denied"
    run get 'not a reference'
    expect 2 "malformed"
    run get nosuch://x
    expect 3 "unknown scheme"
    cat >"$work/t" <<'T'
{% vault "echo://a/one" %}{% if env == "prod" %}{% vault "echo://a/prod" %}{% endif %}
{% vault "echo://a/one" %}
T
    echo '{"env": "prod"}' >"$work/prod.json"
    run refs "$work/t"
    expect 0 "refs"
    [ "$(wc -l <"$out")" -eq 1 ] || fail "dedup / control flow: $(cat "$out")"
    grep -Eq "^echo://a/one	1:[0-9]+$" "$out" || fail "text form"
    run refs "$work/t" --env "$work/prod.json" --json
    expect 0 "refs --json"
    [ "$(jget "$out" references 1 uri)" = "echo://a/prod" ] || fail "json uri"
    [ "$(jget "$out" references 1 scheme)" = "echo" ] || fail "json scheme"
    run refs
    expect 2 "refs without a file"
    ;;
cred)
    new_vault
    run cred types echo
    expect 0 "cred types"
    grep -Eq "token +secret, required" "$out" || fail "types list secret flags"
    run cred types echo --json
    [ "$(jget "$out" types 0 fields 0 secret)" = ON ] ||
        [ "$(jget "$out" types 0 fields 0 secret)" = true ] || fail "types json"
    # A secret field on the command line is refused, and the value is not repeated.
    run cred add echo demo --type token --field "token=$CANARY"
    expect 2 "secret on argv"
    no_canary "secret on argv"
    grep -q "secret field" "$err" || fail "no explanation"
    grep -q "standard input" "$err" || fail "no hint how to pass it"
    run cred list
    [ -s "$out" ] && fail "refused credential was stored"
    # From stdin; the provider validates it first.
    runin "$CANARY" cred add echo demo --type token --field prefix=P:
    expect 0 "cred add"
    no_canary "cred add"
    runin "bad" cred add echo rejected --type token
    expect 4 "rejected credential"
    runin "bad" cred add echo stored --type token --no-validate
    expect 0 "--no-validate"
    # Several secret fields: KEY=VALUE lines (here one named explicitly with a bare --field).
    runin "token=$CANARY" cred add echo lines --type token --field token
    expect 0 "KEY=VALUE input"
    run cred list
    expect 0 "cred list"
    no_canary "cred list"
    grep -Eq "^echo +demo +token +prefix=P: token=\*\*\*\*\*\*\*\*$" "$out" || fail "list masks"
    run cred list --json
    [ "$(jget "$out" credentials 0 fields token)" = "********" ] || fail "json masks"
    run get echo://demo@x/y
    expect 0 "get with a stored credential"
    [ "$(cat "$out")" = "P:x/y" ] || fail "stored credential not used"
    run get echo://stored@x/y
    expect 4 "stored bad credential"
    run cred validate demo
    expect 0 "validate"
    run cred validate echo stored
    expect 4 "validate bad"
    run cred validate nobody
    expect 3 "validate unknown"
    run get echo://nobody@x/y
    expect 3 "unknown credential"
    run cred add nosuch x --type t
    expect 3 "unknown provider"
    run cred add echo x --type nosuch
    expect 2 "unknown type"
    # A misspelt field is refused naming the closest one.
    runin "$CANARY" cred add echo x --type token --field perfix=P:
    expect 2 "misspelt field"
    grep -q "has no field 'perfix'; did you mean prefix?" "$err" || fail "no suggestion"
    no_canary "misspelt field"
    run cred rm stored
    expect 0 "rm by name"
    run cred rm echo lines
    expect 0 "rm provider name"
    run cred clear
    expect 2 "clear without --yes"
    run cred clear --yes
    expect 0 "clear"
    run cred list
    [ -s "$out" ] && fail "clear left credentials"
    # The vault file does not contain the canary in clear.
    grep -q "$CANARY" "$VAULTPLUG_HOME/vault.vpv" && fail "canary in clear in the vault file"
    true
    ;;
env_creds)
    # VAULTPLUG_<PROVIDER>_<FIELD>: the credential of references that name none.
    VAULTPLUG_ECHO_TYPE=token VAULTPLUG_ECHO_TOKEN="$CANARY" VAULTPLUG_ECHO_PREFIX=ENV: \
        run -vvv get echo://x/y
    expect 0 "env credential"
    [ "$(cat "$out")" = "ENV:x/y" ] || fail "env credential not used"
    grep -q "$CANARY" "$err" && fail "canary in the trace log"
    # The only type is picked when TYPE is not given.
    VAULTPLUG_ECHO_TOKEN=bad run get echo://x/y
    expect 4 "env credential rejected"
    VAULTPLUG_ECHO_TYPE=nosuch VAULTPLUG_ECHO_TOKEN=x run get echo://x/y
    expect 2 "unknown type in variables"
    # A variable that names no field is refused as `cred add --field` refuses it, naming the
    # closest field (it was dropped silently), with the type given or picked.
    VAULTPLUG_ECHO_TYPE=token VAULTPLUG_ECHO_TOKEN="$CANARY" VAULTPLUG_ECHO_PERFIX=ENV: \
        run get echo://x/y
    expect 2 "misspelt field variable"
    grep -q "VAULTPLUG_ECHO_PERFIX: credential type 'token' of echo has no field 'perfix'; did you mean VAULTPLUG_ECHO_PREFIX?" "$err" ||
        fail "no suggestion for the variable"
    [ -s "$out" ] && fail "output despite the error"
    no_canary "misspelt field variable"
    VAULTPLUG_ECHO_TOKEN="$CANARY" VAULTPLUG_ECHO_TPYE=token run get echo://x/y
    expect 2 "misspelt TYPE variable"
    grep -q "did you mean VAULTPLUG_ECHO_TYPE?" "$err" || fail "no suggestion for TYPE"
    VAULTPLUG_ECHO_TOKEN="$CANARY" run config show
    expect 0 "config show"
    no_canary "config show"
    grep -q "VAULTPLUG_ECHO_TOKEN" "$out" || fail "credential variable not listed"
    ;;
config)
    run config show
    expect 0 "config show"
    grep -Eq "^data_dir +$VAULTPLUG_HOME +\[environment VAULTPLUG_HOME\]$" "$out" || fail "data"
    grep -Eq "^cache_ttl_minutes +30 +\[default\]$" "$out" || fail "default ttl"
    run cache ttl 5
    expect 0 "cache ttl"
    [ -f "$VAULTPLUG_HOME/config.json" ] || fail "ttl not persisted"
    run config show
    grep -Eq "^cache_ttl_minutes +5 +\[$VAULTPLUG_HOME/config.json\]$" "$out" || fail "ttl source"
    VAULTPLUG_CACHE_TTL=0 run config show --json
    [ "$(jget "$out" settings 7 name)" = cache_ttl_minutes ] || fail "json order"
    [ "$(jget "$out" settings 7 value)" = 0 ] || fail "env ttl"
    [ "$(jget "$out" settings 7 source)" = "environment VAULTPLUG_CACHE_TTL" ] || fail "env src"
    run cache ttl 721
    expect 2 "ttl over the maximum"
    run cache ttl abc
    expect 2 "ttl not a number"
    # A proxy password is masked; a malformed file is a usage error naming the file.
    VAULTPLUG_PROXY="http://bob:$CANARY@proxy:3128" run config show
    no_canary "proxy"
    grep -q "http://bob:\*\*\*\*\*\*\*\*@proxy:3128" "$out" || fail "proxy not masked"
    echo '{"cache_ttl_minutes": "ten"}' >"$work/bad.json"
    VAULTPLUG_CONFIG="$work/bad.json" run config show
    expect 2 "bad config"
    grep -q "bad.json" "$err" || fail "message does not name the file"
    # Administrator: only enabled providers load, and a user cannot widen the list.
    echo '{"enabled_providers": ["clifault"]}' >"$VAULTPLUG_SYSTEM_CONFIG"
    echo '{"enabled_providers": ["clifault", "echo"]}' >"$VAULTPLUG_HOME/config.json"
    run providers --plugin-dir "$mods"
    expect 0 "providers"
    grep -Eq "^echo +disabled" "$out" || fail "echo not disabled by the admin list"
    grep -Eq "^clifault +loaded" "$out" || fail "clifault not loaded"
    grep -q "reason: not enabled by the administrator's configuration ($VAULTPLUG_SYSTEM_CONFIG)" "$out" ||
        fail "the table does not say why echo is disabled"
    run get echo://x --plugin-dir "$mods"
    [ $rc -ne 0 ] || fail "disabled provider served a value"
    grep -q "provider 'echo' is not enabled by the administrator's configuration $VAULTPLUG_SYSTEM_CONFIG: it is not loaded" "$err" ||
        fail "no warning about the user list"
    grep -q "installed but not enabled by the administrator's configuration" "$err" ||
        fail "the refusal does not say the administrator disabled echo"
    # Narrowed to nothing: said as what it does (before: "...; ignored", and nothing loaded).
    rm -f "$VAULTPLUG_HOME/config.json"
    VAULTPLUG_ENABLED_PROVIDERS=echo run providers --plugin-dir "$mods"
    expect 0 "providers narrowed to nothing"
    grep -q "no provider is enabled: the providers asked for (echo) are all outside the administrator's enabled_providers (clifault) in $VAULTPLUG_SYSTEM_CONFIG" "$err" ||
        fail "narrowing to nothing not reported"
    grep -q "ignored" "$err" && fail "says 'ignored'"
    grep -Eq "^clifault +disabled" "$out" || fail "clifault should be disabled"
    # The library's other administrator settings are not 'unknown settings' to the command.
    echo '{"enabled_providers": ["clifault"], "allow_host_override": false, "allow_provider_override": false}' >"$VAULTPLUG_SYSTEM_CONFIG"
    run providers --plugin-dir "$mods"
    expect 0 "providers with admin-only settings"
    grep -q "unknown setting" "$err" && fail "admin-only settings called unknown"
    echo '{"allow_provider_override": true}' >"$VAULTPLUG_HOME/config.json"
    run providers --plugin-dir "$mods"
    grep -q "\"allow_provider_override\" is honoured only in the administrator's configuration; ignored" "$err" ||
        fail "a user file cannot allow provider overrides"
    # A malformed administrator's file fails (the library refuses it too).
    echo '{"enabled_providers": "clifault"}' >"$VAULTPLUG_SYSTEM_CONFIG"
    run providers --plugin-dir "$mods"
    expect 2 "malformed admin file"
    grep -q "etc-config.json" "$err" || fail "malformed admin file not named"
    # Plugin dirs from the user config.
    echo "{\"plugin_dirs\": [\"$mods\"]}" >"$VAULTPLUG_HOME/config.json"
    rm -f "$VAULTPLUG_SYSTEM_CONFIG"
    run get clifault://fine
    expect 0 "plugin_dirs from config"
    [ "$(cat "$out")" = "ok:fine" ] || fail "clifault value"
    ;;
cache)
    run cache stats echo --json
    expect 0 "stats"
    [ "$(jget "$out" providers 0 name)" = echo ] || fail "stats json"
    [ "$(jget "$out" providers 0 hits)" = 0 ] || fail "stats hits"
    # With the vault open, what one run fetched is there for the next (cache.vpc), sealed.
    new_vault
    run get echo://demo/cached
    expect 0 "get"
    [ -f "$VAULTPLUG_HOME/cache.vpc" ] || fail "no cache file after a fetch with the vault open"
    grep -q "cached" "$VAULTPLUG_HOME/cache.vpc" && fail "cache file holds plaintext"
    run cache stats echo --json
    [ "$(jget "$out" providers 0 entries)" = 1 ] || fail "entry not kept between runs"
    run cache reset echo
    expect 0 "reset one"
    run cache stats echo --json
    [ "$(jget "$out" providers 0 entries)" = 0 ] || fail "reset did not empty the kept cache"
    run cache stats
    grep -Eq "^PROVIDER +HITS +MISSES" "$out" || fail "stats header"
    run cache reset echo
    expect 0 "reset one"
    run cache reset
    expect 0 "reset all"
    run cache reset nosuch
    expect 3 "reset unknown"
    run cache frob
    expect 2 "unknown subcommand"
    ;;
exit_codes)
    # Every documented exit status, produced through the real command.
    new_vault
    run get echo://demo/x
    expect 0 "success"
    run render --frob
    expect 2 "usage"
    run get echo://missing/x
    expect 3 "not found"
    VAULTPLUG_VAULT_KEY=vpk1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA run vault list
    expect 4 "auth (wrong vault key)"
    run get echo://denied/x
    expect 5 "permission"
    run get clifault://unavail/x --plugin-dir "$mods"
    expect 6 "unavailable"
    mkdir -p "$work/broken"
    echo "not ELF" >"$work/broken/broken.so"
    chmod 644 "$work/broken/broken.so"
    run get broken://x --plugin-dir "$work/broken"
    expect 6 "provider failed to load"
    run get clifault://ratelimit/x --plugin-dir "$mods"
    expect 7 "rate limited"
    run get clifault://proto/x --plugin-dir "$mods"
    expect 8 "integrity"
    run login echo
    expect 9 "other (provider without sign-in)"
    ;;
help_examples)
    # Every command's help has usage, options and examples; the man page documents every
    # exit status.
    for c in render get refs vault cred login cache config providers; do
        run "$c" --help
        expect 0 "$c --help"
        grep -q "^Usage: vaultplug $c" "$out" || fail "$c usage"
        grep -q "^Examples\?:" "$out" || fail "$c examples"
    done
    ;;
completion)
    # The bash completion script, with bash-completion's helpers stubbed: command names,
    # subcommands, options, and provider names from the real `providers --json`.
    comp=${VP_COMPLETION:?}
    command -v bash >/dev/null || { echo "SKIP: no bash"; exit 0; }
    mkdir -p "$work/bin"
    ln -sf "$vp" "$work/bin/vaultplug"
    cat >"$work/c.bash" <<'B'
_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur=${words[cword]}; prev=${words[cword-1]}; }
_filedir() { COMPREPLY=(FILES); }
source "$1"
shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_vaultplug
printf '%s\n' "${COMPREPLY[@]}"
B
    c() { PATH="$work/bin:$PATH" bash "$work/c.bash" "$comp" vaultplug "$@" >"$out" 2>"$err"; }
    c re
    [ "$(cat "$out")" = "$(printf 'render\nrefs')" ] || fail "command names"
    c vault r
    [ "$(cat "$out")" = "$(printf 'rm\nrekey\nreset')" ] || fail "vault subcommands"
    c render --m
    [ "$(cat "$out")" = "--mask" ] || fail "render options"
    c render --env ""
    [ "$(cat "$out")" = "FILES" ] || fail "--env completes files"
    c cred add e
    [ "$(cat "$out")" = "echo" ] || fail "provider names"
    c -q cache s
    [ "$(cat "$out")" = "stats" ] || fail "after a global option"
    c l
    [ "$(cat "$out")" = "$(printf 'ls\nlogin')" ] || fail "ls among the commands"
    c ls --j
    [ "$(cat "$out")" = "--json" ] || fail "ls options"
    c ls ec
    [ "$(cat "$out")" = "echo://" ] || fail "ls completes SCHEME://"
    ;;
*)
    echo "unknown test $t"
    exit 2
    ;;
esac
echo "ok"
