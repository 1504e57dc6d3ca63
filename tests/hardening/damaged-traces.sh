#!/bin/sh
# A corpus of damaged traces made from a good one: every kind of cut, flipped bits across the
# whole file, record sizes that lie, a trace grown past any sane size. `report` and `export`
# must read each one (a cut trace up to its last complete record) or refuse it with status 2
# and one line on stderr; a crash, a hang or any other status fails the test.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
scratch
"$SS_BUILDDIR/tests/golden/make-run" "$tmp/run" >/dev/null || { echo "cannot make a run"; exit 99; }
good=$(ls "$tmp"/run/stallscope-*.trace | head -1)
size=$(wc -c <"$good")
mkdir "$tmp/bad"
cases=0

# Byte N of the file (0-based) xor MASK, in place.
flip() {
    old=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    new=$((old ^ $3))
    printf "\\$(printf '%03o' "$new")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

i=0
for cut in 0 1 7 8 15 16 17 23 24 $(seq 40 97 "$size"); do
    head -c "$cut" "$good" >"$tmp/bad/cut-$cut.trace"
done
for at in $(seq 0 53 "$size"); do
    for mask in 1 128; do
        cp "$good" "$tmp/bad/flip-$at-$mask.trace"
        flip "$tmp/bad/flip-$at-$mask.trace" "$at" "$mask"
    done
done
# The first record's size field claims 4 GiB, then 64 KiB more than there is.
cp "$good" "$tmp/bad/size-huge.trace"
for k in 20 21 22 23; do flip "$tmp/bad/size-huge.trace" "$k" 255; done
cp "$good" "$tmp/bad/size-past-end.trace"
flip "$tmp/bad/size-past-end.trace" 22 1
# Oversized: a good trace followed by 64 MiB of zeros (tag 0 is no record).
{ cat "$good"; head -c 67108864 /dev/zero; } >"$tmp/bad/oversized.trace"

for f in "$tmp"/bad/*.trace; do
    for cmd in "report" "export --format json -o $tmp/out.json"; do
        cases=$((cases + 1))
        # shellcheck disable=SC2086
        timeout 60 "$stallscope" $cmd "$f" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        lines=$(wc -l <"$tmp/err")
        if [ "$rc" -eq 0 ] || { [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ]; }; then
            continue
        fi
        echo "FAIL: stallscope $cmd $(basename "$f") -> status $rc, $lines lines on stderr:"
        head -5 "$tmp/err" | sed 's/^/    /'
        failures=$((failures + 1))
    done
done
echo "$cases runs on $(ls "$tmp"/bad | wc -l) damaged traces, $failures failures"
[ "$failures" -eq 0 ]
