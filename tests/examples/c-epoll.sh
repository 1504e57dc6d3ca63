#!/bin/bash
# examples/c-epoll: the planted file read and name lookup on the loop fail the check its
# README shows; the fixed twin, which does both on a worker thread, passes it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless cc

for twin in blocking fixed; do
    cc -std=gnu11 -Wall -Wextra -Werror -O2 -g -pthread -o "$tmp/$twin" \
        "$EXAMPLES/c-epoll/$twin.c" || exit 99
done

RULES="--forbid file,dns"
# shellcheck disable=SC2086
serve blocking 1 "/ / /" $RULES -- "$tmp/blocking" 0 && {
    expect blocking '^FAILED forbid: read\(\) in load_greeting: 3 file calls'
    expect blocking '^FAILED forbid: open\(\) in load_greeting'
    expect blocking '^FAILED forbid: getaddrinfo\(\) in resolve_backend: 3 dns calls'
}
# shellcheck disable=SC2086
serve fixed 0 "/ / /" $RULES -- "$tmp/fixed" 0 && expect fixed '^result: passed'

[ "$failures" -eq 0 ]
