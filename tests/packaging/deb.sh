#!/bin/sh
# packaging_deb: CPack's Debian packages of this build: one per part (library, development
# files + SDK, CLI) and one per provider, each with the right files and dependencies, no file in
# two packages, and no package of its own for the example provider (libvaultplug-dev has it).
. "$(dirname "$0")/common.sh"
work=$PKG_WORK/deb
rm -rf "$work"
mkdir -p "$work"
ver=$PKG_VERSION-1
p=.$PKG_PREFIX
l=$p/$PKG_LIBDIR

step "cpack -G DEB"
"$PKG_CPACK" -G DEB --config "$PKG_BUILD/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log"; fail "cpack"; }
ls "$work"/*.deb

deb() { # deb NAME: the package file of NAME
    f=$(ls "$work/$1_${ver}_"*.deb 2>/dev/null | head -n 1)
    [ -n "$f" ] || fail "no package $1 (version $ver)"
    echo "$f"
}
# contents NAME: the files (not directories) of package NAME, one path per line.
contents() { dpkg-deb -c "$(deb "$1")" | awk '$1 !~ /^d/ {print $6}' | sort; }
has() { contents "$1" | grep -qx -- "$2" || { contents "$1"; fail "package $1 lacks $2"; }; }
lacks() { contents "$1" | grep -q -- "$2" && { contents "$1"; fail "package $1 holds $2"; }; return 0; }
depends() { dpkg-deb -f "$(deb "$1")" Depends; }
dep() { depends "$1" | grep -qF -- "$2" || fail "package $1 does not depend on $2: $(depends "$1")"; }

expected="libvaultplug libvaultplug-dev vaultplug"
for pr in $PKG_PROVIDERS; do expected="$expected vaultplug-provider-$pr"; done
for n in $expected; do
    [ "$(dpkg-deb -f "$(deb "$n")" Package Version | tr '\n' ' ')" = "Package: $n Version: $ver " ] ||
        fail "control of $n: $(dpkg-deb -f "$(deb "$n")" Package Version)"
done
count=$(ls "$work"/*.deb | wc -l)
# shellcheck disable=SC2086
[ "$count" -eq "$(echo $expected | wc -w)" ] || fail "$count packages, expected: $expected"
if ls "$work"/vaultplug-provider-echo_* >/dev/null 2>&1; then
    fail "the example provider echo was packaged"
fi

step "libvaultplug: the runtime library"
has libvaultplug "$l/libvaultplug.so.$PKG_VERSION"
has libvaultplug "$l/libvaultplug.so.$PKG_SOVERSION"
lacks libvaultplug "$l/libvaultplug.so\$"
lacks libvaultplug "/include/"
# Shared-library dependencies come from the ELF file, and other packages can compute theirs.
dep libvaultplug libc6
dep libvaultplug libsodium
dep libvaultplug libcurl
dep libvaultplug libjson-c
dpkg-deb --ctrl-tarfile "$(deb libvaultplug)" | tar -xO ./shlibs |
    grep -qx "libvaultplug $PKG_SOVERSION libvaultplug (>= $ver)" || fail "libvaultplug shlibs file"
dpkg-deb --ctrl-tarfile "$(deb libvaultplug)" | tar -xO ./triggers |
    grep -qx "activate-noawait ldconfig" || fail "libvaultplug has no ldconfig trigger"

step "libvaultplug-dev: headers, link, pkg-config, CMake, SDK"
has libvaultplug-dev "$p/$PKG_INCLUDEDIR/vaultplug/vaultplug.h"
has libvaultplug-dev "$p/$PKG_INCLUDEDIR/vaultplug/provider.h"
has libvaultplug-dev "$p/$PKG_INCLUDEDIR/vaultplug/status.h"
has libvaultplug-dev "$l/libvaultplug.so"
has libvaultplug-dev "$l/pkgconfig/vaultplug.pc"
has libvaultplug-dev "$l/pkgconfig/vaultplug-sdk.pc"
has libvaultplug-dev "$l/cmake/vaultplug/vaultplugConfig.cmake"
has libvaultplug-dev "$l/cmake/vaultplug/vaultplugTargets.cmake"
has libvaultplug-dev "$l/cmake/vaultplug-sdk/vaultplug-sdkConfig.cmake"
has libvaultplug-dev "$l/cmake/vaultplug-sdk/provider.map"
if [ "$PKG_TESTKIT" = 1 ]; then
    has libvaultplug-dev "$p/$PKG_BINDIR/vaultplug-testkit"
fi
lacks libvaultplug-dev "libvaultplug.so.$PKG_SOVERSION"
# The example provider, installed and as sources, and the documentation the headers cite.
has libvaultplug-dev "$l/vaultplug/providers-1/echo.so"
has libvaultplug-dev "$p/$PKG_DATADIR/doc/libvaultplug-dev/examples/echo/echo.c"
has libvaultplug-dev "$p/$PKG_DATADIR/doc/libvaultplug-dev/examples/host/host.c"
has libvaultplug-dev "$p/$PKG_DATADIR/doc/libvaultplug-dev/plugins.md"
has libvaultplug-dev "$p/$PKG_DATADIR/doc/libvaultplug-dev/vault-format.md"
has libvaultplug-dev "$p/$PKG_DATADIR/doc/libvaultplug-dev/design.md"
dep libvaultplug-dev "libvaultplug (= $ver)"

step "vaultplug: the command"
has vaultplug "$p/$PKG_BINDIR/vaultplug"
for m in "$PKG_SRC"/docs/man/*.[1-9]; do
    [ -f "$m" ] || continue
    has vaultplug "$p/$PKG_MANDIR/man${m##*.}/$(basename "$m").gz"
done
if [ -f "$PKG_SRC/cli/completion/vaultplug.bash" ]; then
    has vaultplug "$p/$PKG_DATADIR/bash-completion/completions/vaultplug"
fi
has vaultplug "$p/$PKG_DATADIR/doc/vaultplug/guide.md"
has vaultplug "$p/$PKG_DATADIR/doc/vaultplug/providers/aws.md"
lacks vaultplug "libvaultplug"
lacks vaultplug "echo.so"
dep vaultplug "libvaultplug (= $ver)"
dep vaultplug libjson-c

for pr in $PKG_PROVIDERS; do
    step "vaultplug-provider-$pr"
    [ "$(contents "vaultplug-provider-$pr")" = "$l/vaultplug/providers-1/$pr.so" ] ||
        fail "vaultplug-provider-$pr holds: $(contents "vaultplug-provider-$pr")"
    dep "vaultplug-provider-$pr" "libvaultplug (= $ver)"
done

step "no file in two packages"
for n in $expected; do contents "$n"; done | sort | uniq -d >"$work/dups"
[ ! -s "$work/dups" ] || fail "in two packages: $(cat "$work/dups")"
echo "ok"
