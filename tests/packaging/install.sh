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
# The stage is not the configured prefix ($PKG_PREFIX): the .pc files must name the stage.
# shellcheck disable=SC2046
set -- $(pc --libs vaultplug)
[ "${1#-L}" != "$1" ] && [ "$(canon "${1#-L}")" = "$(canon "$libdir")" ] && [ "$2" = -lvaultplug ] ||
    fail "vaultplug.pc libs: $(pc --libs vaultplug)"
# shellcheck disable=SC2046
set -- $(pc --cflags vaultplug)
[ "$(canon "${1#-I}")" = "$(canon "$stage/$PKG_INCLUDEDIR")" ] ||
    fail "vaultplug.pc cflags: $(pc --cflags vaultplug)"
for m in vaultplug vaultplug-sdk; do
    d=$(pc --variable=providerdir $m)
    [ "$(canon "$d")" = "$(canon "$provdir")" ] ||
        fail "$m.pc providerdir is '$d', expected $provdir"
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
for f in plugins.md vault-format.md guide.md design.md examples/echo/echo.c \
    examples/echo/CMakeLists.txt examples/echo/README.md examples/echo/echo.json \
    examples/host/host.c examples/host/CMakeLists.txt examples/host/request.tmpl; do
    need "$doc/libvaultplug-dev/$f"
done
# The public headers cite only documents that are installed with them.
for h in "$stage/$PKG_INCLUDEDIR"/vaultplug/*.h; do
    for d in $(grep -o '[A-Za-z0-9_-]*\.md' "$h" | sort -u); do
        need "$doc/libvaultplug-dev/$d" "$(basename "$h") cites $d, which is not installed:"
    done
done

# A clean environment: no plugin path, no administrator's file, a private home.
unset VAULTPLUG_PLUGIN_PATH VAULTPLUG_ENABLED_PROVIDERS VAULTPLUG_CONFIG VAULTPLUG_VAULT
export VAULTPLUG_SYSTEM_CONFIG="$PKG_WORK/no-admin-config.json" VAULTPLUG_HOME="$PKG_WORK/home"

# check_providers PREFIX: PREFIX/bin/vaultplug, with no --plugin-dir and nothing in the
# environment, finds and loads every provider installed under PREFIX (the library derives its
# provider directory from its own location; the prefix it was configured for is $PKG_PREFIX).
check_providers() {
    pdir=$1/$PKG_LIBDIR/vaultplug/providers-1
    # As a user runs it: through its RUNPATH when it has one (a prefix outside the linker's
    # default directories, e.g. ~/.local), else with the library directory in LD_LIBRARY_PATH.
    llp=$1/$PKG_LIBDIR
    # shellcheck disable=SC2016
    if readelf -d "$1/$PKG_BINDIR/vaultplug" | grep -q 'RUNPATH.*\$ORIGIN'; then llp=; fi
    LD_LIBRARY_PATH=$llp "$1/$PKG_BINDIR/vaultplug" providers --json \
        >"$PKG_WORK/providers.json" 2>"$PKG_WORK/providers.err" ||
        { cat "$PKG_WORK/providers.json" "$PKG_WORK/providers.err"; fail "vaultplug providers"; }
    for p in echo $PKG_PROVIDERS; do
        tr -d ' \n' <"$PKG_WORK/providers.json" |
            grep -q "\"name\":\"$p\",\"path\":\"$pdir/$p.so\"[^}]*\"state\":\"loaded\"" ||
            { cat "$PKG_WORK/providers.json"; fail "$p not loaded from $pdir"; }
    done
}

step "the installed CLI loads every installed provider, with no --plugin-dir"
vp_installed providers
check_providers "$stage"

fake=$PKG_BUILD/tests/loader/fakes/aws.so
case " $PKG_PROVIDERS " in
*" aws "*)
    if [ -f "$fake" ]; then
        step "VAULTPLUG_PLUGIN_PATH does not replace the installed aws (unless the admin allows)"
        mkdir -p "$PKG_WORK/envdir"
        chmod 755 "$PKG_WORK/envdir"
        cp "$fake" "$PKG_WORK/envdir/aws.so"
        chmod 644 "$PKG_WORK/envdir/aws.so"
        VAULTPLUG_PLUGIN_PATH=$PKG_WORK/envdir vp_installed -v providers --json \
            >"$PKG_WORK/override.json" 2>"$PKG_WORK/override.err"
        tr -d ' \n' <"$PKG_WORK/override.json" | grep -q "\"name\":\"aws\",\"path\":\"$provdir/aws.so\"" ||
            { cat "$PKG_WORK/override.json"; fail "aws.so from VAULTPLUG_PLUGIN_PATH replaced the installed one"; }
        grep -q "using the installed $provdir/aws.so, not $PKG_WORK/envdir/aws.so" "$PKG_WORK/override.err" ||
            { cat "$PKG_WORK/override.err"; fail "no warning naming both aws.so"; }
        echo '{"allow_provider_override": true}' >"$PKG_WORK/admin-override.json"
        VAULTPLUG_SYSTEM_CONFIG=$PKG_WORK/admin-override.json VAULTPLUG_PLUGIN_PATH=$PKG_WORK/envdir \
            vp_installed providers --json >"$PKG_WORK/override.json"
        tr -d ' \n' <"$PKG_WORK/override.json" | grep -q "\"name\":\"aws\",\"path\":\"$PKG_WORK/envdir/aws.so\"" ||
            { cat "$PKG_WORK/override.json"; fail "allow_provider_override did not let the variable override aws"; }
    fi
    ;;
esac

case " $PKG_PROVIDERS " in
*" hashicorp "*)
    step "the installed CLI fetches from the mock cloud (HashiCorp Vault)"
    mock=$PKG_BUILD/tests/mockcloud/vaultplug-mockcloud
    need "$mock"
    "$mock" --only vault --seed "$PKG_SRC/examples/mockcloud-seed.json" \
        --env-out "$PKG_WORK/mock.env" >"$PKG_WORK/mock.out" 2>"$PKG_WORK/mock.err" &
    mock_pid=$!
    trap 'kill "$mock_pid" 2>/dev/null' EXIT
    i=0
    until grep -q '^ready$' "$PKG_WORK/mock.out" 2>/dev/null; do
        i=$((i + 1))
        { [ $i -lt 100 ] && kill -0 "$mock_pid" 2>/dev/null; } ||
            { cat "$PKG_WORK/mock.err"; fail "the mock cloud did not start"; }
        sleep 0.1
    done
    # shellcheck disable=SC1091
    v=$(. "$PKG_WORK/mock.env" && vp_installed get 'hashicorp://secret/orders/signing#hmac_key') ||
        fail "vaultplug get from the installed CLI"
    [ "$v" = vault-hmac-3f9a ] || fail "vaultplug get gave '$v'"
    kill "$mock_pid"
    wait "$mock_pid" 2>/dev/null || :
    trap - EXIT
    ;;
esac

step "the installation moved to another prefix still works"
moved=$PKG_WORK/moved/.local
rm -rf "$PKG_WORK/moved"
mkdir -p "$PKG_WORK/moved/probe"
cp -a "$stage" "$moved"
check_providers "$moved"
d=$(PKG_CONFIG_PATH=$moved/$PKG_LIBDIR/pkgconfig pkg-config --variable=providerdir vaultplug)
[ "$(canon "$d")" = "$(canon "$moved/$PKG_LIBDIR/vaultplug/providers-1")" ] ||
    fail "moved vaultplug.pc providerdir is '$d'"
# The CMake packages name the moved directories too.
cat >"$PKG_WORK/moved/probe/CMakeLists.txt" <<'CMEOF'
cmake_minimum_required(VERSION 3.20)
project(probe LANGUAGES NONE)
find_package(vaultplug 1 CONFIG REQUIRED)
message(STATUS "probe providerdir=${VAULTPLUG_PROVIDER_DIR}")
message(STATUS "probe sdkproviderdir=${VAULTPLUG_SDK_PROVIDER_DIR}")
message(STATUS "probe include=${VAULTPLUG_INCLUDE_DIR}")
CMEOF
"$PKG_CMAKE" -S "$PKG_WORK/moved/probe" -B "$PKG_WORK/moved/probe/b" -G "$PKG_GENERATOR" \
    -DCMAKE_PREFIX_PATH="$moved" >"$PKG_WORK/moved/probe.log" 2>&1 ||
    { cat "$PKG_WORK/moved/probe.log"; fail "find_package(vaultplug) from the moved prefix"; }
for v in providerdir sdkproviderdir; do
    got=$(sed -n "s/^-- probe $v=//p" "$PKG_WORK/moved/probe.log")
    [ "$(canon "$got")" = "$(canon "$moved/$PKG_LIBDIR/vaultplug/providers-1")" ] ||
        fail "CMake $v from the moved prefix is '$got'"
done
got=$(sed -n "s/^-- probe include=//p" "$PKG_WORK/moved/probe.log")
[ "$(canon "$got")" = "$(canon "$moved/$PKG_INCLUDEDIR")" ] || fail "CMake include dir is '$got'"
echo "ok"
