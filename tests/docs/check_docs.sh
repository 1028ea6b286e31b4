#!/usr/bin/env bash
# check_docs.sh SOURCE_DIR BUILD_DIR WORK_DIR - every example command of the documentation runs,
# verbatim, against the mock cloud, and exits 0 (or the status declared below).
#
# Where the examples are (the markers that keep them findable):
#   * Markdown (README.md, docs/*.md, docs/providers/*.md and the READMEs of sdk/ and examples/):
#     fenced ```sh blocks. Other fences (```, ```json, ```c) are syntax or output, not commands.
#   * `vaultplug [COMMAND] --help`: the lines of the "Examples:" section (a line indented by two
#     spaces starts a command; deeper-indented lines continue it, or are comments when they
#     start with #).
#   * man pages: the .EX/.EE blocks of the pages the build configured (BUILD_DIR/man), taken
#     from the page as groff renders it for a terminal, i.e. what a reader copies. A block after
#     a `.\" docs-test: template` line is a template: it is rendered with `vaultplug render`.
# Each source runs as one shell session, in order, as a reader following it would: in a scratch
# HOME and directory that hold the reader's own files (FIXTURES below), with the mock cloud's
# variables exported (tests/mockcloud, seeded from examples/mockcloud-seed.json) and the build's
# vaultplug first in PATH. A command that cannot run here is skipped with its reason (SKIPS);
# every rule below must match an example, so stale rules fail the test too.
set -u
shopt -s lastpipe # `extract | session`: the session's bookkeeping stays in this shell
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$3
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# ---- the declarations ----------------------------------------------------------------------
# rule KIND SOURCE TEXT VALUE: applies to the examples of SOURCE whose first line contains TEXT
# (or is TEXT, when TEXT ends with $).
#   skip    VALUE is the reason the example cannot run here
#   stdin   VALUE is what the reader types or pipes in (printf %b escapes)
#   status  VALUE is the exit status the example is documented to have
rules=()
rule() { rules+=("$1"$'\x1f'"$2"$'\x1f'"$3"$'\x1f'"$4"); }
skip() { rule skip "$@"; }
stdin() { rule stdin "$@"; }

SECRET_KEY='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' # of AKIAIOSFODNN7EXAMPLE (seed)

skip README.md './scripts/demo.sh' 'builds the tree; the demo_request_render test runs it'
skip README.md './scripts/test.sh' 'the whole test suite'
skip README.md 'cmake --preset dev && cmake --build' 'the build this test runs in'
skip README.md 'cmake --install build/dev --prefix /usr/local' 'writes to /usr/local (root)'
skip README.md 'scripts/package.sh' 'builds the Debian packages; the packaging_deb test does'
skip README.md 'apt install ./build/packages/*.deb' 'installs system packages (root, apt)'
skip README.md 'vaultplug-testkit --plugin ./myprovider.so' 'needs your own provider'
stdin README.md 'vaultplug vault set api_token' 'tok_live_example'
stdin README.md 'vaultplug cred add aws prod' "$SECRET_KEY"
stdin docs/guide.md 'vaultplug vault set api_token' 'tok_live_example'
stdin docs/guide.md 'vaultplug cred add aws prod' "$SECRET_KEY"
skip docs/plugins.md 'cmake -S . -B build -DCMAKE_PREFIX_PATH=/opt/vaultplug' \
    'builds your own provider against an SDK installed in /opt/vaultplug'
skip docs/plugins.md 'cmake --install build' 'installs your own provider (root)'
skip docs/plugins.md 'cc -std=c11 -O2 $(pkg-config --cflags vaultplug-sdk)' \
    'compiles your own myprov.c; <prefix> is a placeholder'
skip docs/plugins.md 'vaultplug-testkit --plugin build/providers/myprov.so' \
    'checks your own provider (packaging_sdk runs the testkit on echo)'
skip docs/providers/hashicorp.md 'vaultplug cred add hashicorp' \
    'placeholders (...) and a server (vault.example.com) the test cannot reach'
stdin sdk/examples/echo/README.md 'vaultplug cred add echo prod' 'docs-echo-token'
skip sdk/examples/echo/README.md 'cmake -S sdk/examples/echo -B /tmp/echo-build' \
    'needs the SDK installed in /usr/local; packaging_sdk builds echo out of tree'
