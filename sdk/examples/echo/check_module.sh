#!/bin/sh
# check_module.sh symbols|needed MODULE.so
#   symbols: the module's dynamic symbol table defines exactly one symbol,
#            vaultplug_provider_entry (the version script hides everything else).
#   needed:  the module's NEEDED entries name only libc (it gets every service from the host).
# Exit 0 on success, 1 with a message naming what is wrong.
set -eu
mode=$1
so=$2
[ -f "$so" ] || { echo "no such module: $so" >&2; exit 1; }
case $mode in
symbols)
    # `nm -D --defined-only` prints "ADDR TYPE NAME[@@VERSION]". Linkers that name a version
    # node also emit an absolute (type A) symbol for the node itself: that is not code.
    syms=$(nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u)
    echo "defined dynamic symbols:"
    echo "$syms" | sed 's/^/  /'
    if [ "$syms" != "vaultplug_provider_entry" ]; then
        echo "FAIL: expected exactly one exported symbol, vaultplug_provider_entry" >&2
        exit 1
    fi
    ;;
needed)
    needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
    echo "NEEDED:"
    echo "$needed" | sed 's/^/  /'
    bad=$(echo "$needed" | grep -v -e '^libc\.so\.[0-9]*$' -e '^$' || true)
    if [ -n "$bad" ]; then
        echo "FAIL: the module needs more than libc: $bad" >&2
        exit 1
    fi
    ;;
*)
    echo "usage: check_module.sh symbols|needed MODULE.so" >&2
    exit 2
    ;;
esac
echo "ok"
