#!/usr/bin/env bash
# make lint: checks the style of every tracked .c and .h file, in seconds.
#
#   scripts/lint.sh            check; exit status 1 when anything is found
#   scripts/lint.sh --format   rewrite the files with clang-format (make format)
#
# Two kinds of check (docs/style.md explains each and how to fix it):
#   format   clang-format --dry-run --Werror with the repository's
#            .clang-format: one line per file that differs, with the first
#            place and how many there are (`make format` fixes them all)
#   lines    scripts/lint.awk: tabs, trailing whitespace, lines over 80
#            columns, // comments, unsafe libc calls outside tests/,
#            internal (sl__) names and headers used outside their module,
#            extern declarations and hand-written prototypes in .c files
# Every finding is "file:line: what is wrong: what to do"; the last line is
# "lint: N problems" or "lint: ok".
#
# The formatter is pinned to clang-format 14, the version Debian 12 ships
# (docker/packages.txt): other versions format differently. When it (or
# gawk, for lint.awk) is missing, docker/install-deps.sh installs it, as
# `make deps` does.
# CLANG_FORMAT names another binary of version 14.
set -u
cd "$(dirname "$0")/.."

mode=check
case ${1:-} in
'') ;;
--format) mode=format ;;
*) echo "usage: scripts/lint.sh [--format]" >&2; exit 2 ;;
esac

CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1 || ! command -v gawk >/dev/null 2>&1; then
    docker/install-deps.sh || exit 1
fi
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "lint: $CLANG_FORMAT not found (docker/packages.txt lists clang-format-14)" >&2
    exit 1
fi
if ! command -v gawk >/dev/null 2>&1; then
    echo "lint: gawk not found (docker/packages.txt lists it)" >&2
    exit 1
fi
version=$("$CLANG_FORMAT" --version)
case $version in
*"clang-format version 14."*) ;;
*) echo "lint: $CLANG_FORMAT is not clang-format 14: $version" >&2; exit 1 ;;
esac

# The files: every tracked C file still present (a tree without .git:
# every C file outside build/ and bin/).
files=$(mktemp)
trap 'rm -f "$files" "$files".*' EXIT
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -- '*.c' '*.h' | while IFS= read -r -d '' f; do
        [ -f "$f" ] && printf '%s\0' "$f"
    done >"$files"
else
    find . -path ./build -prune -o -path ./bin -prune -o \
        \( -name '*.c' -o -name '*.h' \) -type f -printf '%P\0' >"$files"
fi
nproc=$(nproc 2>/dev/null || echo 2)

if [ $mode = format ]; then
    xargs -0 -r -n 20 -P "$nproc" "$CLANG_FORMAT" -i --style=file <"$files" || exit 1
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        echo "format: done; uncommitted changes to C files now:$(git diff --shortstat -- '*.c' '*.h')"
    fi
    exit 0
fi

# The formatter's findings, one per place ("file:line:col: error: ..."),
# become one line per file. Each batch keeps only those lines, written
# whole, so parallel batches cannot interleave within a line.
xargs -0 -r -n 20 -P "$nproc" sh -c '"$0" --dry-run --Werror --style=file "$@" 2>&1 |
    grep --line-buffered -e ": error: " -e "^error: " -e "^Error" || :' \
    "$CLANG_FORMAT" <"$files" >"$files.fmt"
awk -F: '/: error: code should be clang-formatted/ {
        if (!($1 in n)) { first[$1] = $2; order[++k] = $1 }
        n[$1]++
    }
    END {
        for (i = 1; i <= k; i++) {
            f = order[i]
            printf "%s:%d: not formatted as .clang-format says (%d place%s; " \
                   "see them with %s --dry-run %s): make format\n",
                   f, first[f], n[f], n[f] == 1 ? "" : "s", cf, f
        }
        printf "lint-count format %d\n", k
    }' cf="$CLANG_FORMAT" "$files.fmt" >"$files.out"
# Any other error (a file it cannot read, a broken .clang-format) stops
# the check.
if grep -v -e ': error: code should be clang-formatted' "$files.fmt" | grep -q .; then
    grep -v -e ': error: code should be clang-formatted' "$files.fmt" >&2
    echo "lint: $CLANG_FORMAT failed" >&2
    exit 1
fi

# One gawk over all the files: the internal-name check needs them all.
mapfile -d '' list <"$files"
if [ ${#list[@]} -gt 0 ]; then
    LC_ALL=C.UTF-8 gawk -f scripts/lint.awk "${list[@]}" </dev/null \
        >>"$files.out" || { echo "lint: scripts/lint.awk failed" >&2; exit 1; }
fi

grep -v '^lint-count ' "$files.out" | sort -t: -k1,1 -k2,2n
total=0 summary=
for check in format long tab whitespace comment unsafe internal extern prototype; do
    n=$(awk -v c="$check" '$1 == "lint-count" && $2 == c { s += $3 } END { print s + 0 }' "$files.out")
    [ "$n" = 0 ] && continue
    total=$((total + n))
    summary="$summary $check $n,"
done
if [ $total = 0 ]; then
    echo "lint: ok"
    exit 0
fi
echo "lint: $total problems:${summary%,}"
exit 1
