#!/bin/bash
# examples/node: `npm test` (the fixed server under `stallscope run --check`) passes;
# `npm run test:blocking` fails on the planted readFileSync, gzipSync and pbkdf2Sync, as its
# README shows; and blocking.js run as a server under stallscope fails the same rules.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless node

cp -r "$EXAMPLES/node" "$tmp/node" || exit 99
export PATH="$SS_BUILDDIR:$PATH" NPM_CONFIG_UPDATE_NOTIFIER=false

# npm_run NAME WANT SCRIPT: runs a script of package.json (without npm when it is missing),
# its output through pipes as in a CI job.
npm_run() {
    if command -v npm >/dev/null 2>&1; then
        start_piped "$1" sh -c 'cd "$1" && exec npm run --silent "$2" </dev/null' _ \
            "$tmp/node" "$3"
    else
        start_piped "$1" sh -c 'cd "$1" && exec sh -c "$(node -p "require(\"./package.json\").scripts[\"$2\"]")" </dev/null' _ "$tmp/node" "$3"
    fi
    finish_piped
    got=$?
    forget_jit_maps "$tmp/node" # the next run empties the run directory
    if [ "$got" -ne "$2" ]; then
        fail "$1: npm run $3 exited with $got, want $2"
        sed 's/^/    /' "$tmp/$1.out" "$tmp/$1.err"
        return 1
    fi
    echo "ok: $1: status $got"
}

npm_run test 0 test && expect test '^result: passed'
npm_run test-blocking 1 test:blocking && {
    expect test-blocking '^FAILED max-stall: .* in report'
    expect test-blocking '^FAILED max-stall: .* in login'
    expect test-blocking '^FAILED forbid: (open(64)?|read)\(\) in report'
}

serve server 1 "/report /login" --rules "$EXAMPLES/node/stallscope.rules" -- \
    node "$EXAMPLES/node/blocking.js" 0 && {
    expect server '^FAILED max-stall: .* in report'
    expect server '^FAILED max-stall: .* in login'
}

[ "$failures" -eq 0 ]
