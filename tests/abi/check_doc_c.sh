#!/bin/sh
# check_doc_c.sh CC SDK_INCLUDE_DIR DOC OUT_DIR: compile every ```c block of DOC (the SDK guide)
# on its own against the SDK header alone, as a third party would (C11, pedantic, -Werror).
set -eu
cc=$1 inc=$2 doc=$3 out=$4
mkdir -p "$out"
rm -f "$out"/block*.c
awk -v out="$out" '
    /^```c$/ { n++; f = sprintf("%s/block%d.c", out, n); on = 1; next }
    /^```$/ && on { on = 0; close(f); next }
    on { print > f }
' "$doc"
found=0
for f in "$out"/block*.c; do
    [ -e "$f" ] || continue
    found=$((found + 1))
    "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wno-unused-function \
        -pedantic -I"$inc" -c "$f" -o "$f.o" || { echo "FAIL $f (from $doc)"; exit 1; }
    echo "ok   $f"
done
[ "$found" -gt 0 ] || { echo "FAIL no \`\`\`c block in $doc"; exit 1; }
