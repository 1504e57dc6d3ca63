#!/bin/bash
# The man pages say what the program does: every option `stallscope CMD --help` lists is in
# the OPTIONS of stallscope-CMD(1) and every option there is in --help; every command of
# `stallscope --help` has a page and is in stallscope(1); the export formats of
# `stallscope export --help` are those of stallscope-export(1); every key the shim's parser knows
# is in stallscope-options(7), and the real shim accepts each key the page lists. The pages
# also format without groff warnings. Exit status follows the automake test driver.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
MAN=$SS_SRCDIR/man

need_built "$stallscope" "$shim"
scratch

# section FILE NAME: the text of one section of a page, without font escapes.
section() {
    awk -v s="$2" '/^\.SH /{on = ($0 == ".SH " s); next} on' "$1" |
        sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g'
}
# options: the options named in standard input (-x or --long-name), less --help itself.
options() {
    grep -oE -- '(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | grep -oE -- '--?[a-zA-Z][a-zA-Z0-9-]*' |
        grep -vxE -- '-h|--help' | sort -u
}
# same WHAT LEFT RIGHT: two sorted lists must be equal; prints what is in only one.
same() {
    if ! diff -q "$2" "$3" >/dev/null; then
        fail "$1:"
        comm -3 "$2" "$3" | sed -e 's/^\t/    only in the man page: /' -e 's/^\([^ ]\)/    only in --help: \1/'
    fi
}

commands=$("$stallscope" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p' | sort)
[ -n "$commands" ] || fail "stallscope --help lists no commands"
echo "$commands" >"$tmp/help.commands"
section "$MAN/stallscope.1" COMMANDS | sed -n '/^\.TP/{n;s/^\.B \([a-z]*\)$/\1/p}' | sort \
    >"$tmp/man.commands"
same "commands of stallscope --help and stallscope(1)" "$tmp/help.commands" "$tmp/man.commands"

for cmd in $commands; do
    page=$MAN/stallscope-$cmd.1
    if [ ! -r "$page" ]; then
        fail "no man page for stallscope $cmd"
        continue
    fi
    "$stallscope" "$cmd" --help | options >"$tmp/$cmd.help"
    [ -s "$tmp/$cmd.help" ] || fail "stallscope $cmd --help names no option"
    section "$page" OPTIONS | options >"$tmp/$cmd.man"
    same "options of stallscope $cmd --help and stallscope-$cmd(1)" "$tmp/$cmd.help" "$tmp/$cmd.man"
done
# The export formats: the list of export --help against the entries under --format.
"$stallscope" export --help | sed -n 's/.*--format FORMAT *one of: //p' | tr -d ' ' | tr , '\n' |
    sort >"$tmp/formats.help"
section "$MAN/stallscope-export.1" OPTIONS | sed -n '/^\.BR -f .*--format/,/^\.RE/p' |
    sed -n '/^\.TP$/{n;s/^\.B \([a-z]*\)$/\1/p}' | sort >"$tmp/formats.man"
[ -s "$tmp/formats.help" ] || fail "stallscope export --help lists no format"
same "formats of stallscope export --help and stallscope-export(1)" "$tmp/formats.help" \
    "$tmp/formats.man"
"$stallscope" --help | options >"$tmp/top.help"
section "$MAN/stallscope.1" OPTIONS | options >"$tmp/top.man"
same "options of stallscope and stallscope(1)" "$tmp/top.help" "$tmp/top.man"

# The shim's keys, as its parser spells them, against the page.
sed -n 's/.*key_is(key, klen, "\([a-z_]*\)").*/\1/p' "$SS_SRCDIR/src/common/options.c" | sort -u \
    >"$tmp/parser.keys"
section "$MAN/stallscope-options.7" KEYS | sed -n 's/^\.BI \([a-z_]*\)= \([A-Z]*\)$/\1 \2/p' |
    sort >"$tmp/man.key-types"
cut -d' ' -f1 "$tmp/man.key-types" >"$tmp/man.keys"
same "keys of src/common/options.c and stallscope-options(7)" "$tmp/parser.keys" "$tmp/man.keys"
while read -r key type; do
    case $type in
    DURATION) value=20ms ;; N) value=40 ;; BOOLEAN) value=1 ;; PATH) value=$tmp/run ;;
    HOW) value=perf ;; NAME) value=ss-agree-$$ ;; SIZE) value=64k ;;
    *) fail "stallscope-options(7): $key has a value of unknown type $type"; continue ;;
    esac
    out=$(env LD_PRELOAD="$shim" STALLSCOPE_OPTIONS="$key=$value" true 2>&1)
    # A monitor that is not there is said so; the key itself was taken.
    case $out in
    *"unknown option"* | *"bad value"*)
        fail "the shim does not take $key=$value as stallscope-options(7) says: $out" ;;
    esac
done <"$tmp/man.key-types"
out=$(env LD_PRELOAD="$shim" STALLSCOPE_OPTIONS="no_such_key=1" true 2>&1)
case $out in
*"unknown option no_such_key"*) ;;
*) fail "the shim took an unknown key without a word, so the check above proves nothing" ;;
esac

if command -v groff >/dev/null 2>&1; then
    for page in "$MAN"/*.[17]; do
        warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
        [ -z "$warnings" ] || fail "groff warns about ${page##*/}: $warnings"
    done
fi

[ "$failures" -eq 0 ] && echo "ok: $(echo $commands | wc -w) commands, $(wc -l <"$tmp/man.keys") shim keys"
[ "$failures" -eq 0 ]
