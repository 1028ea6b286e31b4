#!/bin/sh
# check_deps.sh CORE_DIR BUILD_DIR - the core's modules depend on each other only in the
# declared direction (docs/design.md, "Modules").
#
# CORE_DIR is the core's source folder (core/): its CMakeLists.txt declares the modules
# (set(VP_MODULES ...)) and what each may use (set(VP_MODULE_DEPS_<m> ...)); the sources are in
# CORE_DIR/src/<m>/. BUILD_DIR is a build tree holding the modules' object files
# (.../vp_core_<m>.dir/.../*.o). Checked:
#   1. the declared table itself has no circle;
#   2. includes: a file of module m includes only headers of m and of the modules m may use;
#   3. symbols: an object of m uses only symbols defined by m and the modules m may use.
# Every violation is printed; the exit status is 1 if there was any, 2 on bad arguments.
set -u
core=${1:-}
build=${2:-}
if [ -z "$core" ] || [ -z "$build" ] || [ ! -f "$core/CMakeLists.txt" ] || [ ! -d "$build" ]; then
    echo "usage: check_deps.sh CORE_DIR BUILD_DIR" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The table: "m dep dep ..." per module.
awk '
    /^set\(VP_MODULES / { sub(/^set\(VP_MODULES /, ""); sub(/\).*/, ""); print "MODULES " $0 }
    /^set\(VP_MODULE_DEPS_/ {
        line = $0; sub(/^set\(VP_MODULE_DEPS_/, "", line); sub(/\).*/, "", line)
        gsub(/""/, "", line); print "DEPS " line
    }' "$core/CMakeLists.txt" >"$tmp/table"
modules=$(sed -n 's/^MODULES //p' "$tmp/table")
[ -n "$modules" ] || { echo "check_deps: no set(VP_MODULES ...) in $core/CMakeLists.txt" >&2; exit 2; }
sed -n 's/^DEPS //p' "$tmp/table" >"$tmp/deps"
for m in $modules; do
    grep -q "^$m\( \|$\)" "$tmp/deps" || { echo "check_deps: module $m has no VP_MODULE_DEPS_$m" >&2; exit 2; }
done

bad=0
allowed() { # allowed FROM TO: 0 if FROM may use TO
    [ "$1" = "$2" ] && return 0
    awk -v m="$1" -v d="$2" '$1 == m { for (i = 2; i <= NF; i++) if ($i == d) f = 1 } END { exit !f }' "$tmp/deps"
}

# 1. The declared graph is acyclic (depth-first search in awk).
cycle=$(awk '
    { for (i = 2; i <= NF; i++) e[$1] = e[$1] " " $i; n[$1] = 1 }
    function dfs(v,    k, a, i) {
        if (st[v] == 1) { found = path " " v; return 1 }
        if (st[v] == 2) return 0
        st[v] = 1; path = path " " v
        k = split(e[v], a, " ")
        for (i = 1; i <= k; i++) if (dfs(a[i])) return 1
        st[v] = 2; sub(/ [^ ]*$/, "", path)
        return 0
    }
    END { for (v in n) if (dfs(v)) { print found; exit } }' "$tmp/deps")
if [ -n "$cycle" ]; then
    echo "check_deps: the declared module table has a circle:$cycle"
    bad=1
fi

# 2. Includes. Which module holds each header name.
for m in $modules; do
    for h in "$core/src/$m"/*.h; do
        [ -e "$h" ] && echo "$(basename "$h") $m"
    done
done >"$tmp/headers"
for m in $modules; do
    for f in "$core/src/$m"/*.c "$core/src/$m"/*.h; do
        [ -e "$f" ] || continue
        sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
            case $inc in vaultplug/*) continue ;; esac
            name=$(basename "$inc")
            owner=$(awk -v h="$name" '$1 == h { print $2; exit }' "$tmp/headers")
            [ -n "$owner" ] || continue # a system or generated header
            if ! allowed "$m" "$owner"; then
                echo "check_deps: ${f#"$core"/} ($m) includes $inc of module $owner; $m may use: $(awk -v m="$m" '$1 == m { $1 = ""; print }' "$tmp/deps")"
                echo x >>"$tmp/bad"
            fi
        done
    done
done

# 3. Symbols: who defines what, then who uses what.
for m in $modules; do
    objs=$(find "$build" -path "*/vp_core_$m.dir/*" -name '*.o' 2>/dev/null)
    if [ -z "$objs" ]; then
        echo "check_deps: no objects of module $m under $build (build it first)" >&2
        exit 2
    fi
    for o in $objs; do
        nm --defined-only -g "$o" | awk -v m="$m" 'NF >= 3 { print $3, m }' >>"$tmp/defs"
        nm -u "$o" | awk -v m="$m" -v o="$(basename "$o" .o)" '{ print $2, m, o }' >>"$tmp/uses"
    done
done
sort -u "$tmp/defs" >"$tmp/defs.s"
sort "$tmp/uses" >"$tmp/uses.s"
join "$tmp/uses.s" "$tmp/defs.s" | awk '$2 != $4 { print $2, $4, $3, $1 }' | sort -u >"$tmp/edges"
while read -r from to obj sym; do
    if ! allowed "$from" "$to"; then
        echo "check_deps: $obj ($from) uses $sym of module $to; $from may use: $(awk -v m="$from" '$1 == m { $1 = ""; print }' "$tmp/deps")"
        echo x >>"$tmp/bad"
    fi
done <"$tmp/edges"

[ -s "$tmp/bad" ] && bad=1
if [ $bad -eq 0 ]; then
    echo "check_deps: $(echo $modules | wc -w) modules, $(wc -l <"$tmp/edges") cross-module symbol uses, all in the declared direction"
fi
exit $bad
