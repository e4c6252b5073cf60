#!/bin/sh
# Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE.
#
# prefix-internal.sh: gives every internal name of libaemp the one internal
# prefix, ae_ (aemp_ is the public one). The names are what has external
# linkage in build/lib/libaemp.a today (nm), less the public ones (aemp_*,
# and whatever libaemp.so exports) and those prefixed already; each is
# renamed as a whole word in the C files of common/ profiles/ daemon/ cli/
# tests/ bench/ examples/, except where it names a file (xmalloc.h stays).
# tests/check_symbols.c is left alone: its names are a user program's.
#
# Idempotent: a second run finds nothing to rename. It builds the library
# before (to know the names) and after (to show that none is left), and
# fails if one is. Run it from anywhere in the checkout:
#   sh tools/prefix-internal.sh [-n]	(-n: list the names, rename nothing)
set -eu

PREFIX=ae_
cd "$(dirname "$0")/.."
dry=0
[ "${1:-}" = "-n" ] && dry=1

MAKE="${MAKE:-make}"
lib=build/lib/libaemp.a
so=build/lib/libaemp.so

build() {
	nice "$MAKE" -j2 "$lib" "$so" >/dev/null
}

# The internal names with external linkage, one a line.
internal_names() {
	nm -D --defined-only "$so" | awk 'NF == 3 { print $3 }' | sort -u \
	    > build/.prefix-public
	nm -g --defined-only "$lib" 2>/dev/null |
	    awk 'NF == 3 && $2 ~ /^[A-Z]$/ { print $3 }' | sort -u |
	    grep -v -e '^aemp_' -e "^$PREFIX" -e '^_' -e '^main$' |
	    comm -23 - build/.prefix-public
	rm -f build/.prefix-public
}

build
names=$(internal_names)
if [ -z "$names" ]; then
	echo "prefix-internal: every internal name has the prefix $PREFIX"
	exit 0
fi
count=$(printf '%s\n' "$names" | wc -l)
if [ "$dry" = 1 ]; then
	printf '%s\n' "$names"
	echo "prefix-internal: $count names would get $PREFIX"
	exit 0
fi

files=$(git ls-files -- 'common/*.[ch]' 'profiles/*.[ch]' 'daemon/*.[ch]' \
    'cli/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 'examples/*.[ch]' |
    grep -v '^tests/check_symbols\.c$')
# One alternation, longest names first; (?!\.[ch]\b): not a file name.
alt=$(printf '%s\n' "$names" | awk '{ print length, $0 }' | sort -rn |
    cut -d' ' -f2 | paste -sd'|' -)
# shellcheck disable=SC2086
PREFIX_RE="$alt" PREFIX_TO="$PREFIX" perl -pi -e \
    'BEGIN { $re = qr/\b($ENV{PREFIX_RE})\b(?!\.[ch]\b)/ }
     s/$re/$ENV{PREFIX_TO}$1/g' $files
echo "prefix-internal: $count names renamed to $PREFIX..."

build
left=$(internal_names)
if [ -n "$left" ]; then
	echo "prefix-internal: still without $PREFIX:" >&2
	printf '%s\n' "$left" >&2
	exit 1
fi
echo "prefix-internal: done; every internal name has the prefix $PREFIX"
