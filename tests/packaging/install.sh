#!/bin/sh
# packaging_install: install the whole build into a staging prefix and check what a user gets.
. "$(dirname "$0")/common.sh"

step "cmake --install into $stage"
rm -rf "$stage"
mkdir -p "$PKG_WORK"
chmod 755 "$PKG_WORK"
"$PKG_CMAKE" --install "$PKG_BUILD" --prefix "$stage" >"$PKG_WORK/install.log" ||
    { cat "$PKG_WORK/install.log"; fail "cmake --install"; }

step "library: versioned SONAME"
real=$libdir/libvaultplug.so.$PKG_VERSION
need "$real" "library not installed:"
[ "$(readlink "$libdir/libvaultplug.so.$PKG_SOVERSION")" = "libvaultplug.so.$PKG_VERSION" ] ||
    fail "libvaultplug.so.$PKG_SOVERSION does not point to libvaultplug.so.$PKG_VERSION"
[ "$(readlink "$libdir/libvaultplug.so")" = "libvaultplug.so.$PKG_SOVERSION" ] ||
    fail "the libvaultplug.so development link is wrong"
soname=$(readelf -d "$real" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libvaultplug.so.$PKG_SOVERSION" ] || fail "SONAME is '$soname'"
# Only the public API is exported: no internal vp__ symbols.
if nm -D --defined-only "$real" | grep -q ' vp__'; then
    fail "internal vp__ symbols are exported"
fi
nm -D --defined-only "$real" | grep -q ' vp_render$' || fail "vp_render not exported"

step "headers: every public header of the library and the SDK"
for h in "$PKG_SRC"/core/include/vaultplug/*.h "$PKG_SRC"/sdk/include/vaultplug/*.h; do
    need "$stage/$PKG_INCLUDEDIR/vaultplug/$(basename "$h")" "header not installed:"
done

step "pkg-config: vaultplug and vaultplug-sdk"
need "$pcpath/vaultplug.pc"
need "$pcpath/vaultplug-sdk.pc"
[ "$(pc --modversion vaultplug)" = "$PKG_VERSION" ] || fail "vaultplug.pc version"
pc --libs vaultplug | grep -q -- "-L$libdir -lvaultplug" || fail "vaultplug.pc libs: $(pc --libs vaultplug)"
pc --cflags vaultplug | grep -q -- "-I$stage/$PKG_INCLUDEDIR" || fail "vaultplug.pc cflags"
for m in vaultplug vaultplug-sdk; do
    d=$(pc --variable=providerdir $m)
    [ "$d" = "$provdir" ] || fail "$m.pc providerdir is '$d', expected $provdir"
done

step "CMake packages"
for f in vaultplug/vaultplugConfig.cmake vaultplug/vaultplugConfigVersion.cmake \
    vaultplug/vaultplugTargets.cmake vaultplug-sdk/vaultplug-sdkConfig.cmake \
    vaultplug-sdk/vaultplug-sdkConfigVersion.cmake vaultplug-sdk/VaultplugProvider.cmake \
    vaultplug-sdk/provider.map; do
    need "$libdir/cmake/$f"
done
# (Version compatibility is tested by packaging_sdk: find_package with other majors.)

step "CLI, man pages, completion"
need "$stage/$PKG_BINDIR/vaultplug"
vp_installed --version | grep -q '^vaultplug ' || fail "installed vaultplug --version"
uses_stage_lib "$stage/$PKG_BINDIR/vaultplug" LD_LIBRARY_PATH="$libdir" ||
    fail "installed vaultplug does not use the installed library"
# Installed outside the linker's default directories, the command finds its library by itself.
# shellcheck disable=SC2016
if readelf -d "$stage/$PKG_BINDIR/vaultplug" | grep -q 'RUNPATH.*\$ORIGIN'; then
    uses_stage_lib "$stage/$PKG_BINDIR/vaultplug" ||
        fail "the RUNPATH of the installed vaultplug does not lead to the installed library"
elif [ "$PKG_PREFIX" != /usr ]; then
    fail "vaultplug installed for $PKG_PREFIX has no RUNPATH to its library"
fi
for m in "$PKG_SRC"/docs/man/*.[1-9]; do
    [ -f "$m" ] || continue
    name=$(basename "$m")
    sec=${name##*.}
    gz=$stage/$PKG_MANDIR/man$sec/$name.gz
    need "$gz" "man page not installed:"
    # The page as configured by the build: the version built in the footer, the installed
    # documentation in SEE ALSO, no placeholder left.
    gzip -dc "$gz" | cmp -s - "$PKG_BUILD/man/$name" || fail "$gz differs from $PKG_BUILD/man/$name"
    gzip -dc "$gz" | grep -q "^\.TH .* \"vaultplug $PKG_VERSION\" " || fail "$name: footer is not vaultplug $PKG_VERSION"
    gzip -dc "$gz" | grep -q '@[A-Z_]*@' && fail "$name: unsubstituted placeholder"
    # Every document a page cites is installed (paths under the prefix, checked in the stage).
    for d in $(gzip -dc "$gz" | grep -o "$PKG_PREFIX/[A-Za-z0-9_./-]*" | sed 's/[.]$//' | sort -u); do
        need "$stage${d#"$PKG_PREFIX"}" "$name cites a file that is not installed:"
    done
done
if [ -f "$PKG_SRC/cli/completion/vaultplug.bash" ]; then
    need "$stage/$PKG_DATADIR/bash-completion/completions/vaultplug" "completion not installed:"
fi

step "providers in $provdir: $PKG_PROVIDERS"
for p in $PKG_PROVIDERS; do
    need "$provdir/$p.so" "provider not installed:"
done
# The example provider comes with the development files (component dev; its own component
# provider-echo installs it alone).
need "$provdir/echo.so" "the example provider (component dev) is not installed:"

step "documentation and examples"
doc=$stage/$PKG_DATADIR/doc
need "$doc/vaultplug/guide.md"
for f in "$PKG_SRC"/docs/providers/*.md; do
    need "$doc/vaultplug/providers/$(basename "$f")"
done
for f in plugins.md vault-format.md guide.md examples/echo/echo.c examples/echo/CMakeLists.txt \
    examples/echo/README.md examples/echo/echo.json examples/host/host.c \
    examples/host/CMakeLists.txt examples/host/request.tmpl; do
    need "$doc/libvaultplug-dev/$f"
done
# The public headers cite documents that are installed with them (no DESIGN.md).
for h in "$stage/$PKG_INCLUDEDIR"/vaultplug/*.h; do
    for d in $(grep -o '[A-Za-z0-9_-]*\.md' "$h" | sort -u); do
        need "$doc/libvaultplug-dev/$d" "$(basename "$h") cites $d, which is not installed:"
    done
done

step "the installed CLI loads every installed provider"
vp_installed providers --plugin-dir "$provdir" >"$PKG_WORK/providers.txt" ||
    { cat "$PKG_WORK/providers.txt"; fail "vaultplug providers"; }
cat "$PKG_WORK/providers.txt"
for p in echo $PKG_PROVIDERS; do
    grep -Eq "^$p +loaded" "$PKG_WORK/providers.txt" || fail "$p not loaded from $provdir"
done
vp_installed providers --json --plugin-dir "$provdir" >"$PKG_WORK/providers.json"
grep -q "\"path\": \"$provdir/echo.so\"" "$PKG_WORK/providers.json" ||
    fail "echo was not loaded from the staged provider directory"
echo "ok"
