#!/bin/sh
# cli_tty.sh VAULTPLUG WORKDIR - drive `vaultplug` on a real terminal (tmux: send-keys /
# capture-pane), as a person does: `vault init` shows the key, secrets and the vault key typed at
# the no-echo prompts never appear on the screen nor in `ps`, Ctrl-C at a prompt gives the
# terminal back with echo on. Exits 77 (skipped) when tmux is not installed.
set -u
vp=$1
work=$2/tty
if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP: tmux is not installed (apt-get install tmux)"
    exit 77
fi
rm -rf "$work"
mkdir -p "$work/home"
chmod 700 "$work" "$work/home"
sock="vp-cli-tty-$$"
CANARY="tty-canary-5b2e8d41"
CANARY2="tty-canary-cred-9c7f01"
T() { tmux -L "$sock" "$@"; }
cleanup() { T kill-server 2>/dev/null; }
trap cleanup EXIT INT TERM

screen() { T capture-pane -p -J -S -200 -t s; }
fail() {
    echo "FAIL: $*"
    echo "--- screen"
    screen
    exit 1
}
# wait_for REGEX: poll the screen (the program runs at its own pace; no timing assumptions
# beyond a generous overall limit)
wait_for() {
    i=0
    while [ $i -lt 200 ]; do
        screen | grep -q -- "$1" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    fail "timed out waiting for: $1"
}
type_line() { T send-keys -t s -l "$1" && T send-keys -t s Enter; }
# fresh: an empty screen and scrollback, so wait_for only sees what comes next
fresh() {
    type_line "clear"
    wait_for '^\$ $'
    T clear-history -t s
    [ "$(screen | grep -c .)" -le 1 ] || fail "screen not cleared"
}

# A clean shell on a 200x50 terminal with only what vaultplug needs in its environment.
T -f /dev/null new-session -d -s s -x 200 -y 50 \
    "env -i PATH=$PATH HOME=$work TERM=xterm NO_COLOR=1 VAULTPLUG_HOME=$work/home \
     VAULTPLUG_SYSTEM_CONFIG=$work/none.json PS1='$ ' sh" || fail "cannot start tmux"
wait_for '^\$ '

# 1. vault init on the terminal: the key is shown once, with the warning.
type_line "$vp vault init; echo INIT-RC=\$?"
wait_for "INIT-RC=[0-9]"
screen | grep -q "INIT-RC=0" || fail "vault init failed"
KEY=$(screen | grep -o 'vpk1_[A-Za-z0-9_-]\{43\}' | head -n 1)
[ -n "$KEY" ] || fail "the key is not shown"
screen | grep -q "cannot be recovered" || fail "no warning"
fresh

# 2. vault set: key and value typed at no-echo prompts, the key first (a wrong key must not
# waste a typed value).
type_line "$vp vault set pw; echo SET-RC=\$?"
wait_for "Vault key: "
screen | grep -q "Value of pw" && fail "the value is asked before the vault key"
type_line "$KEY"
wait_for "Value of pw: "
# While vaultplug waits, the key is in no process's arguments.
ps -eo args | grep -v grep | grep -q "$KEY" && fail "the vault key is visible in ps"
type_line "$CANARY"
wait_for "SET-RC=[0-9]"
screen | grep -q "SET-RC=0" || fail "vault set failed"
screen | grep -q "$CANARY" && fail "the typed secret was echoed"
screen | grep -q "$KEY" && fail "the typed vault key was echoed"
fresh

# 2b. A wrong key at the prompt: refused at once (exit 4), the value is never asked.
type_line "$vp vault set pw2; echo SET2-RC=\$?"
wait_for "Vault key: "
type_line "vpk1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
wait_for "SET2-RC=[0-9]"
screen | grep -q "SET2-RC=4" || fail "a wrong vault key did not exit 4"
screen | grep -q "invalid vault key" || fail "no 'invalid vault key' message"
screen | grep -q "Value of pw2" && fail "the value was asked although the key was wrong"
fresh

# 2c. Answering no to 'vault reset': exit 1 (cancelled), nothing changed.
type_line "$vp vault reset; echo RESET-RC=\$?"
wait_for "Reset the vault \\[y/N\\]: "
type_line "n"
wait_for "RESET-RC=[0-9]"
screen | grep -q "RESET-RC=1" || fail "a cancelled reset did not exit 1"
screen | grep -q "nothing was changed" || fail "no 'nothing was changed' after a cancelled reset"
fresh
type_line "$vp cred clear; echo CLEAR-RC=\$?"
wait_for "Delete every stored credential \\[y/N\\]: "
type_line "n"
wait_for "CLEAR-RC=[0-9]"
screen | grep -q "CLEAR-RC=1" || fail "a cancelled cred clear did not exit 1"
fresh

# 3. cred add: the vault is unlocked, then the secret field is asked without echo.
type_line "$vp cred add echo demo --type token; echo CRED-RC=\$?"
wait_for "Vault key: "
type_line "$KEY"
wait_for "token: "
type_line "$CANARY2"
wait_for "CRED-RC=[0-9]"
screen | grep -q "CRED-RC=0" || fail "cred add failed"
screen | grep -q "$CANARY2" && fail "the credential secret was echoed"
screen | grep -q "$KEY" && fail "the typed vault key was echoed"
fresh

# 4. vault get: shown where asked.
type_line "$vp vault get pw; echo GET-RC=\$?"
wait_for "Vault key: "
type_line "$KEY"
wait_for "GET-RC=[0-9]"
screen | grep -q "^$CANARY\$" || fail "vault get did not show the value"
fresh

# 5. Ctrl-C at the key prompt: the terminal echoes again afterwards.
type_line "$vp vault list"
wait_for "Vault key: "
T send-keys -t s C-c
wait_for '^\$ $'
fresh
type_line "echo typed-back-\$((40+2))"
wait_for "typed-back-42"
screen | grep -q 'echo typed-back-\$((40+2))' || fail "echo was not restored after Ctrl-C"

# 6. Colours on a terminal, none with NO_COLOR (and none when piped: the other tests).
type_line "env -u NO_COLOR $vp providers; echo COL-RC=\$?"
wait_for "COL-RC=[0-9]"
T capture-pane -p -e -t s | grep -q "$(printf '\033')\[[0-9;]*32m" || fail "no colour on a terminal"
fresh
type_line "NO_COLOR=1 $vp providers; echo NOCOL-RC=\$?"
wait_for "NOCOL-RC=[0-9]"
T capture-pane -p -e -t s | grep -q "$(printf '\033')\[[0-9;]*32m" && fail "colour despite NO_COLOR"
fresh

# 7. No secret or key on the screen or in the shell's command lines.
screen | grep -q -e "$CANARY2" && fail "credential secret on screen"
grep -rq "$CANARY" "$work/home" && fail "secret in clear in the data directory"
echo "ok"