skip sdk/examples/echo/README.md 'cmake --build /tmp/echo-build' 'see the previous step'
skip sdk/examples/echo/README.md 'cc -std=c11 $(pkg-config --cflags vaultplug-sdk)' \
    'needs the SDK installed in /usr/local; packaging_sdk compiles echo.c this way'
skip sdk/testkit/README.md 'vaultplug-testkit --plugin build/providers/myprov.so' \
    'checks your own provider; [--verbose] is syntax'
skip examples/host/README.md 'cmake -S examples/host -B /tmp/host' \
    'needs libvaultplug-dev installed in /usr/local; packaging_host builds it'
skip examples/host/README.md 'make -C examples/host' 'writes into the source tree; packaging_host builds it'
skip examples/host/README.md '/tmp/host/vaultplug-host-example' \
    'runs the program of the skipped build (packaging_host runs it)'
skip 'vaultplug login --help' 'vaultplug login azure$' \
    'opens a browser and waits for a person to sign in (the device code flow below runs)'
stdin 'vaultplug vault --help' 'vaultplug vault set db_password' 'docs-db-password'
stdin 'vaultplug cred --help' 'vaultplug cred add aws prod' "$SECRET_KEY"
stdin vaultplug.1 'vaultplug cred add aws prod' "$SECRET_KEY"

# Sessions that start with what the reader has already done (PROLOGUES): "vault" = a vault
# and its key in VAULTPLUG_VAULT_KEY; "prod" = also api_token and the aws credential prod.
prologue_of() {
    case $1 in
    'vaultplug get --help' | 'vaultplug ls --help' | vaultplug-template.5) echo prod ;;
    'vaultplug cred --help' | 'vaultplug cache --help' | 'vaultplug render --help') echo vault ;;
    'vaultplug login --help') echo vault ;;
    sdk/examples/echo/README.md) echo vault ;;
    *) echo none ;;
    esac
}
# The variables a template of a man page is rendered with (as its text says).
TEMPLATE_ENV='{"host": "api.example.com", "env": "prod", "extra_headers": [{"name": "X-Trace", "value": "1"}]}'

# The reader's own files and variables, which examples name without creating.
fixtures() {
    local d=$1
    cat >"$d/request.http" <<'EOF'
POST https://{{ host | default("api.example.com") }}/v1/orders
X-Db-Password: {% vault "aws://prod/db#password" %}
EOF
    echo '{"host": "api.example.com"}' >"$d/prod.json"
    echo '{"host": "api.example.com", "region": "eu-west-1"}' >"$d/base.json"
    echo '{"host": "staging.example.com"}' >"$d/staging.json"
    printf 'DB_PASSWORD={%% vault "aws://prod/db#password" %%}\n' >"$d/env.tmpl"
    cp "$src/tests/vault/insomnia/export_v4.json" "$d/insomnia-export.json"
    cp "$src/tests/vault/insomnia/key.txt" "$d/insomnia-key.txt"
    # Paths relative to a source checkout (README: build/dev/..., examples/...).
    mkdir -p "$d/build"
    ln -s "$build" "$d/build/dev"
    ln -s "$src/examples" "$d/examples"
    ln -s "$src/sdk" "$d/sdk"
}
export TOKEN=tok_live_example API_TOKEN=tok_live_example
export AK=ASIAIOSFODNN7EXAMPLE SK='wJalrXUtnFEMI/K7MDENG/bPxRfiCYSESSIONKEY'
export ST=IQoJb3JpZ2luX2VjEXAMPLETOKEN

