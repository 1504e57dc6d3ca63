#!/bin/bash
# examples/libuv: the planted synchronous uv_fs_* calls (no callback) fail the check its
# README shows; the fixed twin, which gives them callbacks, passes it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless cc
if ! pkg-config --exists libuv; then
    echo "SKIP: libuv1-dev not installed"
    exit 77
fi

for twin in blocking fixed; do
    cc -std=gnu11 -Wall -Wextra -Werror -O2 -g -o "$tmp/$twin" \
        "$EXAMPLES/libuv/$twin.c" $(pkg-config --cflags --libs libuv) || exit 99
done

RULES="--forbid file"
# shellcheck disable=SC2086
serve blocking 1 "/ / /" $RULES -- "$tmp/blocking" 0 && {
    expect blocking '^FAILED forbid: open(64)?\(\) in serve_file: 3 file calls'
    expect blocking '^FAILED forbid: pread(64)?\(\) in serve_file: 3 file calls'
}
# shellcheck disable=SC2086
serve fixed 0 "/ / /" $RULES -- "$tmp/fixed" 0 && expect fixed '^result: passed'

[ "$failures" -eq 0 ]
