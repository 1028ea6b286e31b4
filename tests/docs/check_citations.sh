#!/usr/bin/env bash
# check_citations.sh SOURCE_DIR - the project's design is cited in one place, docs/design.md,
# and every citation of it still points somewhere:
#   1. no tracked file names the founding design brief's file, which was never part of the
#      repository (cite docs/design.md instead);
#   2. a section of docs/design.md is cited by its title (`design.md`, a comma, and the title in
#      double quotes), never by a number, and that title is a heading of docs/design.md;
#   3. every relative link of the Markdown files in docs/ names an existing file and, after a
#      `#`, a heading of that file (GitHub's anchors: lower case, punctuation dropped, spaces
#      turned into hyphens; headings inside fenced blocks do not count).
# Prints one FAIL line per problem, with file and line, and exits 1 if there was any.
set -u
src=$(cd "$1" && pwd) || exit 2
cd "$src" || exit 2
export LC_ALL=C
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# The files of the project: what git tracks (plus new files not yet committed), or, outside a
# git checkout (a source tarball), every file but build trees.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -d '' files < <(git ls-files -z --cached --others --exclude-standard)
else
    mapfile -d '' files < <(find . \( -name build -o -name .git \) -prune -o -type f -print0 |
        sed -z 's|^\./||')
fi
[ "${#files[@]}" -gt 0 ] || { echo "FAIL: no files found in $src"; exit 1; }
design=docs/design.md
[ -f "$design" ] || { echo "FAIL: $design is missing"; exit 1; }

# headings FILE: the text of every Markdown heading outside fenced blocks, one per line.
headings() {
    awk '/^[ \t]*```/ { fenced = !fenced; next }
         !fenced && /^##* / { sub(/^#+ +/, ""); sub(/ +#* *$/, ""); print }' "$1"
}
# anchors FILE: GitHub's anchor of each heading.
anchors() {
    headings "$1" | tr '[:upper:]' '[:lower:]' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}

# 1. The founding brief's file name (built so that this script does not name it itself).
brief="DESIGN"".md"
while IFS= read -r hit; do
    fail "$hit: cites $brief, which is not in the project; cite docs/design.md (by section title)"
done < <(grep -n -I -s -F -- "$brief" "${files[@]}")

# 2. Section citations (grep prints FILE:LINE:MATCH, and MATCH starts with "design.md").
mapfile -t titles < <(headings "$design")
while IFS= read -r hit; do
    where=${hit%%:design.md*}
    cited=${hit#"$where":}
    if [[ $cited =~ ^design\.md,?\ \"([^\"]*)\"$ ]]; then
        title=${BASH_REMATCH[1]}
        found=
        for t in "${titles[@]}"; do [ "$t" = "$title" ] && found=1 && break; done
        [ -n "$found" ] || fail "$where: cites \"$title\" of $design, which has no such heading"
    else
        fail "$where: cites a section of $design by number; cite it by its title"
    fi
done < <(grep -n -I -s -o -E -- 'design\.md,? ("[^"]*"|(section|§) ?[0-9]+)' "${files[@]}")

# 3. Relative links of the Markdown files in docs/ (and its subdirectories).
for f in "${files[@]}"; do
    case $f in docs/*.md) ;; *) continue ;; esac
    [ -f "$f" ] || continue
    dir=$(dirname "$f")
    while IFS= read -r hit; do
        line=${hit%%:*}
        target=${hit#*:](}
        target=${target%)}
        case $target in http://* | https://* | mailto:*) continue ;; esac
        path=${target%%#*}
        anchor=
        [[ $target == *'#'* ]] && anchor=${target#*#}
        file=$f
        if [ -n "$path" ]; then
            file=$dir/$path
            [ -e "$file" ] || { fail "$f:$line: link to $path, which does not exist"; continue; }
        fi
        if [ -n "$anchor" ]; then
            case $file in *.md) ;; *) continue ;; esac
            anchors "$file" | grep -qxF -- "$anchor" ||
                fail "$f:$line: link to #$anchor, which is no heading of $file"
        fi
    done < <(awk '/^[ \t]*```/ { fenced = !fenced; print ""; next } { print fenced ? "" : $0 }' "$f" |
        grep -n -o -E '\]\([^) ]+\)')
done

if [ "$failures" -ne 0 ]; then
    echo "FAIL: $failures problem(s) with citations of the design"
    exit 1
fi
echo "citations ok"
