# shellcheck shell=sh disable=SC2034
# Sourced by the packaging tests. Configuration comes from the environment (PKG_*, set by
# tests/packaging/CMakeLists.txt).
set -eu

step() { echo "== $*"; }
fail() {
    echo "FAIL: $*"
    exit 1
}
# need FILE [what]: FILE must exist (file, link or directory).
need() { [ -e "$1" ] || [ -L "$1" ] || fail "${2:-missing} $1"; }
# absent FILE: FILE must not exist.
absent() { [ ! -e "$1" ] || fail "must not exist: $1"; }

stage=$PKG_STAGE
libdir=$stage/$PKG_LIBDIR
provdir=$libdir/vaultplug/providers-1
pcpath=$libdir/pkgconfig
# The installed programs find the installed library only through this (no RPATH on install).
vp_installed() { LD_LIBRARY_PATH=$libdir "$stage/$PKG_BINDIR/vaultplug" "$@"; }
# .pc files name their prefix relative to where they are (${pcfiledir}): no --define-prefix.
pc() { PKG_CONFIG_PATH=$pcpath pkg-config "$@"; }
# canon DIR: DIR with symlinks, '.' and '..' resolved (it must exist).
canon() { (cd "$1" 2>/dev/null && pwd -P) || echo "(no such directory: $1)"; }

# Flags for programs that link the (possibly sanitized) installed library.
san_cflags=""
if [ -n "$PKG_SANITIZE" ]; then
    san_cflags="-fsanitize=$PKG_SANITIZE -fno-omit-frame-pointer"
fi

# uses_stage_lib BINARY [ldd environment...]: BINARY resolves libvaultplug to the staged file.
uses_stage_lib() {
    bin=$1
    shift
    got=$(env "$@" ldd "$bin" | sed -n 's/^[[:space:]]*libvaultplug\.so\.[0-9]* => \(.*\) (0x.*/\1/p')
    [ -n "$got" ] && [ "$(readlink -f "$got")" = "$(readlink -f "$libdir/libvaultplug.so.$PKG_SOVERSION")" ]
}
