# Shared by the suites' run.sh scripts. Sourced, not run.
# The caller (tests/conformance/run) sets:
#   PASS_SHIM      "with" to run under stallscope, "without" to run plainly
#   PASS_OPTIONS   options for `stallscope run` in a pass with the shim
#   STALLSCOPE     the stallscope binary under test
#   PY             Debian's python3.11, which also parses the results
CONFORMANCE_DIR=$(cd "$(dirname "$0")/.." && pwd)

# boxed SECONDS TRACE_DIR COMMAND [ARGS...]: runs COMMAND as this pass runs its suite, with
# the shim (traces in TRACE_DIR, no summary) or without, and ends it with everything it
# started once it ends or after SECONDS (status 124, as timeout(1)).
boxed() {
    seconds=$1 trace_dir=$2
    shift 2
    if [ "$PASS_SHIM" = with ]; then
        # shellcheck disable=SC2086
        "$PY" "$CONFORMANCE_DIR/timebox.py" "$seconds" \
            "$STALLSCOPE" run -q -o "$trace_dir" $PASS_OPTIONS -- "$@"
    else
        "$PY" "$CONFORMANCE_DIR/timebox.py" "$seconds" "$@"
    fi
}

# result ID RESULT LOG: one line of the suite's results file.
result() {
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$OUT/results"
}

# digest FILE: a short digest of FILE's bytes, to compare outputs in a results file.
digest() {
    md5sum <"$1" | cut -c1-12
}

# host_stderr_digest FILE: the digest of what the program wrote to its stderr, FILE less the
# lines `stallscope run` writes there itself, which all begin "stallscope: " (such as its
# warning that /tmp held a perf map of an earlier process with the same pid). The gate
# compares the program's behaviour, not run's own messages; both passes are read alike.
host_stderr_digest() {
    grep -v '^stallscope: ' "$1" | md5sum | cut -c1-12
}
