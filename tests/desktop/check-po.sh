#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Checks the translations against the sources:
#  1. every file under app/, resources/ and data/ that has translatable strings is
#     listed in po/POTFILES.in;
#  2. a template regenerated from POTFILES.in with xgettext, merged into each catalogue
#     of po/LINGUAS, leaves no message untranslated or fuzzy.
#
# Usage: check-po.sh SOURCE_ROOT XGETTEXT MSGMERGE MSGFMT MSGATTRIB

set -eu

srcroot=$1
xgettext=$2
msgmerge=$3
msgfmt=$4
msgattrib=$5

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

grep -v '^[[:space:]]*#' "$srcroot/po/POTFILES.in" | sed '/^[[:space:]]*$/d' > "$tmp/POTFILES"

# Files that must be listed: C with gettext calls, UI files with translatable
# properties, and every desktop entry, metainfo and schema.
cd "$srcroot"
find app resources data -type f \( -name '*.c' -o -name '*.h' -o -name '*.ui' \
     -o -name '*.desktop.in' -o -name '*.metainfo.xml.in' -o -name '*.gschema.xml' \) | sort |
while read -r file; do
  case "$file" in
    *.c|*.h)
      grep -Eq '(^|[^A-Za-z0-9_])(_|N_|C_|NC_|ngettext|g_dngettext|g_dpgettext2|g_dcgettext)[[:space:]]*\([[:space:]]*("|[A-Z_]+[[:space:]]*,)' "$file" || continue ;;
    *.ui)
      grep -q 'translatable="yes"' "$file" || continue ;;
  esac
  if ! grep -qx "$file" "$tmp/POTFILES"; then
    echo "$file has translatable strings but is not listed in po/POTFILES.in"
    echo missing >> "$tmp/missing"
  fi
done
if [ -s "$tmp/missing" ]; then
  failed=1
fi

# Listed files must exist.
while read -r file; do
  if [ ! -f "$srcroot/$file" ]; then
    echo "po/POTFILES.in lists $file, which does not exist"
    failed=1
  fi
done < "$tmp/POTFILES"

# The same keywords and flags as meson's 'glib' preset.
"$xgettext" \
  --package-name=graft \
  --from-code=UTF-8 \
  --add-comments=Translators \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
  --flag=g_print:1:c-format --flag=g_printerr:1:c-format --flag=g_printf:1:c-format \
  --flag=g_fprintf:2:c-format --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format \
  --directory="$srcroot" \
  --files-from="$tmp/POTFILES" \
  --output="$tmp/graft.pot"

if [ ! -s "$tmp/graft.pot" ]; then
  echo "xgettext found no translatable string"
  exit 1
fi

n_messages=$(grep -c '^msgid ' "$tmp/graft.pot")
echo "template: $((n_messages - 1)) messages"

for lang in $(grep -v '^[[:space:]]*#' "$srcroot/po/LINGUAS"); do
  po="$srcroot/po/$lang.po"
  if [ ! -f "$po" ]; then
    echo "po/LINGUAS names $lang but po/$lang.po does not exist"
    failed=1
    continue
  fi

  "$msgmerge" --quiet --output-file="$tmp/$lang.po" "$po" "$tmp/graft.pot"

  if ! "$msgfmt" --check --output-file=/dev/null "$tmp/$lang.po"; then
    echo "po/$lang.po: msgfmt --check failed"
    failed=1
  fi

  stats=$("$msgfmt" --statistics --output-file=/dev/null "$tmp/$lang.po" 2>&1)
  echo "po/$lang.po: $stats"

  "$msgattrib" --untranslated --no-obsolete "$tmp/$lang.po" > "$tmp/$lang.untranslated"
  "$msgattrib" --only-fuzzy --no-obsolete "$tmp/$lang.po" > "$tmp/$lang.fuzzy"
  if grep -q '^msgid' "$tmp/$lang.untranslated"; then
    echo "po/$lang.po: untranslated messages:"
    grep '^msgid' "$tmp/$lang.untranslated" | grep -v '^msgid ""$' || true
    failed=1
  fi
  if grep -q '^msgid' "$tmp/$lang.fuzzy"; then
    echo "po/$lang.po: fuzzy messages:"
    grep '^msgid' "$tmp/$lang.fuzzy" | grep -v '^msgid ""$' || true
    failed=1
  fi
done

exit $failed
