#!/bin/sh
# `stallscope view --pid PID` of a process that is not traced, at a terminal: the viewer asks
# whether to attach, runs `stallscope attach -q -o DIR PID` into a new directory of the working
# directory, shows DIR live, and interrupts attach when it quits, which then says its piece. A
# failed attach is shown with what attach said; "no" records nothing. attach is played by a
# script (STALLSCOPE_CLI) that puts a recorded trace in DIR under the process's pid, so that
# what is checked is the viewer's part alone.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

tmp=$(mktemp -d) || exit 99
. "${SS_SRCDIR:-$(dirname "$0")/../..}/tests/viewer/tmux.sh"
target=''
finish() {
    [ -n "$target" ] && kill "$target" 2>/dev/null
    cleanup_tmux
    rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 99' HUP INT TERM

"$stallscope" run -q -o "$tmp/rec" -- "$fixture" --spin 200 --sleep 150 >"$tmp/out" ||
    { echo "ERROR: cannot record the fixture"; exit 99; }
recorded=$(ls "$tmp"/rec/stallscope-*.trace | head -1)
mkdir "$tmp/here" || exit 99
here=$(cd "$tmp/here" && pwd -P) || exit 99

cat >"$tmp/fake" <<EOF
#!/bin/sh
# stallscope attach -q -o DIR PID, played
echo "\$*" >>"$tmp/fake.args"
[ "\$1" = attach ] && [ "\$2" = -q ] && [ "\$3" = -o ] || exit 2
if [ -n "\${FAKE_FAIL:-}" ]; then
    echo "stallscope: attach: cannot attach to process \$5: Operation not permitted" >&2
    exit 2
fi
trap 'echo "attach: detached from process \$5"; exit 0' INT
cp "$recorded" "\$4/stallscope-\$5.trace" || exit 2
while :; do sleep 0.1; done
EOF
chmod +x "$tmp/fake" || exit 99

sleep 600 &
target=$!
# The viewer's working directory is the tmux server's.
cd "$here" || exit 99

start_viewer yes 120 40 LC_ALL=C STALLSCOPE_CLI="$tmp/fake" -- --pid "$target"
wait_for yes "^process $target \(sleep\) is not traced by stallscope\.$"
wait_for yes 'attach to it now\? \[y/N\]'
keys yes y Enter
wait_for yes 'plant_spin'
expect_screen yes '^ stallscope +1 Stalls'
keys yes q
exited yes 0
expect_screen yes "^attaching to process $target, recording into $here/stallscope.run$"
expect_screen yes "^attach: detached from process $target$" "attach was not interrupted, or its words not shown"
expect_screen yes "^the recording of process $target is in $here/stallscope.run$"
grep -qx "attach -q -o $here/stallscope.run $target" "$tmp/fake.args" ||
    fail "attach was run as: $(cat "$tmp/fake.args")"
[ -f "$here/stallscope.run/stallscope-$target.trace" ] || fail "nothing recorded in stallscope.run"
kill -0 "$target" || fail "the process did not outlive the viewer"
echo "ok: attached when asked, into $here/stallscope.run, and interrupted on quit"

# stallscope.run is taken now: a directory of its own beside it. attach fails there.
start_viewer failed 120 40 LC_ALL=C STALLSCOPE_CLI="$tmp/fake" FAKE_FAIL=1 -- --pid "$target"
wait_for failed 'attach to it now\? \[y/N\]'
keys failed y Enter
exited failed 2
expect_screen failed "^attaching to process $target, recording into $here/stallscope.run-[A-Za-z0-9]{6}$"
expect_screen failed "^stallscope: attach: cannot attach to process $target: Operation not permitted$" \
    "what attach said is not shown"
expect_screen failed "^stallscope: view: stallscope attach $target failed \(exit status 2\)$"
ls -d "$here"/stallscope.run-* >/dev/null 2>&1 && fail "the failed attach left its directory behind"
echo "ok: a failed attach is shown with its own words"

# No: nothing is run.
start_viewer no 120 40 LC_ALL=C STALLSCOPE_CLI="$tmp/fake" -- --pid "$target"
wait_for no 'attach to it now\? \[y/N\]'
keys no n Enter
exited no 2
[ "$(wc -l <"$tmp/fake.args")" -eq 2 ] || fail "attach ran though the answer was no"
echo "ok: no attach when the answer is no"