# ---- extraction ----------------------------------------------------------------------------
# Records on stdout: "\x01KIND\x01LINE" then the text, then "\x02". KIND is sh or template.
# split_sh LINE0: shell text on stdin -> one record per command (continuation lines ending
# in \ | && ||, and here-documents, stay with their command; blank and comment lines between
# commands are dropped).
split_sh() {
    awk -v line0="$1" '
    function flush() { if (cmd != "") printf "\001sh\001%d\n%s\n\002\n", start, cmd; cmd = "" }
    {
        n = line0 + NR - 1
        if (hd != "") {
            cmd = cmd "\n" $0
            if ($0 ~ "^[\t]*" hd "$") { hd = ""; if (!cont) flush() }
            next
        }
        if (cmd == "") {
            if ($0 ~ /^[ \t]*(#.*)?$/) next
            start = n; cmd = $0
        } else {
            cmd = cmd "\n" $0
        }
        if (match($0, /<<-?[ \t]*["\047]?[A-Za-z_]+["\047]?/)) {
            hd = substr($0, RSTART, RLENGTH); sub(/^<<-?[ \t]*["\047]?/, "", hd); sub(/["\047]$/, "", hd)
        }
        cont = ($0 ~ /(\\|\||&&)[ \t]*$/)
        if (hd == "" && !cont) flush()
    }
    END { flush() }'
}

extract_markdown() { # FILE
    awk '
    /^[ \t]*```/ {
        if (inb) { inb = 0; printf "\003\n"; next }
        fence = $0; sub(/^[ \t]*```/, "", fence)
        indent = $0; sub(/```.*/, "", indent)
        if (fence == "sh") { inb = 1; printf "\003%d\n", NR + 1 }
        else skipb = !skipb
        next
    }
    skipb { next }
    inb { l = $0; if (index(l, indent) == 1) l = substr(l, length(indent) + 1); print l }
    ' "$1" | split_blocks
}

# Blocks framed by "\003LINE" ... "\003": each through split_sh.
split_blocks() {
    local line0="" buf=""
    while IFS= read -r l; do
        if [[ $l == $'\003'* ]]; then
            if [ -z "$line0" ]; then
                line0=${l#$'\003'}
                buf=""
            else
                printf '%s' "$buf" | split_sh "$line0"
                line0=""
            fi
        elif [ -n "$line0" ]; then
            buf+="$l"$'\n'
        fi
    done
}

extract_help() { # COMMAND (empty: the top-level help)
    # shellcheck disable=SC2086
    "$build/cli/vaultplug" $1 --help | awk '
    /^Examples?:/ { inx = 1; next }
    inx && /^$/ { inx = 0 }
    inx && /^  [^ ]/ { if (cmd != "") print cmd; cmd = substr($0, 3); next }
    inx && /^   +#/ { next }
    inx && /^   / { cmd = cmd "\n" substr($0, 3) }
    END { if (cmd != "") print cmd }
    ' | awk 'BEGIN { printf "\0031\n" } { print } END { printf "\003\n" }' | split_blocks
}

extract_man() { # PAGE (configured)
    local page=$1 pre=$work/man.pre
    # Mark the blocks in the source, render the page as man(1) does for a terminal, and cut the
    # marked lines out of the rendering.
    awk '
    /^\.\\" docs-test: template/ { kind = "template" }
    /^\.EX/ { print; print "VPDOCS-BEGIN " (kind ? kind : "sh") " " NR + 1; kind = ""; next }
    /^\.EE/ { print "VPDOCS-END"; print; next }
    { print }' "$page" >"$pre"
    LC_ALL=C.UTF-8 groff -man -Tutf8 -P-c -P-b -P-o -P-u -rLL=200n "$pre" 2>"$work/groff.err" |
        awk '
        /VPDOCS-BEGIN/ { kind = $2; line = $3; ind = index($0, "VPDOCS-BEGIN") - 1; text = ""; on = 1; next }
        /VPDOCS-END/ {
            if (kind == "template") printf "\001template\001%d\n%s\002\n", line, text
            else printf "\003%d\n%s\003\n", line, text
            on = 0; next
        }
        on { text = text substr($0, ind + 1) "\n" }
        ' | {
        # Shell blocks go through split_sh; template blocks pass as they are.
        local line0="" buf="" l
        while IFS= read -r l; do
            if [[ $l == $'\001template\001'* ]]; then
                printf '%s\n' "$l"
                while IFS= read -r l && [[ $l != $'\002' ]]; do printf '%s\n' "$l"; done
                printf '\002\n'
            elif [[ $l == $'\003'* ]] && [ -z "$line0" ]; then
                line0=${l#$'\003'}
                buf=""
            elif [[ $l == $'\003' ]]; then
                printf '%s' "$buf" | split_sh "$line0"
                line0=""
            else
                buf+="$l"$'\n'
            fi
        done
    }
    [ -s "$work/groff.err" ] && fail "$(basename "$page"): groff warnings: $(cat "$work/groff.err")"
}

# ---- the mock cloud --------------------------------------------------------------------------
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ]; then
        kill "$mock_pid" 2>/dev/null
        wait "$mock_pid" 2>/dev/null
    fi
}
trap cleanup EXIT
"$build/tests/mockcloud/vaultplug-mockcloud" --seed "$src/examples/mockcloud-seed.json" \
    --env-out "$work/mock.env" >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do
    grep -q '^ready$' "$work/mock.out" 2>/dev/null && break
    kill -0 "$mock_pid" 2>/dev/null || break
    sleep 0.1
done
grep -q '^ready$' "$work/mock.out" || {
    cat "$work/mock.err"
    echo "FAIL: the mock cloud did not start"
    exit 1
}

# ---- running -------------------------------------------------------------------------------
mkdir -p "$work/bin"
ln -s "$build/cli/vaultplug" "$work/bin/vaultplug"
[ -x "$build/sdk/testkit/vaultplug-testkit" ] && ln -s "$build/sdk/testkit/vaultplug-testkit" "$work/bin/"
used=()

# lookup KIND SOURCE FIRSTLINE: $found = the VALUE of the first matching rule (marked used)
lookup() {
    local i k s t v
    for i in "${!rules[@]}"; do
        IFS=$'\x1f' read -r k s t v <<<"${rules[$i]}"
        if [ "$k" = "$1" ] && [ "$s" = "$2" ] &&
            { [[ $t == *'$' && $3 == "${t%'$'}" ]] || [[ $t != *'$' && $3 == *"$t"* ]]; }; then
            used[i]=1
            found=$v
            return 0
        fi
    done
    return 1
}

# session NAME: runs the records on stdin as one reader's session.
session() {
    local name=$1 n=0 dir
    dir=$work/s/$(echo "$name" | tr -c 'A-Za-z0-9.\n' '_')
    mkdir -p "$dir/home" "$dir/cwd"
    fixtures "$dir/cwd"
    local script=$dir/run.sh
    {
        echo 'set -o pipefail'
        echo "cd '$dir/cwd'"
        # shellcheck disable=SC2016
        echo 'vp_example() { # WHERE STDIN WANT: the command text on stdin
            local where=$1 input=$2 want=$3 text rc; text=$(cat)
            # `export V="$(cmd)"` succeeds whatever cmd does: run the assignment alone first
            # (its status is the substitution'"'"'s), then export.
            if [[ $text != *$'"'"'\n'"'"'* && $text =~ ^export\ ([A-Za-z_][A-Za-z0-9_]*)=(.*\$\(.*)$ ]]; then
                eval "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}" <"$input" >"$VPD/out" 2>"$VPD/err"
                rc=$?; export "${BASH_REMATCH[1]}"
            else
                eval "$text" <"$input" >"$VPD/out" 2>"$VPD/err"; rc=$?
            fi
            if [ "$rc" -ne "$want" ]; then
                echo "FAIL: $where: exit $rc (want $want):"; printf "%s\n" "$text" | sed "s/^/    /"
                sed "s/^/    stderr: /" "$VPD/err"; VPD_FAILED=$((VPD_FAILED + 1))
            else echo "ok   $where: $(printf "%s" "$text" | head -n 1)"; fi
        }'
        # shellcheck disable=SC2016
        echo 'vp_template() { # WHERE ENVFILE: the template on stdin
            local where=$1; cat >"$VPD/t.tmpl"
            if vaultplug render --env "$2" "$VPD/t.tmpl" >"$VPD/out" 2>"$VPD/err"; then
                echo "ok   $where: template renders"
            else echo "FAIL: $where: the template does not render:"; sed "s/^/    /" "$VPD/t.tmpl" "$VPD/err"
                VPD_FAILED=$((VPD_FAILED + 1)); fi
        }'
        echo 'VPD_FAILED=0'
        case $(prologue_of "$name") in
        vault | prod)
            echo 'vaultplug vault init -q >"$HOME/.prologue-key" 2>/dev/null && export VAULTPLUG_VAULT_KEY="$(cat "$HOME/.prologue-key")" || { echo "FAIL: prologue: vault init"; VPD_FAILED=1; }'
            ;;
        esac
        if [ "$(prologue_of "$name")" = prod ]; then
            echo "printf '%s' tok_live_example | vaultplug vault set -q api_token || { echo 'FAIL: prologue: vault set'; VPD_FAILED=1; }"
            echo "printf '%s' '$SECRET_KEY' | vaultplug cred add -q aws prod --type temporary --field access_key_id=AKIAIOSFODNN7EXAMPLE || { echo 'FAIL: prologue: cred add'; VPD_FAILED=1; }"
        fi
        local hdr kind line text first input want l
        while IFS= read -r hdr; do
            [[ $hdr == $'\001'* ]] || continue
            kind=${hdr#$'\001'}
            line=${kind#*$'\001'}
            kind=${kind%%$'\001'*}
            text=""
            while IFS= read -r l && [[ $l != $'\002' ]]; do text+="$l"$'\n'; done
            first=${text%%$'\n'*}
            n=$((n + 1))
            local where="$name:$line"
            if [ "$kind" = template ]; then
                printf '%s' "$TEMPLATE_ENV" >"$dir/template-env.json"
                printf "vp_template '%s' '%s' <<'VPDOCS_EOF'\n%sVPDOCS_EOF\n" "$where" \
                    "$dir/template-env.json" "$text"
                continue
            fi
            if lookup skip "$name" "$first"; then
                printf 'echo %q\n' "SKIP $where: $first -- $found"
                continue
            fi
            input=/dev/null
            if lookup stdin "$name" "$first"; then
                input=$dir/stdin.$n
                printf '%b' "$found" >"$input"
            fi
            want=0
            if lookup status "$name" "$first"; then want=$found; fi
            printf "vp_example '%s' '%s' %d <<'VPDOCS_EOF'\n%sVPDOCS_EOF\n" "$where" "$input" \
                "$want" "$text"
        done
        echo 'exit $VPD_FAILED'
    } >"$script"
    echo "== $name ($n examples)"
    # A scratch HOME and no controlling terminal (so nothing can prompt); the reader's
    # variables, the mock cloud's, and the build's vaultplug first in PATH.
    (
        for v in $(env | sed -n 's/^\(VAULTPLUG_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
        unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME AWS_PROFILE AWS_CONFIG_FILE \
            AWS_SHARED_CREDENTIALS_FILE
        # shellcheck disable=SC1091
        . "$work/mock.env"
        export HOME=$dir/home VPD=$dir NO_COLOR=1
        export PATH=$work/bin:$PATH
        export PKG_CONFIG_PATH=$build:$build/sdk
        # User documentation may only use the providers the packages install for users (the
        # example provider echo comes with libvaultplug-dev, for the SDK and embedding docs).
        case $name in
        docs/plugins.md | sdk/* | examples/*) ;;
        *) export VAULTPLUG_ENABLED_PROVIDERS=aws,gcp,hashicorp,azure ;;
        esac
        timeout 120 setsid bash "$script" </dev/null
    )
    local rc=$?
    [ "$rc" -eq 0 ] || failures=$((failures + rc))
}

cd "$src" || exit 1
md_sources=(README.md docs/*.md docs/providers/*.md sdk/examples/echo/README.md
            sdk/testkit/README.md examples/host/README.md)
for f in "${md_sources[@]}"; do
    extract_markdown "$src/$f" | session "$f"
done
for c in "" render get ls refs vault cred login cache config providers; do
    extract_help "$c" | session "vaultplug ${c:+$c }--help"
done
for page in "$build"/man/*.[1-9]; do
    extract_man "$page" | session "$(basename "$page")"
done

# The template syntax lines of vaultplug-template(5) keep their quotes when rendered.
tman=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -P-c -P-b -P-o -P-u -rLL=200n "$build/man/vaultplug-template.5")
for want in "{% vault \"scheme://[credential@]path[?params][#json-key]\" %}" \
    "{% vault 'provider', 'credential', '{\"json\": \"config\"}' %}"; do
    grep -qF -- "$want" <<<"$tman" || fail "vaultplug-template(5) does not show: $want"
done

for i in "${!rules[@]}"; do
    [ -n "${used[$i]:-}" ] && continue
    IFS=$'\x1f' read -r k s t v <<<"${rules[$i]}"
    fail "rule '$k' for $s matches no example: $t"
done
if [ "$failures" -ne 0 ]; then
    echo "FAIL: $failures failed"
    exit 1
fi
echo "docs ok: every example ran"
