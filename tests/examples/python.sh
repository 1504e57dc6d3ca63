#!/bin/bash
# examples/python: the asyncio server's planted time.sleep, file read and pbkdf2_hmac fail
# the check its README shows; the fixed twin, which moves them off the loop, passes it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless python3

RULES="--forbid file,sleep --max-stall 100ms"
# shellcheck disable=SC2086
serve blocking 1 "/motd /status /login /login" $RULES -- python3 "$EXAMPLES/python/blocking.py" 0 &&
    {
        # Which frames have names depends on the build of Python (Debian's is stripped), so
        # the stalls are recognised by what they were blocked in and by OpenSSL's frames.
        expect blocking '^FAILED forbid: (open(64)?|read)\(\) '
        expect blocking '^    on /etc/os-release$'
        expect blocking '^FAILED forbid: (clock_nanosleep|nanosleep)\(\) .* 1 sleep call'
        expect blocking '^FAILED max-stall: stall of 1[0-9][0-9]ms in .*, blocked in (clock_)?nanosleep\(\)'
        expect_report blocking '^ +PKCS5_PBKDF2_HMAC +libcrypto'
    }
# shellcheck disable=SC2086
serve fixed 0 "/motd /status /login /login" $RULES -- python3 "$EXAMPLES/python/fixed.py" 0 &&
    expect fixed '^result: passed'

[ "$failures" -eq 0 ]
