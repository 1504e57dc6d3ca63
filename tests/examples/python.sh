#!/bin/bash
# examples/python: the asyncio server's planted time.sleep, file read and pbkdf2_hmac fail
# the check its README shows; the fixed twin, which moves them off the loop, passes it.
. "$(dirname "$0")/lib.sh"
skip_unless python3

RULES="--forbid file,sleep --max-stall 100ms"
# shellcheck disable=SC2086
serve blocking 1 "/motd /status /login /login" $RULES -- python3 "$EXAMPLES/python/blocking.py" 0 &&
    {
        expect blocking '^FAILED forbid: read\(\) '
        expect blocking '^FAILED forbid: (clock_nanosleep|nanosleep|sleep)\(\) '
        expect blocking '^FAILED max-stall: .* in pbkdf2_hmac '
    }
# shellcheck disable=SC2086
serve fixed 0 "/motd /status /login /login" $RULES -- python3 "$EXAMPLES/python/fixed.py" 0 &&
    expect fixed '^result: passed'

[ "$failures" -eq 0 ]
