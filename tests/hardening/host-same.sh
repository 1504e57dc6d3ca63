#!/bin/sh
# The host never notices: shells and runtimes that pass their standard input on to children
# print the same, on stdout and stderr, and exit with the same status with the shim preloaded
# as without it. Each case runs once without and once with the shim.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_built "$shim"
scratch
cases=0

# same NAME INPUT COMMAND...: COMMAND reads INPUT on its stdin.
same() {
    name=$1 input=$2
    shift 2
    cases=$((cases + 1))
    printf '%b' "$input" | env -u LD_PRELOAD "$@" >"$tmp/out.plain" 2>"$tmp/err.plain"
    plain=$?
    printf '%b' "$input" | env LD_PRELOAD="$shim" STALLSCOPE_OPTIONS="output=$tmp/run-$cases" \
        "$@" >"$tmp/out.traced" 2>"$tmp/err.traced"
    traced=$?
    if [ "$plain" -ne "$traced" ] || ! cmp -s "$tmp/out.plain" "$tmp/out.traced" ||
        ! cmp -s "$tmp/err.plain" "$tmp/err.traced"; then
        failures=$((failures + 1))
        echo "FAIL: $name: status $traced with the shim, $plain without"
        diff -u "$tmp/out.plain" "$tmp/out.traced" | sed 's/^/    stdout /'
        diff -u "$tmp/err.plain" "$tmp/err.traced" | sed 's/^/    stderr /'
    else
        echo "ok: $name"
    fi
}

same "bash: a child reads the shell's stdin" 'hi\n' bash -c 'cat; true'
same "bash: a pipeline of children" 'b\na\n' bash -c 'sort | tr a-z A-Z; true'
same "bash: read, then a child reads the rest" 'one\ntwo\n' bash -c 'read x; echo "got $x"; cat'
same "sh: a child reads the shell's stdin" 'hi\n' sh -c 'cat; true'
same "sh: here-document" '' sh -c 'cat <<END
here $((1 + 2))
END'
same "sh: exec redirection" 'x\n' sh -c 'exec 3<&0; cat <&3; exec 3<&-'
if command -v python3 >/dev/null; then
    same "python3: subprocess with inherited stdin" 'hi\n' python3 -c '
import subprocess, sys
sys.exit(subprocess.run(["cat"]).returncode)'
    same "python3: subprocess.check_output" 'hi\n' python3 -c '
import subprocess
print(subprocess.check_output(["cat"]).decode(), end="")'
    same "python3: subprocess with a preexec_fn (fork, not vfork)" 'hi\n' python3 -c '
import subprocess, sys
sys.exit(subprocess.run(["cat"], preexec_fn=lambda: None).returncode)'
    same "python3: os.fork, the child reads stdin" 'hi\n' python3 -c '
import os, sys
pid = os.fork()
if pid == 0:
    sys.stdout.write(sys.stdin.read())
    sys.stdout.flush()
    os._exit(0)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))'
else
    echo "skipped: python3 is missing"
fi
if command -v node >/dev/null; then
    same "node: execSync with inherited stdin" 'hi\n' node -e '
require("child_process").execSync("cat", { stdio: "inherit" })'
    same "node: execSync with stdin passed on" 'hi\n' node -e '
process.stdout.write(require("child_process").execSync("cat", { stdio: ["inherit", "pipe", "inherit"] }))'
else
    echo "skipped: node is missing"
fi
echo "$cases cases, $failures differ"
[ "$failures" -eq 0 ]
