#!/bin/sh
# Files someone else planted cannot steer the CLI: a run directory that is a symbolic link or
# another user's is refused before anything in it is deleted, and a JIT map that is a symbolic
# link, another user's, not a file, or left by an earlier process with the same pid does not
# rename frames.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
FIXTURE="$SS_BUILDDIR/tests/fixtures/loop-fixture-O2"
scratch
chmod 755 "$tmp"

"$stallscope" run -q -o "$tmp/run" -- "$FIXTURE" --spin 80 >/dev/null || { echo "cannot record"; exit 99; }
trace=$(ls "$tmp"/run/stallscope-*.trace | head -1)
pid=$(basename "$trace" .trace | sed 's/^stallscope-//')

# -o naming a symbolic link to a directory that holds an earlier run: refused, nothing deleted.
mkdir "$tmp/victim"
cp "$trace" "$tmp/victim/"
ln -s "$tmp/victim" "$tmp/link"
if "$stallscope" run -q -o "$tmp/link" -- true 2>"$tmp/err"; then
    fail "run -o through a symbolic link succeeded"
elif ! grep -q 'symbolic link' "$tmp/err" || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    fail "run -o through a symbolic link: $(cat "$tmp/err")"
elif ! [ -f "$tmp/victim/$(basename "$trace")" ]; then
    fail "the link's target lost its trace"
else
    ok "run -o through a symbolic link refused: $(cat "$tmp/err")"
fi

if [ "$(id -u)" -eq 0 ]; then
    mkdir "$tmp/theirs"
    cp "$trace" "$tmp/theirs/"
    chown -R 65534:65534 "$tmp/theirs"
    if "$stallscope" run -q -o "$tmp/theirs" -- true 2>"$tmp/err"; then
        fail "run -o into another user's directory succeeded"
    elif ! grep -q 'another user' "$tmp/err" || ! [ -f "$tmp/theirs/$(basename "$trace")" ]; then
        fail "run -o into another user's directory: $(cat "$tmp/err")"
    else
        ok "run -o into another user's directory refused: $(cat "$tmp/err")"
    fi
else
    echo "skipped (needs root): a run directory of another user"
fi

# A perf map beside the trace that names every address: trusted, it renames the stall's frames.
map="$tmp/run/perf-$pid.map"
printf '1000 7ffffffff000 PLANTED\n' >"$tmp/evil.map"
# renamed: 0 when the planted name shows, 1 when not, 2 when report failed or hung.
renamed() {
    timeout 30 "$stallscope" report "$tmp/run" >"$tmp/report" 2>&1 || { cat "$tmp/report"; return 2; }
    grep -q PLANTED "$tmp/report"
}
# not_renamed WHAT: the planted map must be left out, with report working.
not_renamed() {
    renamed
    case $? in
    0) fail "$1 was read" ;;
    1) ok "$1 left out" ;;
    *) fail "report failed or hung with $1" ;;
    esac
}
cp "$tmp/evil.map" "$map"
if renamed; then ok "control: the user's own map names frames"; else fail "control: own map unused"; fi
rm -f "$map"
ln -s "$tmp/evil.map" "$map"
not_renamed "a map reached through a symbolic link"
rm -f "$map"
mkfifo "$map"
not_renamed "a FIFO in place of a map"
rm -f "$map"
if [ "$(id -u)" -eq 0 ]; then
    cp "$tmp/evil.map" "$map"
    chown 65534:65534 "$map"
    not_renamed "another user's map"
    # The trace's owner wrote the run: a report by root of that user's run reads the user's map.
    chown 65534:65534 "$trace"
    if renamed; then ok "the map of the trace's owner is read"; else fail "the trace owner's map unused"; fi
    chown 0:0 "$trace"
    rm -f "$map"
else
    echo "skipped (needs root): a JIT map of another user"
fi

# A map last written an hour before the process began (an earlier process with the same pid
# left it): not read, and the report says so.
cp "$tmp/evil.map" "$map"
touch -d '1 hour ago' "$map"
not_renamed "a map older than the process"
if grep -q "note: ignored $map: last written before process $pid began" "$tmp/report"; then
    ok "the report says why the old map was left out"
else
    fail "no word about the old map: $(grep note "$tmp/report")"
fi
rm -f "$map"

# tmp_map_run NAME PREPARE: records the fixture into $tmp/NAME through a wrapper that first
# plants /tmp/perf-PID.map naming every address PLANTED and runs `PREPARE MAP` on it; sets
# $tmp_pid to the traced process's pid and leaves run's stderr in $tmp/err.
tmp_map_run() {
    cat >"$tmp/$1.sh" <<EOS
#!/bin/sh
printf '1000 7ffffffff000 PLANTED\n' >"/tmp/perf-\$\$.map"
$2 "/tmp/perf-\$\$.map"
exec "\$@"
EOS
    chmod +x "$tmp/$1.sh"
    "$stallscope" run -q -o "$tmp/$1" -- "$tmp/$1.sh" "$FIXTURE" --spin 80 >/dev/null 2>"$tmp/err"
    tmp_pid=$(ls "$tmp/$1"/stallscope-*.trace | head -1 | sed 's/.*stallscope-//; s/\.trace$//')
}
# tmp_map_left NAME WHAT WORDS: run kept no copy of the /tmp map of WHAT in $tmp/NAME, and
# said so on stderr in WORDS.
tmp_map_left() {
    if [ -e "$tmp/$1/perf-$tmp_pid.map" ]; then
        fail "run copied $2 into the run"
    elif ! grep -q "$3" "$tmp/err"; then
        fail "no word about $2: $(cat "$tmp/err")"
    else
        ok "run leaves $2: $(cat "$tmp/err")"
    fi
}

# run does not copy such a map from /tmp into the run, and says why; report, which then looks
# in /tmp itself, leaves it out as well.
tmp_map_run run3 "touch -d '1 hour ago'"
tmp_map_left run3 "a /tmp map older than the process" \
    "ignored /tmp/perf-$tmp_pid.map: last written before process $tmp_pid began"
timeout 30 "$stallscope" report "$tmp/run3" >"$tmp/report3" 2>&1
if grep -q PLANTED "$tmp/report3"; then
    fail "report read the old /tmp map"
else
    ok "report leaves the old /tmp map out"
fi
rm -f "/tmp/perf-$tmp_pid.map"

# run keeps a copy of the runtime's /tmp map only when it is the user's own regular file.
if [ "$(id -u)" -eq 0 ]; then
    tmp_map_run run2 "chown 65534:65534"
    rm -f "/tmp/perf-$tmp_pid.map"
    tmp_map_left run2 "another user's /tmp map" "ignored /tmp/perf-$tmp_pid.map"
else
    echo "skipped (needs root): a /tmp map of another user"
fi

[ "$failures" -eq 0 ]
